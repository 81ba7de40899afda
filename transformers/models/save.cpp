#include "transformers/models/save.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "transformers/io/safetensors.h"
#include "transformers/loading/conversion_mapping.h"
#include "transformers/loading/conversion_plan.h"
#include "transformers/loading/bnb_serialized.h"
#include "transformers/loading/prequantized.h"
#include "transformers/loading/shard_writer.h"
#include "transformers/models/registry.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {
void write_json(const std::filesystem::path& path, const Json& j) { write_file_atomically(path, j.dump(2) + "\n"); }

// Removes the weight files of an earlier save that the new one did not write (a checkpoint
// re-sharded into fewer files). Runs after the new files are complete, so a failed save loses
// nothing; removing a link removes the link, never what it points to.
void remove_stale_weights(const std::filesystem::path& dir, const std::set<std::string>& written) {
  std::vector<std::filesystem::path> stale;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    const bool weights = n == "model.safetensors" || n == "model.safetensors.index.json" ||
                         (n.rfind("model-", 0) == 0 && n.size() > 12 && n.substr(n.size() - 12) == ".safetensors");
    if (weights && !written.count(n)) stale.push_back(e.path());
  }
  for (const auto& p : stale) std::filesystem::remove(p);
}

}  // namespace

uint64_t parse_byte_size(const std::string& text, const std::string& what) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw ValueError(detail::concat(what, " '", text, "' is not a number with a unit (e.g. 2GB)"));
  }
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::map<std::string, double> units = {
      {"", 1},       {"B", 1},          {"KB", 1e3},       {"MB", 1e6},       {"GB", 1e9},
      {"TB", 1e12},  {"KIB", 1024.0},   {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
  auto it = units.find(unit);
  TCPP_CHECK(it != units.end() && value > 0, ValueError, what, " '", text, "': expected a positive size like 2GB, 500MB or 1GiB");
  return static_cast<uint64_t>(value * it->second);
}

void save_pretrained(const CausalLM& model, const std::filesystem::path& dir,
                     const SaveOptions& options) {
  // A bitsandbytes config writes its matrices in bitsandbytes' layout (loading/bnb_serialized.h).
  const bool bnb = options.quantization_config && options.quantization_config->bitsandbytes;
  const DType bnb_dtype = bnb ? options.quantization_config->weight_dtype() : DType::F32;
  std::filesystem::create_directories(dir);
  std::set<std::string> tied_targets;
  for (const auto& [target, source] : model.tied_weights()) tied_targets.insert(target);
  std::map<std::string, Tensor> state;
  for (const auto& p : model.named_parameters()) {
    if (tied_targets.count(p.name) || !p.tensor->defined()) continue;
    Tensor t = *p.tensor;
    // Repacked GPTQ / AWQ / FP8 / MXFP4 matrices have no layout to go back to (and a
    // config.json that names their method would not load them): refused before any weight is written.
    TCPP_CHECK(!loading::is_repacked_dtype(t.dtype()), NotImplementedError, "save_pretrained: '", p.name, "' is ",
               dtype_safetensors_name(t.dtype()),
               ", repacked from a pre-quantized checkpoint; saving such a model is not supported");
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
  auto saved = [&](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != want ? ops::cast(t, want) : t; };
  // An output tensor, or the tensors bitsandbytes stores for it.
  size_t bnb_written = 0;
  auto outputs = [&](std::vector<std::pair<std::string, Tensor>> items) {
    if (!bnb) return items;
    std::vector<std::pair<std::string, Tensor>> out;
    for (auto& [name, t] : items) {
      if (t.dtype() != DType::NF4 && t.dtype() != DType::FP4 && t.dtype() != DType::LLM_INT8) {
        out.emplace_back(name, t);
        continue;
      }
      TCPP_CHECK(t.dtype() == bnb_dtype, ValueError, "save_pretrained: '", name, "' is ",
                 dtype_safetensors_name(t.dtype()), " but quantization_config (", options.quantization_config->label(),
                 ") stores ", dtype_safetensors_name(bnb_dtype));
      ++bnb_written;
      for (auto& item : loading::bnb_serialized_tensors(name, t, std::string(dtype_torch_name(want))))
        out.push_back(std::move(item));
    }
    return out;
  };
  // Two passes over the plan: the first learns every output's name, dtype and shape (which fixes
  // the shard headers and the index), the second converts again and streams the bytes out, so
  // at most one item's tensors are in memory. Converter ops are copies; doing them twice is
  // cheaper than holding a shard of converted tensors.
  std::vector<loading::PlannedTensor> planned;
  for (const auto& item : plan.items)
    for (const auto& [name, t] : outputs(loading::materialize(item, rules, po, fetch, &model.config())))
      planned.push_back({name, is_floating(t.dtype()) ? want : t.dtype(), t.shape()});
  // A bitsandbytes config over float matrices would make a folder that nobody reads back.
  TCPP_CHECK(!bnb || bnb_written > 0, NotImplementedError, "save_pretrained(", dir.string(),
             "): quantization_config is bitsandbytes (", options.quantization_config->label(),
             ") but no matrix is quantized so; load the model with that BitsAndBytesConfig first");
  loading::ShardedSafetensorsWriter writer(dir, std::move(planned), options.max_shard_size);
  size_t items_written = 0;
  for (const auto& item : plan.items) {
    for (const auto& [name, t] : outputs(loading::materialize(item, rules, po, fetch, &model.config())))
      writer.write(name, saved(t));
    if (options.on_progress) options.on_progress(++items_written, plan.items.size());
  }
  writer.finish();
  remove_stale_weights(dir, writer.written_files());

  Json config = options.v4_config ? model.config().raw : model.config().to_json();
  if (options.v4_config) config["torch_dtype"] = std::string(dtype_torch_name(want));
  else config["dtype"] = std::string(dtype_torch_name(want));
  if (options.quantization_config) config["quantization_config"] = options.quantization_config->to_json();
  write_json(dir / "config.json", config);
  const GenerationConfig& g = model.generation_config;
  // The file as read plus any field changed since (GenerationConfig::to_json).
  if (Json generation = g.to_json(); !generation.empty()) write_json(dir / "generation_config.json", generation);
}

std::unique_ptr<CausalLM> make_random_model(const PretrainedConfig& config, uint64_t seed, double std, DType dtype,
                                            const std::function<void(size_t, size_t)>& on_progress) {
  std::unique_ptr<CausalLM> model = find_model(config).causal_lm(config);
  model->dtype = dtype;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(std));
  std::map<std::string, bool> tied_targets;
  for (const auto& [target, source] : model->tied_weights()) tied_targets[target] = true;
  const auto parameters = model->named_parameters();
  size_t filled = 0;
  for (const auto& p : parameters) {
    if (on_progress) on_progress(filled++, parameters.size());  // before: the big ones take long
    if (tied_targets.count(p.name)) continue;
    const bool is_norm = p.role == nn::ParamRole::Vector && p.name.find("norm") != std::string::npos;
    std::vector<float> values(static_cast<size_t>(shape_numel(p.shape)));
    for (float& value : values) {
      float v = normal(rng);
      value = p.role == nn::ParamRole::Matrix ? v : (is_norm ? 1.0f + v * 0.1f : v * 0.1f);
    }
    const Tensor t = Tensor::from_values(values, p.shape);
    *p.tensor = (p.role == nn::ParamRole::Matrix && dtype != DType::F32) ? ops::cast(t, dtype) : t;
  }
  if (on_progress) on_progress(parameters.size(), parameters.size());
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
