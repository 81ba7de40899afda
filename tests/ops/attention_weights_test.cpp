// attention_weights (output_attentions) against a naive double-precision softmax written here,
// and against the fused op: weights @ V must give the op's output.
#include "common/test_util.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

struct Case {
  bool causal;
  std::optional<int64_t> window;
  float softcap;
  bool padding;
};

TEST(AttentionWeights, MatchNaiveSoftmaxAndTheFusedOp) {
  std::mt19937 rng(5);
  const int64_t B = 2, Hq = 4, Hkv = 2, L = 5, past = 3, T = past + L, D = 8;
  for (const Case& c : {Case{true, std::nullopt, 0.0f, false}, Case{true, 3, 0.0f, true}, Case{false, 2, 4.0f, false},
                        Case{false, std::nullopt, 0.0f, true}}) {
    Tensor q = testing::random_tensor({B, Hq, L, D}, rng), k = testing::random_tensor({B, Hkv, T, D}, rng);
    Tensor v = testing::random_tensor({B, Hkv, T, D}, rng);
    Tensor mask = Tensor::empty({B, T}, DType::I64);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) mask.data<int64_t>()[b * T + t] = (c.padding && b == 1 && t < 2) ? 0 : 1;
    ops::AttentionParams p;
    p.scale = 0.35f;
    p.query_position = past;
    p.key_position = 0;
    p.causal = c.causal;
    p.sliding_window = c.window;
    p.softcap = c.softcap;
    p.key_padding_mask = &mask;
    Tensor w = ops::attention_weights(q, k, p);
    ASSERT_EQ(w.shape(), (Shape{B, Hq, L, T}));
    Tensor out = ops::attention(q, k, v, p);  // [B, L, Hq * D]
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < L; ++i) {
          const int64_t qpos = past + i, hk = h / (Hq / Hkv);
          std::vector<double> s(T, -INFINITY);
          double mx = -INFINITY;
          for (int64_t j = 0; j < T; ++j) {
            bool visible = c.causal ? j <= qpos : true;
            if (c.window) visible = visible && std::llabs(qpos - j) < *c.window;
            if (!mask.data<int64_t>()[b * T + j]) visible = false;
            if (!visible) continue;
            double dot = 0;
            for (int64_t d = 0; d < D; ++d)
              dot += double(q.data<float>()[((b * Hq + h) * L + i) * D + d]) * k.data<float>()[((b * Hkv + hk) * T + j) * D + d];
            dot *= p.scale;
            if (c.softcap > 0) dot = c.softcap * std::tanh(dot / c.softcap);
            s[j] = dot;
            mx = std::max(mx, dot);
          }
          double sum = 0;
          for (int64_t j = 0; j < T; ++j) sum += std::isinf(s[j]) ? 0.0 : std::exp(s[j] - mx);
          for (int64_t j = 0; j < T; ++j) {
            const double expect = std::isinf(s[j]) ? 0.0 : std::exp(s[j] - mx) / sum;
            ASSERT_NEAR(w.data<float>()[((b * Hq + h) * L + i) * T + j], expect, 1e-5) << "b" << b << " h" << h << " i" << i << " j" << j;
          }
          for (int64_t d = 0; d < D; ++d) {
            double acc = 0;
            for (int64_t j = 0; j < T; ++j)
              acc += double(w.data<float>()[((b * Hq + h) * L + i) * T + j]) * v.data<float>()[((b * Hkv + hk) * T + j) * D + d];
            ASSERT_NEAR(out.data<float>()[(b * L + i) * Hq * D + h * D + d], acc, 1e-4);
          }
        }
  }
}

}  // namespace
}  // namespace transformers
