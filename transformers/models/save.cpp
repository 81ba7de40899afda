#include "transformers/models/save.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "transformers/io/safetensors.h"
#include "transformers/loading/conversion_mapping.h"
#include "transformers/loading/conversion_plan.h"
#include "transformers/models/registry.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {
void write_json(const std::filesystem::path& path, const Json& j) {
  std::ofstream out(path);
  TCPP_CHECK(out.good(), IoError, path.string(), ": cannot open for writing");
  out << j.dump(2) << "\n";
}

// Collects converted tensors and writes a shard whenever the next one would overflow it, so
// converted copies never exceed one shard. Shards get temporary names until their count is known.
class ShardWriter {
 public:
  ShardWriter(std::filesystem::path dir, uint64_t max_bytes) : dir_(std::move(dir)), max_(max_bytes) {}

  void add(const std::string& name, Tensor t) {
    TCPP_CHECK(names_.insert(name).second, ValueError, "save_pretrained: two tensors named '", name, "'");
    if (!pending_.empty() && pending_bytes_ + t.nbytes() > max_) flush();
    pending_bytes_ += t.nbytes();
    total_ += t.nbytes();
    pending_.emplace_back(name, std::move(t));
  }

  void finish() {
    if (!pending_.empty() || shards_.empty()) flush();
    if (shards_.size() == 1) {
      std::filesystem::rename(shards_[0].path, dir_ / "model.safetensors");
      return;
    }
    Json index;
    index["metadata"] = {{"total_size", total_}};
    index["weight_map"] = Json::object();
    for (size_t i = 0; i < shards_.size(); ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards_.size());
      std::filesystem::rename(shards_[i].path, dir_ / name);
      for (const auto& t : shards_[i].tensors) index["weight_map"][t] = name;
    }
    write_json(dir_ / "model.safetensors.index.json", index);
  }

 private:
  struct Shard {
    std::filesystem::path path;
    std::vector<std::string> tensors;
  };
  void flush() {
    Shard shard{dir_ / detail::concat(".shard-", shards_.size(), ".tmp"), {}};
    save_safetensors(shard.path, pending_, {{"format", "pt"}});
    for (const auto& [n, t] : pending_) shard.tensors.push_back(n);
    shards_.push_back(std::move(shard));
    pending_.clear();
    pending_bytes_ = 0;
  }
  std::filesystem::path dir_;
  uint64_t max_;
  std::vector<std::pair<std::string, Tensor>> pending_;
  uint64_t pending_bytes_ = 0, total_ = 0;
  std::vector<Shard> shards_;
  std::set<std::string> names_;
};

void remove_stale_weights(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    const bool weights = n == "model.safetensors" || n == "model.safetensors.index.json" ||
                         (n.rfind("model-", 0) == 0 && n.size() > 12 && n.substr(n.size() - 12) == ".safetensors");
    if (weights) std::filesystem::remove(e.path());
  }
}

}  // namespace

uint64_t parse_shard_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw ValueError(detail::concat("shard size '", text, "' is not a number with a unit (e.g. 2GB)"));
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> units = {
      {"", 1},       {"B", 1},          {"KB", 1e3},       {"MB", 1e6},       {"GB", 1e9},
      {"TB", 1e12},  {"KIB", 1024.0},   {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
  auto it = units.find(unit);
  TCPP_CHECK(it != units.end() && value > 0, ValueError, "shard size '", text, "': expected a positive size like 2GB, 500MB or 1GiB");
  return static_cast<uint64_t>(value * it->second);
}

void save_pretrained(const CausalLM& model, const std::filesystem::path& dir, const SaveOptions& options) {
  std::filesystem::create_directories(dir);
  remove_stale_weights(dir);
  std::set<std::string> tied_targets;
  for (const auto& [target, source] : model.tied_weights()) tied_targets.insert(target);
  std::map<std::string, Tensor> state;
  for (const auto& p : model.named_parameters()) {
    if (tied_targets.count(p.name) || !p.tensor->defined()) continue;
    Tensor t = *p.tensor;
    if (p.stored_transposed) t = t.transpose(0, 1).contiguous();  // back to the checkpoint's [in, out]
    state.emplace(p.name, t);
  }
  // The reverse rules, last rule first (v5's revert_weight_conversion).
  std::vector<loading::WeightTransform> rules;
  if (options.save_original_format) {
    const auto forward = options.conversions ? *options.conversions : loading::conversion_mapping(model.config().model_type);
    for (auto it = forward.rbegin(); it != forward.rend(); ++it) rules.push_back(it->reversed());
  }
  loading::PlanOptions po;
  po.reverse = true;
  po.base_model_prefix.clear();
  std::vector<std::string> names;
  for (const auto& [n, t] : state) names.push_back(n);
  const loading::ConversionPlan plan = loading::plan_conversion(names, rules, po);
  auto fetch = [&](const std::string& key) { return state.at(key); };
  const DType want = options.dtype ? *options.dtype : model.dtype;
  ShardWriter writer(dir, options.max_shard_size);
  for (const auto& item : plan.items) {
    for (auto& [name, t] : loading::materialize(item, rules, po, fetch, &model.config()))
      writer.add(name, is_floating(t.dtype()) && t.dtype() != want ? ops::cast(t, want) : t);
  }
  writer.finish();

  Json config = options.v4_config ? model.config().raw : model.config().to_json();
  if (options.v4_config) config["torch_dtype"] = std::string(dtype_torch_name(want));
  else config["dtype"] = std::string(dtype_torch_name(want));
  write_json(dir / "config.json", config);
  const GenerationConfig& g = model.generation_config;
  // The file as read plus any field changed since (GenerationConfig::to_json).
  if (Json generation = g.to_json(); !generation.empty()) write_json(dir / "generation_config.json", generation);
}

std::unique_ptr<CausalLM> make_random_model(const PretrainedConfig& config, uint64_t seed, double std, DType dtype) {
  std::unique_ptr<CausalLM> model = find_model(config).causal_lm(config);
  model->dtype = dtype;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(std));
  std::map<std::string, bool> tied_targets;
  for (const auto& [target, source] : model->tied_weights()) tied_targets[target] = true;
  for (const auto& p : model->named_parameters()) {
    if (tied_targets.count(p.name)) continue;
    Tensor t = Tensor::empty(p.shape, DType::F32);
    const bool is_norm = p.role == nn::ParamRole::Vector && p.name.find("norm") != std::string::npos;
    for (int64_t i = 0; i < t.numel(); ++i) {
      float v = normal(rng);
      t.data<float>()[i] = p.role == nn::ParamRole::Matrix ? v : (is_norm ? 1.0f + v * 0.1f : v * 0.1f);
    }
    *p.tensor = (p.role == nn::ParamRole::Matrix && dtype != DType::F32) ? ops::cast(t, dtype) : t;
  }
  for (const auto& [target, source] : model->tied_weights()) {
    Tensor* src = nullptr;
    Tensor* dst = nullptr;
    for (const auto& p : model->named_parameters()) {
      if (p.name == source) src = p.tensor;
      if (p.name == target) dst = p.tensor;
    }
    if (src && dst) *dst = *src;
  }
  return model;
}

}  // namespace transformers
