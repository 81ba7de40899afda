// Tiny random decoder models for the generation tests (models/save.h make_random_model).
#pragma once

#include <random>
#include <string>
#include <vector>

#include "transformers/models/save.h"

namespace transformers::testing {

inline std::unique_ptr<CausalLM> tiny_model(int64_t vocab = 97, uint64_t seed = 11, const Json& overrides = Json::object()) {
  Json c = {{"model_type", "llama"}, {"vocab_size", vocab}, {"hidden_size", 48}, {"intermediate_size", 80},
            {"num_hidden_layers", 2}, {"num_attention_heads", 6}, {"num_key_value_heads", 2}, {"head_dim", 8},
            {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 64}, {"rope_theta", 10000.0}};
  c.update(overrides);
  // std 0.3: peaked enough next-token distributions that greedy paths are not near-ties.
  return make_random_model(PretrainedConfig::from_json(c), seed, 0.3);
}

// A decoder family of the per-architecture tests: its name and the config keys it needs over the
// shared tiny shape.
struct TinyArch {
  std::string name;
  Json overrides;
};

// Every decoder family the registry builds, at a tiny size; `with_moe` adds the mixture-of-experts
// families.
inline std::vector<TinyArch> tiny_architectures(bool with_moe) {
  std::vector<TinyArch> archs = {
      {"llama", {{"model_type", "llama"}}},
      {"mistral_window", {{"model_type", "mistral"}, {"sliding_window", 4}}},
      {"qwen2", {{"model_type", "qwen2"}}},
      {"qwen3", {{"model_type", "qwen3"}}}};
  if (with_moe)
    archs.insert(archs.end(),
                 {{"qwen2_moe", {{"model_type", "qwen2_moe"}, {"moe_intermediate_size", 24}, {"shared_expert_intermediate_size", 36}, {"num_experts", 6}, {"num_experts_per_tok", 3}, {"mlp_only_layers", {1}}}},
                  {"qwen3_moe", {{"model_type", "qwen3_moe"}, {"moe_intermediate_size", 24}, {"num_experts", 4}, {"num_experts_per_tok", 2}}},
                  {"mixtral", {{"model_type", "mixtral"}, {"num_local_experts", 4}, {"num_experts_per_tok", 2}}}});
  archs.insert(archs.end(),
               {{"gemma", {{"model_type", "gemma"}}},
                {"gemma2", {{"model_type", "gemma2"}, {"sliding_window", 4}, {"query_pre_attn_scalar", 16}, {"attn_logit_softcapping", 5.0}, {"final_logit_softcapping", 3.0}}},
                {"gemma3", {{"model_type", "gemma3_text"}, {"sliding_window", 4}, {"sliding_window_pattern", 2}, {"rope_local_base_freq", 100.0}}},
                {"phi3", {{"model_type", "phi3"}}},
                {"gpt2", {{"model_type", "gpt2"}, {"n_embd", 48}, {"n_layer", 3}, {"n_head", 6}}},
                {"olmo2", {{"model_type", "olmo2"}}},
                {"starcoder2", {{"model_type", "starcoder2"}, {"sliding_window", 5}}},
                {"cohere", {{"model_type", "cohere"}, {"use_qk_norm", true}}},
                {"phi", {{"model_type", "phi"}, {"partial_rotary_factor", 0.5}}}});
  return archs;
}

// The tiny model of `arch` (3 layers, vocabulary 61) with room for `max_positions` positions.
inline std::unique_ptr<CausalLM> tiny_arch_model(const TinyArch& arch, int64_t max_positions) {
  Json c = {{"vocab_size", 61}, {"hidden_size", 48}, {"intermediate_size", 80}, {"num_hidden_layers", 3},
            {"num_attention_heads", 6}, {"num_key_value_heads", 2}, {"head_dim", 8}, {"rms_norm_eps", 1e-5},
            {"max_position_embeddings", max_positions}, {"rope_theta", 10000.0}};
  if (arch.overrides.value("model_type", "") == "gpt2") c["n_positions"] = max_positions;  // GPT-2's name for it
  c.update(arch.overrides);
  return make_random_model(PretrainedConfig::from_json(c), 17, 0.3);
}

inline Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_values(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

inline std::vector<std::vector<int64_t>> random_rows(int64_t B, int64_t L, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int64_t>> rows(B);
  for (auto& r : rows)
    for (int64_t i = 0; i < L; ++i) r.push_back(static_cast<int64_t>(rng() % vocab));
  return rows;
}

}  // namespace transformers::testing
