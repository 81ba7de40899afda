// Tiny random decoder models for the generation tests (models/save.h make_random_model).
#pragma once

#include <random>

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
