// The fused-expert MoE block against a dense reference written out here: every expert computed
// for every token with plain loops, weighted by the renormalised (or not) top-k softmax. Covers
// what the golden files do not: Qwen2-MoE's shared expert with its sigmoid gate, un-normalised
// top-k, other expert counts, dense layers off the sparse grid.
#include <cmath>
#include <algorithm>
#include <numeric>
#include <random>

#include "common/test_util.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/nn/moe.h"

namespace transformers {
namespace {

using testing::max_abs_diff;

std::vector<float> matvec(const Tensor& w, const float* x) {  // w [N, K] f32
  const int64_t N = w.size(0), K = w.size(1);
  std::vector<float> y(static_cast<size_t>(N), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) y[n] += w.data<float>()[n * K + k] * x[k];
  return y;
}
float silu(float v) { return v / (1.0f + std::exp(-v)); }

// One token through one gated expert: down(silu(gate x) * up x).
std::vector<float> expert(const Tensor& gate, const Tensor& up, const Tensor& down, const float* x) {
  auto g = matvec(gate, x), u = matvec(up, x);
  for (size_t i = 0; i < g.size(); ++i) g[i] = silu(g[i]) * u[i];
  return matvec(down, g.data());
}

Tensor reference(const nn::SparseMoeBlock& b, const Tensor& x) {
  const auto& c = b.config();
  const int64_t H = c.hidden_size, I = c.intermediate_size, T = x.numel() / H;
  Tensor out = Tensor::zeros({T, H}, DType::F32);
  for (int64_t t = 0; t < T; ++t) {
    const float* xt = x.data<float>() + t * H;
    auto logits = matvec(b.gate.weight, xt);
    float mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (auto& l : logits) sum += (l = std::exp(l - mx));
    for (auto& l : logits) l /= sum;
    std::vector<int64_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t bb) { return logits[a] > logits[bb]; });
    float top_sum = 0;
    for (int64_t j = 0; j < c.top_k; ++j) top_sum += logits[order[j]];
    for (int64_t j = 0; j < c.top_k; ++j) {
      const int64_t e = order[j];
      const float w = c.norm_topk_prob ? logits[e] / top_sum : logits[e];
      Tensor gu = b.experts.gate_up_proj.select(0, e);
      auto y = expert(gu.slice(0, 0, I).contiguous(), gu.slice(0, I, 2 * I).contiguous(),
                      b.experts.down_proj.select(0, e).contiguous(), xt);
      for (int64_t d = 0; d < H; ++d) out.data<float>()[t * H + d] += w * y[d];
    }
    if (b.shared_expert) {
      auto s = expert(b.shared_expert->gate_proj->weight, b.shared_expert->up_proj->weight,
                      b.shared_expert->down_proj.weight, xt);
      const float g = 1.0f / (1.0f + std::exp(-matvec(b.shared_expert_gate->weight, xt)[0]));
      for (int64_t d = 0; d < H; ++d) out.data<float>()[t * H + d] += g * s[d];
    }
  }
  return out;
}

Json qwen2_moe_config() {
  return Json::parse(R"({"model_type": "qwen2_moe", "architectures": ["Qwen2MoeForCausalLM"], "vocab_size": 64,
    "hidden_size": 32, "intermediate_size": 40, "moe_intermediate_size": 24, "shared_expert_intermediate_size": 36,
    "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "num_experts": 6,
    "num_experts_per_tok": 3, "norm_topk_prob": false, "decoder_sparse_step": 1, "mlp_only_layers": [1],
    "rms_norm_eps": 1e-6, "max_position_embeddings": 64, "rope_theta": 10000.0, "tie_word_embeddings": false})");
}

TEST(MoEBlock, Qwen2MoeLayersMatchTheDenseReference) {
  auto model = make_random_model(PretrainedConfig::from_json(qwen2_moe_config()), 5, 0.3);
  auto* decoder = dynamic_cast<DecoderForCausalLM*>(model.get());
  ASSERT_NE(decoder, nullptr);
  // Layer 1 is listed in mlp_only_layers: a dense MLP; the others are sparse with a shared expert.
  EXPECT_EQ(dynamic_cast<nn::SparseMoeBlock*>(decoder->model.layers[1]->mlp.get()), nullptr);
  std::mt19937 rng(3);
  Tensor x = testing::random_tensor({2, 5, 32}, rng);
  for (size_t l : {0u, 2u}) {
    auto* block = dynamic_cast<nn::SparseMoeBlock*>(decoder->model.layers[l]->mlp.get());
    ASSERT_NE(block, nullptr);
    ASSERT_NE(block->shared_expert, nullptr);
    Tensor got = block->forward(x);
    EXPECT_EQ(got.shape(), x.shape());
    EXPECT_LE(max_abs_diff(got.view({10, 32}), reference(*block, x)), 1e-5f) << "layer " << l;
  }
}

TEST(MoEBlock, NormalisedTopKWithOtherExpertCounts) {
  for (int64_t experts : {2, 5, 8}) {
    nn::MoEConfig c{.hidden_size = 16, .intermediate_size = 12, .num_experts = experts, .top_k = 2,
                    .norm_topk_prob = true};
    nn::SparseMoeBlock block(c);
    std::mt19937 rng(static_cast<unsigned>(experts));
    block.gate.weight = testing::random_tensor({experts, 16}, rng);
    block.experts.gate_up_proj = testing::random_tensor({experts, 24, 16}, rng, 0.3f);
    block.experts.down_proj = testing::random_tensor({experts, 16, 12}, rng, 0.3f);
    Tensor x = testing::random_tensor({7, 16}, rng);
    EXPECT_LE(max_abs_diff(block.forward(x), reference(block, x)), 1e-5f) << experts << " experts";
  }
}

TEST(MoEBlock, Qwen2MoeSavesPerExpertKeysAndLoadsBackFused) {
  auto model = make_random_model(PretrainedConfig::from_json(qwen2_moe_config()), 9, 0.3);
  const auto dir = testing::scratch_dir("qwen2-moe-roundtrip");
  save_pretrained(*model, dir);
  auto ck = SafetensorsCheckpoint::open(dir);
  EXPECT_TRUE(ck.contains("model.layers.0.mlp.experts.5.down_proj.weight"));
  EXPECT_TRUE(ck.contains("model.layers.0.mlp.shared_expert_gate.weight"));
  EXPECT_TRUE(ck.contains("model.layers.1.mlp.gate_proj.weight"));  // the dense layer
  EXPECT_FALSE(ck.contains("model.layers.0.mlp.experts.gate_up_proj"));
  auto loaded = AutoModelForCausalLM::from_pretrained(dir);
  Tensor ids = Tensor::from_values<int64_t>({1, 5, 9, 33, 2, 60}, {2, 3});
  EXPECT_EQ(max_abs_diff(loaded->forward(ids).logits, model->forward(ids).logits), 0.0f);
}

}  // namespace
}  // namespace transformers
