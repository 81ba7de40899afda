// Hand-checked properties of the architectures without reference outputs (and of parts the
// golden files cover only in combination): embedding scale, learned positions, logit scale and
// softcap, interleaved rope computed by hand, and save -> load round trips (GPT-2's transposed
// Conv1D weights among them).
#include <cmath>
#include <fstream>

#include "common/test_util.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/nn/attention.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::max_abs_diff;

Json tiny(const std::string& arch) {
  Json c = {{"model_type", arch}, {"vocab_size", 97}, {"hidden_size", 48}, {"intermediate_size", 80},
            {"num_hidden_layers", 2}, {"num_attention_heads", 6}, {"num_key_value_heads", 2}, {"head_dim", 8},
            {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 256}, {"rope_theta", 10000.0}};
  if (arch == "gpt2") c.update(Json{{"n_embd", 48}, {"n_layer", 2}, {"n_head", 6}, {"n_positions", 64}});
  return c;
}

const Tensor& param(const nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters())
    if (p.name == name) return *p.tensor;
  throw ValueError("no parameter " + name);
}

Tensor ids(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_values(v, {1, n});
}

// model.to(device) walks the named parameters: to the CPU nothing moves (the same storage, so
// mmapped weights stay mapped); another device is refused by name before any parameter changes.
TEST(Architectures, ModuleToDeviceWalksTheParameters) {
  auto model = make_random_model(PretrainedConfig::from_json(tiny("llama")), 1, 0.15);
  std::vector<const void*> before;
  for (const auto& p : model->named_parameters()) before.push_back(p.tensor->raw_data());
  model->to(Device::CPU);
  size_t i = 0;
  for (const auto& p : model->named_parameters()) {
    EXPECT_EQ(p.tensor->device(), Device::CPU) << p.name;
    EXPECT_EQ(p.tensor->raw_data(), before[i++]) << p.name;
  }
  try {
    model->to(Device::CUDA);
    ADD_FAILURE() << "to(cuda) should fail";
  } catch (const NotImplementedError& e) {
    EXPECT_NE(std::string(e.what()).find("model.to: device 'cuda'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(param(*model, "lm_head.weight").raw_data(), before.back());
}

TEST(Architectures, GemmaScalesEmbeddingsBySqrtHidden) {
  auto model = make_random_model(PretrainedConfig::from_json(tiny("gemma")), 1, 0.15);
  auto out = model->forward(ids({5, 9}), {.output_hidden_states = true});
  const Tensor& E = param(*model, "model.embed_tokens.weight");
  const float scale = std::sqrt(48.0f);
  for (int64_t j = 0; j < 48; ++j) {
    EXPECT_NEAR(out.hidden_states[0].data<float>()[j], E.data<float>()[5 * 48 + j] * scale, 1e-5);
    EXPECT_NEAR(out.hidden_states[0].data<float>()[48 + j], E.data<float>()[9 * 48 + j] * scale, 1e-5);
  }
}

// In a bf16 model Transformers multiplies by sqrt(hidden) as a bf16 tensor: sqrt(48) = 6.928
// becomes 6.9375 (the nearest bf16).
TEST(Architectures, GemmaEmbeddingScaleIsRoundedToTheModelDtype) {
  auto model = make_random_model(PretrainedConfig::from_json(tiny("gemma")), 1, 0.15, DType::BF16);
  auto out = model->forward(ids({5}), {.output_hidden_states = true});
  Tensor E = ops::cast(param(*model, "model.embed_tokens.weight"), DType::F32);
  for (int64_t j = 0; j < 48; ++j) EXPECT_EQ(out.hidden_states[0].data<float>()[j], E.data<float>()[5 * 48 + j] * 6.9375f);
}

TEST(Architectures, Gpt2AddsLearnedPositions) {
  auto model = make_random_model(PretrainedConfig::from_json(tiny("gpt2")), 2, 0.15);
  auto out = model->forward(ids({7, 7, 3}), {.output_hidden_states = true});
  const Tensor& wte = param(*model, "transformer.wte.weight");
  const Tensor& wpe = param(*model, "transformer.wpe.weight");
  const int64_t tok[3] = {7, 7, 3};
  for (int64_t l = 0; l < 3; ++l)
    for (int64_t j = 0; j < 48; ++j)
      EXPECT_NEAR(out.hidden_states[0].data<float>()[l * 48 + j], wte.data<float>()[tok[l] * 48 + j] + wpe.data<float>()[l * 48 + j],
                  1e-6);
  // Positions past n_positions have no embedding: a clear error, not a read out of bounds.
  std::vector<int64_t> long_ids(65, 1);
  try {
    model->forward(ids(long_ids));
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("position 64 is outside the 64 learned positions"), std::string::npos) << e.what();
  }
}

TEST(Architectures, Gemma2SoftcapsFinalLogits) {
  Json c = tiny("gemma2");
  c["final_logit_softcapping"] = 0.5;
  auto capped = make_random_model(PretrainedConfig::from_json(c), 3, 0.5);
  c["final_logit_softcapping"] = nullptr;
  auto raw = make_random_model(PretrainedConfig::from_json(c), 3, 0.5);
  Tensor a = capped->forward(ids({1, 2, 3})).logits, b = raw->forward(ids({1, 2, 3})).logits;
  ASSERT_GT(testing::max_abs(b), 0.5f) << "the test needs logits beyond the cap";
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], 0.5f * std::tanh(b.data<float>()[i] / 0.5f), 1e-5);
}

TEST(Architectures, CohereMultipliesLogitsByLogitScale) {
  Json c = tiny("cohere");
  c["logit_scale"] = 1.0;
  auto one = make_random_model(PretrainedConfig::from_json(c), 4, 0.15);
  c["logit_scale"] = 0.25;
  auto quarter = make_random_model(PretrainedConfig::from_json(c), 4, 0.15);
  Tensor a = one->forward(ids({4, 5})).logits, b = quarter->forward(ids({4, 5})).logits;
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(b.data<float>()[i], 0.25f * a.data<float>()[i], 1e-6);
}

// One head of size 4, identity projections: the score of query 1 against key 0 is
// rot(x1, 1) · rot(x0, 0) with Cohere's rotation of the pairs (x0, x1) and (x2, x3).
TEST(Architectures, InterleavedRopeRotatesAdjacentPairs) {
  nn::AttentionConfig ac;
  ac.hidden_size = ac.head_dim = 4;
  ac.num_heads = ac.num_kv_heads = 1;
  ac.rope_interleaved = true;
  nn::Attention attn(ac);
  Tensor I = Tensor::zeros({4, 4}, DType::F32);
  for (int i = 0; i < 4; ++i) I.data<float>()[i * 5] = 1.0f;
  attn.q_proj->weight = attn.k_proj->weight = attn.v_proj->weight = attn.o_proj.weight = I;
  const float x0[4] = {0.3f, -1.2f, 0.8f, 0.5f}, x1[4] = {1.1f, 0.4f, -0.7f, 0.9f};
  Tensor x = Tensor::from_values(std::vector<float>{x0[0], x0[1], x0[2], x0[3], x1[0], x1[1], x1[2], x1[3]}, {1, 2, 4});
  const float f[2] = {1.0f, 0.01f};  // theta 10000, dim 4
  // cos/sin in the half-split table layout the decoder passes: [c0, c1, c0, c1].
  Tensor cos = Tensor::empty({1, 2, 4}, DType::F32), sin = Tensor::empty({1, 2, 4}, DType::F32);
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i < 2; ++i) {
      cos.data<float>()[p * 4 + i] = cos.data<float>()[p * 4 + i + 2] = std::cos(p * f[i]);
      sin.data<float>()[p * 4 + i] = sin.data<float>()[p * 4 + i + 2] = std::sin(p * f[i]);
    }
  nn::AttentionInputs in;
  in.cos = &cos;
  in.sin = &sin;
  Tensor out = attn.forward(x, in, nullptr);
  auto rot = [&](const float* v, int p, float* r) {
    for (int i = 0; i < 2; ++i) {
      const float c = std::cos(p * f[i]), s = std::sin(p * f[i]);
      r[2 * i] = v[2 * i] * c - v[2 * i + 1] * s;
      r[2 * i + 1] = v[2 * i + 1] * c + v[2 * i] * s;
    }
  };
  float q1[4], k0[4], k1[4];
  rot(x1, 1, q1);
  rot(x0, 0, k0);
  rot(x1, 1, k1);
  double s0 = 0, s1 = 0;
  for (int i = 0; i < 4; ++i) {
    s0 += q1[i] * k0[i] / 2.0;  // scale 4^-0.5
    s1 += q1[i] * k1[i] / 2.0;
  }
  const double w0 = 1.0 / (1.0 + std::exp(s1 - s0)), w1 = 1.0 - w0;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out.data<float>()[4 + i], w0 * x0[i] + w1 * x1[i], 1e-5) << i;
}

// Gemma3 written the v5 way (layer_types, rope_parameters per layer type) is the model its v4
// config describes (sliding_window_pattern, rope_local_base_freq, rope_scaling on global layers).
TEST(Architectures, Gemma3V5ConfigEqualsV4Config) {
  Json v4 = tiny("gemma3_text");
  v4.update(Json{{"sliding_window", 3}, {"sliding_window_pattern", 2}, {"rope_theta", 50000.0},
                 {"rope_local_base_freq", 100.0}, {"rope_scaling", {{"rope_type", "linear"}, {"factor", 4.0}}},
                 {"query_pre_attn_scalar", 8}});
  auto model = make_random_model(PretrainedConfig::from_json(v4), 21, 0.15);
  auto dir = testing::scratch_dir("gemma3_v5");
  save_pretrained(*model, dir / "v4", {.v4_config = true});
  save_pretrained(*model, dir / "v5", {.v4_config = true});
  Json v5 = v4;
  for (const char* k : {"sliding_window_pattern", "rope_theta", "rope_local_base_freq", "rope_scaling"}) v5.erase(k);
  v5["layer_types"] = {"sliding_attention", "full_attention"};
  v5["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 50000.0}}},
                           {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 100.0}}}};
  std::ofstream(dir / "v5" / "config.json") << v5.dump(2);
  Tensor x = ids({3, 1, 4, 1, 5, 9, 2, 6});
  Tensor a = AutoModelForCausalLM::from_pretrained(dir / "v4")->forward(x).logits;
  Tensor b = AutoModelForCausalLM::from_pretrained(dir / "v5")->forward(x).logits;
  EXPECT_EQ(max_abs_diff(a, b), 0.0f);
  // The local theta is used: another one changes the logits.
  v5["rope_parameters"]["sliding_attention"]["rope_theta"] = 10000.0;
  std::ofstream(dir / "v5" / "config.json") << v5.dump(2);
  EXPECT_GT(max_abs_diff(a, AutoModelForCausalLM::from_pretrained(dir / "v5")->forward(x).logits), 1e-4f);
}

// Hub GPT-2 checkpoints (openai-community/gpt2) are GPT2Model's: keys without "transformer.",
// no lm_head, and the causal-mask buffers "h.N.attn.bias" older exports carry.
TEST(Architectures, Gpt2LoadsBareBaseModelCheckpoints) {
  auto model = make_random_model(PretrainedConfig::from_json(tiny("gpt2")), 23, 0.15);
  auto dir = testing::scratch_dir("gpt2_bare");
  save_pretrained(*model, dir / "full");
  std::filesystem::create_directories(dir / "bare");
  std::filesystem::copy_file(dir / "full" / "config.json", dir / "bare" / "config.json");
  SafetensorsCheckpoint ck = SafetensorsCheckpoint::open(dir / "full");
  std::vector<std::pair<std::string, Tensor>> bare;
  for (const auto& name : ck.names()) {
    ASSERT_EQ(name.rfind("transformer.", 0), 0u) << name;
    bare.emplace_back(name.substr(12), ck.tensor(name));
  }
  bare.emplace_back("h.0.attn.bias", Tensor::zeros({1, 1, 4, 4}, DType::F32));
  save_safetensors(dir / "bare" / "model.safetensors", bare, {{"format", "pt"}});
  Tensor x = ids({3, 1, 4, 1, 5});
  EXPECT_EQ(max_abs_diff(model->forward(x).logits, AutoModelForCausalLM::from_pretrained(dir / "bare")->forward(x).logits),
            0.0f);
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, SaveThenLoadGivesTheSameLogits) {
  Json c = tiny(GetParam());
  if (GetParam() == "cohere") c["use_qk_norm"] = true;
  if (GetParam() == "phi") c["qk_layernorm"] = true;
  auto model = make_random_model(PretrainedConfig::from_json(c), 9, 0.15);
  auto dir = testing::scratch_dir("roundtrip_" + GetParam());
  save_pretrained(*model, dir);
  auto loaded = AutoModelForCausalLM::from_pretrained(dir, {.strict = true});
  Tensor x = ids({3, 1, 4, 1, 5});
  EXPECT_EQ(max_abs_diff(model->forward(x).logits, loaded->forward(x).logits), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Architectures, RoundTrip,
                         ::testing::Values("gemma", "gemma2", "gemma3_text", "phi3", "phi", "gpt2", "olmo2", "starcoder2",
                                           "cohere"));

}  // namespace
}  // namespace transformers
