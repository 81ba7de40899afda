// Properties that hold for any configuration, checked on tiny random models: the KV cache
// (including sliding-window layers that drop old tokens) gives the same logits as a full
// re-forward; v4- and v5-style configs load the same model; bf16 checkpoints stay mmapped and
// agree with f32 within bf16 rounding.
#include "common/test_util.h"
#include "transformers/generation/generate.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/models/registry.h"
#include "transformers/models/save.h"

namespace transformers {
namespace {

using testing::max_abs;
using testing::max_abs_diff;

Json tiny_config(const std::string& arch) {
  return {{"model_type", arch}, {"vocab_size", 97}, {"hidden_size", 48}, {"intermediate_size", 80},
          {"num_hidden_layers", 3}, {"num_attention_heads", 6}, {"num_key_value_heads", 2}, {"head_dim", 8},
          {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 256}, {"rope_theta", 10000.0}};
}

Tensor prompt(int64_t B, int64_t L, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty({B, L}, DType::I64);
  for (int64_t i = 0; i < B * L; ++i) t.data<int64_t>()[i] = static_cast<int64_t>(rng() % vocab);
  return t;
}

// Feeding the sequence one token at a time through the cache must reproduce the logits of one
// full forward pass at every position.
void expect_cache_matches_full_forward(const CausalLM& model, const Tensor& ids) {
  const int64_t L = ids.size(1);
  Tensor full = model.forward(ids).logits;
  auto cache = model.make_cache();
  for (int64_t t = 0; t < L; ++t) {
    Tensor step = ids.slice(1, t, t + 1).contiguous();
    Tensor logits = model.forward(step, {.cache = cache.get()}).logits;
    ASSERT_LE(max_abs_diff(logits, full.slice(1, t, t + 1)), 1e-4f) << "position " << t;
  }
}

struct CacheCase {
  std::string name;
  Json overrides;
};

class CacheInvariant : public ::testing::TestWithParam<CacheCase> {};

TEST_P(CacheInvariant, StepwiseCacheEqualsFullForward) {
  Json c = tiny_config(GetParam().overrides.value("model_type", "llama"));
  c.update(GetParam().overrides);
  auto model = make_random_model(PretrainedConfig::from_json(c), 7, 0.15);
  expect_cache_matches_full_forward(*model, prompt(2, 14, 97, 3));
  // A prompt chunk then single tokens: the prefill path and the decode path meet in the cache.
  Tensor ids = prompt(2, 14, 97, 4);
  Tensor full = model->forward(ids).logits;
  auto cache = model->make_cache();
  model->forward(ids.slice(1, 0, 9).contiguous(), {.cache = cache.get()});
  for (int64_t t = 9; t < 14; ++t) {
    Tensor logits = model->forward(ids.slice(1, t, t + 1).contiguous(), {.cache = cache.get()}).logits;
    EXPECT_LE(max_abs_diff(logits, full.slice(1, t, t + 1)), 1e-4f) << "position " << t;
  }
}

TEST_P(CacheInvariant, GreedyWithCacheEqualsWithout) {
  Json c = tiny_config(GetParam().overrides.value("model_type", "llama"));
  c.update(GetParam().overrides);
  auto model = make_random_model(PretrainedConfig::from_json(c), 11, 0.15);
  GenerationConfig g;
  g.max_new_tokens = 12;
  Tensor ids = prompt(2, 7, 97, 5);
  EXPECT_EQ(generate(*model, ids, g, {.use_cache = true}).sequences, generate(*model, ids, g, {.use_cache = false}).sequences);
}

// A static cache (preallocated; sliding layers rolled in place) gives the full forward's logits
// too, fed a prompt chunk and then single tokens past the sliding windows.
TEST_P(CacheInvariant, StaticCacheEqualsFullForward) {
  Json c = tiny_config(GetParam().overrides.value("model_type", "llama"));
  c.update(GetParam().overrides);
  auto model = make_random_model(PretrainedConfig::from_json(c), 17, 0.15);
  Tensor ids = prompt(2, 14, 97, 8);
  Tensor full = model->forward(ids).logits;
  auto cache = Cache::make_static(model->make_cache()->layer_windows(), 32);
  Tensor first = model->forward(ids.slice(1, 0, 6).contiguous(), {.cache = cache.get()}).logits;
  EXPECT_LE(max_abs_diff(first, full.slice(1, 0, 6)), 1e-4f);
  for (int64_t t = 6; t < 14; ++t) {
    Tensor logits = model->forward(ids.slice(1, t, t + 1).contiguous(), {.cache = cache.get()}).logits;
    EXPECT_LE(max_abs_diff(logits, full.slice(1, t, t + 1)), 1e-4f) << "position " << t;
  }
}

// A left-padded row with its attention mask and positions counted from the first real token
// (as generate derives them: cumsum(mask) - 1) gives the logits of the sequence alone.
TEST_P(CacheInvariant, LeftPaddedRowEqualsSequenceAlone) {
  Json c = tiny_config(GetParam().overrides.value("model_type", "llama"));
  c.update(GetParam().overrides);
  auto model = make_random_model(PretrainedConfig::from_json(c), 13, 0.15);
  const int64_t L = 9, pad = 3;
  Tensor ids = prompt(2, L, 97, 6);
  Tensor mask = Tensor::empty({2, L}, DType::I64), positions = Tensor::empty({2, L}, DType::I64);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t l = 0; l < L; ++l) {
      const bool real = b == 0 || l >= pad;
      mask.data<int64_t>()[b * L + l] = real;
      positions.data<int64_t>()[b * L + l] = b == 0 ? l : std::max<int64_t>(l - pad, 0);
      if (!real) ids.data<int64_t>()[b * L + l] = 0;
    }
  Tensor batch = model->forward(ids, {.attention_mask = &mask, .position_ids = &positions}).logits;
  Tensor alone = model->forward(ids.slice(0, 1, 2).slice(1, pad, L).contiguous()).logits;
  EXPECT_LE(max_abs_diff(alone, batch.slice(0, 1, 2).slice(1, pad, L)), 1e-4f);
  EXPECT_LE(max_abs_diff(model->forward(ids.slice(0, 0, 1).contiguous()).logits, batch.slice(0, 0, 1)), 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(
    Models, CacheInvariant,
    ::testing::Values(CacheCase{"llama_gqa3", {{"model_type", "llama"}}},
                      CacheCase{"llama_mha_bias", {{"model_type", "llama"}, {"num_key_value_heads", 6}, {"attention_bias", true}}},
                      CacheCase{"mistral_window4", {{"model_type", "mistral"}, {"sliding_window", 4}}},
                      CacheCase{"qwen2_window_layers", {{"model_type", "qwen2"}, {"sliding_window", 3}, {"use_sliding_window", true}, {"max_window_layers", 1}}},
                      CacheCase{"qwen3_tied", {{"model_type", "qwen3"}, {"tie_word_embeddings", true}}},
                      CacheCase{"llama3_rope", {{"model_type", "llama"}, {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 16}}}}},
                      CacheCase{"layer_types", {{"model_type", "llama"}, {"sliding_window", 5}, {"layer_types", {"sliding_attention", "full_attention", "sliding_attention"}}}},
                      CacheCase{"yarn_rope", {{"model_type", "llama"}, {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 16}}}}},
                      CacheCase{"partial_rotary", {{"model_type", "llama"}, {"partial_rotary_factor", 0.5}}},
                      CacheCase{"proportional_rope", {{"model_type", "llama"}, {"rope_parameters", {{"rope_type", "proportional"}, {"rope_theta", 1000.0}, {"partial_rotary_factor", 0.5}}}}},
                      CacheCase{"gemma", {{"model_type", "gemma"}}},
                      CacheCase{"gemma2_window_softcaps", {{"model_type", "gemma2"}, {"sliding_window", 4}, {"query_pre_attn_scalar", 16}, {"attn_logit_softcapping", 5.0}, {"final_logit_softcapping", 3.0}}},
                      CacheCase{"gemma3_local_global", {{"model_type", "gemma3_text"}, {"sliding_window", 4}, {"sliding_window_pattern", 2}, {"rope_local_base_freq", 100.0}, {"rope_scaling", {{"rope_type", "linear"}, {"factor", 4.0}}}}},
                      CacheCase{"phi3_fused_window", {{"model_type", "phi3"}, {"sliding_window", 5}}},
                      CacheCase{"gpt2", {{"model_type", "gpt2"}, {"n_embd", 48}, {"n_layer", 3}, {"n_head", 6}, {"n_positions", 64}}},
                      CacheCase{"phi3_longrope", {{"model_type", "phi3"}, {"original_max_position_embeddings", 64}, {"rope_scaling", {{"rope_type", "longrope"}, {"short_factor", {1.0, 1.5, 2.0, 3.0}}, {"long_factor", {2.0, 3.0, 4.0, 6.0}}}}}},
                      CacheCase{"olmo2_post_norms", {{"model_type", "olmo2"}}},
                      CacheCase{"starcoder2_window", {{"model_type", "starcoder2"}, {"sliding_window", 5}}},
                      CacheCase{"cohere_qk_norm", {{"model_type", "cohere"}, {"use_qk_norm", true}}},
                      CacheCase{"phi_partial_qk_layernorm", {{"model_type", "phi"}, {"partial_rotary_factor", 0.5}, {"qk_layernorm", true}}}),
    [](const auto& info) { return info.param.name; });

// A sliding window larger than nothing but smaller than the prompt changes the result: the
// window is really applied (guards against a test that cannot fail).
TEST(SlidingWindow, WindowChangesLogitsBeyondIt) {
  Json c = tiny_config("mistral");
  auto full = make_random_model(PretrainedConfig::from_json(c), 3, 0.15);
  c["sliding_window"] = 4;
  auto windowed = make_random_model(PretrainedConfig::from_json(c), 3, 0.15);
  Tensor ids = prompt(1, 10, 97, 9);
  Tensor a = full->forward(ids).logits, b = windowed->forward(ids).logits;
  EXPECT_LE(max_abs_diff(a.slice(1, 0, 4), b.slice(1, 0, 4)), 1e-6f);
  EXPECT_GT(max_abs_diff(a.slice(1, 4, 10), b.slice(1, 4, 10)), 1e-3f);
}

TEST(Config, V4AndV5KeysLoadTheSameModel) {
  auto dir = testing::scratch_dir("v4v5");
  Json v4 = tiny_config("llama");
  v4["rope_theta"] = 5000.0;
  v4["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  v4["torch_dtype"] = "float32";
  auto model = make_random_model(PretrainedConfig::from_json(v4), 5, 0.15);
  save_pretrained(*model, dir / "v4", {.v4_config = true});
  save_pretrained(*model, dir / "v5", {.v4_config = false});
  Json v5 = read_json_file(dir / "v5" / "config.json");
  EXPECT_FALSE(v5.contains("rope_theta"));
  EXPECT_EQ(v5["rope_parameters"]["rope_type"], "linear");
  EXPECT_EQ(v5["rope_parameters"]["rope_theta"], 5000.0);
  EXPECT_EQ(v5["dtype"], "float32");
  Tensor ids = prompt(1, 6, 97, 1);
  Tensor a = AutoModelForCausalLM::from_pretrained(dir / "v4")->forward(ids).logits;
  Tensor b = AutoModelForCausalLM::from_pretrained(dir / "v5")->forward(ids).logits;
  EXPECT_EQ(max_abs_diff(a, b), 0.0f);
  // The linear scaling is applied: without it the logits differ.
  v4.erase("rope_scaling");
  auto unscaled = make_random_model(PretrainedConfig::from_json(v4), 5, 0.15);
  EXPECT_GT(max_abs_diff(unscaled->forward(ids).logits, a), 1e-4f);
}

TEST(DType, Bf16CheckpointLoadsMappedAndMatchesF32) {
  auto dir = testing::scratch_dir("bf16");
  auto golden = testing::shared_path("golden/llama");
  auto f32 = AutoModelForCausalLM::from_pretrained(golden);
  save_pretrained(*f32, dir, {.dtype = DType::BF16, .v4_config = true});
  auto bf16 = AutoModelForCausalLM::from_pretrained(dir);  // dtype "auto" -> bfloat16
  EXPECT_EQ(bf16->dtype, DType::BF16);
  for (const auto& p : bf16->named_parameters()) {
    if (p.role != nn::ParamRole::Matrix) continue;
    EXPECT_EQ(p.tensor->dtype(), DType::BF16) << p.name;
    EXPECT_EQ(p.tensor->storage()->kind(), Storage::Kind::Mapped) << p.name << " was copied, not mmapped";
  }
  Tensor ids = load_npy(golden / "input_ids.npy");
  Tensor ref = f32->forward(ids).logits, got = bf16->forward(ids).logits;
  // bf16 keeps 8 bits of mantissa: ~0.4% per weight, a few percent of the logit scale overall.
  EXPECT_LE(max_abs_diff(ref, got), 0.05f * max_abs(ref));
  EXPECT_GT(max_abs_diff(ref, got), 0.0f);  // it really ran in bf16
  // An explicit dtype converts on load (f32 checkpoint -> bf16 matrices in memory).
  auto converted = AutoModelForCausalLM::from_pretrained(golden, {.dtype = "bfloat16"});
  EXPECT_EQ(converted->dtype, DType::BF16);
  EXPECT_LE(max_abs_diff(converted->forward(ids).logits, got), 1e-5f);
}

}  // namespace
}  // namespace transformers
