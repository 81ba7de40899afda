#include "transformers/models/save.h"

#include <fstream>
#include <map>
#include <random>

#include "transformers/io/safetensors.h"
#include "transformers/models/registry.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {
void write_json(const std::filesystem::path& path, const Json& j) {
  std::ofstream out(path);
  TCPP_CHECK(out.good(), IoError, path.string(), ": cannot open for writing");
  out << j.dump(2) << "\n";
}
}  // namespace

void save_pretrained(const CausalLM& model, const std::filesystem::path& dir, const SaveOptions& options) {
  std::filesystem::create_directories(dir);
  std::map<std::string, bool> tied_targets;
  for (const auto& [target, source] : model.tied_weights()) tied_targets[target] = true;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& p : model.named_parameters()) {
    if (tied_targets.count(p.name) || !p.tensor->defined()) continue;
    Tensor t = *p.tensor;
    DType want = options.dtype ? *options.dtype : (p.role == nn::ParamRole::Matrix ? model.dtype : model.dtype);
    if (t.dtype() != want) t = ops::cast(t, want);
    tensors.emplace_back(p.name, t);
  }
  save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  const DType saved = options.dtype ? *options.dtype : model.dtype;
  Json config = options.v4_config ? model.config().raw : model.config().to_json();
  if (options.v4_config) config["torch_dtype"] = std::string(dtype_torch_name(saved));
  else config["dtype"] = std::string(dtype_torch_name(saved));
  write_json(dir / "config.json", config);
  const GenerationConfig& g = model.generation_config;
  if (!g.raw.empty()) write_json(dir / "generation_config.json", g.raw);
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
