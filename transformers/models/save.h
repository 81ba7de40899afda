// save_pretrained for causal LMs, and random initialisation (for tiny test models and the
// README's demo model).
//
// Saving is loading run backwards (v5's revert_weight_conversion): the rules that mapped the
// checkpoint to the model are reversed (patterns swapped, ops reversed, order reversed) and run
// on the model's tensors, so a Mixtral loaded from per-expert keys is written with per-expert
// keys again. Tensors are written in shards of at most max_shard_size bytes with a
// model.safetensors.index.json, or one model.safetensors when they fit.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/loading/quantization.h"
#include "transformers/loading/weight_transform.h"
#include "transformers/models/causal_lm.h"

namespace transformers {

struct SaveOptions {
  std::optional<DType> dtype{};  // default: the model's dtype
  bool v4_config = false;      // config.json with v4 keys (rope_theta, torch_dtype) as read
  // v5's default is "50GB"; a tensor bigger than this gets a shard of its own.
  uint64_t max_shard_size = 50'000'000'000ull;
  // true: the checkpoint layout (reverse conversion); false: the fused runtime layout.
  bool save_original_format = true;
  // The rules to reverse: LoadReport::conversions of the load the model came from. Default:
  // the model_type's conversion table (what a model made in memory would have been loaded with).
  std::optional<std::vector<loading::WeightTransform>> conversions{};
  // Written to config.json as "quantization_config" (the model holds Q8_0 / Q4_0 matrices, which
  // are written as stored): loading the folder then keeps them quantized.
  std::optional<QuantizationConfig> quantization_config{};
  // Called after each group of tensors is written with (groups written, groups in all): a progress
  // display for long saves.
  std::function<void(size_t done, size_t total)> on_progress{};
};

// Writes config.json (v5 form unless `v4_config`), the weights (every parameter but tied
// targets) and generation_config.json. Stale model*.safetensors files and index in `dir` are
// removed first, so the folder never mixes two checkpoints.
void save_pretrained(const CausalLM& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// "2GB", "500MB", "1.5GiB", "100KB", "12345" -> bytes (GB = 10^9, GiB = 2^30, as Transformers).
// ValueError naming `what` (e.g. "--kv-cache-memory") for anything else.
uint64_t parse_byte_size(const std::string& text, const std::string& what);
inline uint64_t parse_shard_size(const std::string& text) { return parse_byte_size(text, "shard size"); }

// Builds the model a config describes and fills its parameters with random values: matrices
// ~ N(0, std), norm weights 1 + N(0, std/10), biases N(0, std/10), reproducibly from `seed`.
// `on_progress` hears (parameters filled, in all).
std::unique_ptr<CausalLM> make_random_model(const PretrainedConfig& config, uint64_t seed, double std = 0.02,
                                            DType dtype = DType::F32,
                                            const std::function<void(size_t done, size_t total)>& on_progress = {});

}  // namespace transformers
