// ops::attention against a naive scalar attention written here from the definition: every
// (query, key) pair is tested for visibility one by one (causal, sliding window, key padding),
// scores are capped and soft-maxed in double, and K/V heads are looked up as h / (Hq / Hkv).
#include <cmath>
#include <random>

#include "common/test_util.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::max_abs_diff;
using testing::random_tensor;

double at4(const Tensor& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return t.data<float>()[a * t.stride(0) + b * t.stride(1) + c * t.stride(2) + d * t.stride(3)];
}

Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, const ops::AttentionParams& p) {
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3);
  const int64_t Hkv = k.size(1), T = k.size(2), Dv = v.size(3);
  Tensor out = Tensor::zeros({B, L, Hq * Dv}, DType::F32);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / (Hq / Hkv);
      for (int64_t i = 0; i < L; ++i) {
        const int64_t qpos = p.query_position + i;
        std::vector<double> s(T, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j < T; ++j) {
          const int64_t kpos = p.key_position + j;
          // A window limits keys behind the query; without causality also keys ahead of it.
          bool visible = (!p.causal || kpos <= qpos) &&
                         (!p.sliding_window ||
                          (qpos - kpos < *p.sliding_window && (p.causal || kpos - qpos < *p.sliding_window)));
          if (p.key_padding_mask) {
            const Tensor& m = *p.key_padding_mask;
            int64_t idx = b * m.size(1) + kpos;
            int64_t flag = m.dtype() == DType::I64   ? m.data<int64_t>()[idx]
                           : m.dtype() == DType::I32 ? m.data<int32_t>()[idx]
                                                     : m.data<uint8_t>()[idx];
            visible = visible && flag != 0;
          }
          if (!visible) continue;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += at4(q, b, h, i, d) * at4(k, b, hk, j, d);
          dot *= p.scale;
          if (p.softcap > 0) dot = p.softcap * std::tanh(dot / p.softcap);
          s[j] = dot;
          mx = std::max(mx, dot);
        }
        if (mx == -INFINITY) continue;  // nothing visible: zeros, as the op documents
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - mx));
        for (int64_t d = 0; d < Dv; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < T; ++j) acc += s[j] / sum * at4(v, b, hk, j, d);
          out.data<float>()[(b * L + i) * Hq * Dv + h * Dv + d] = static_cast<float>(acc);
        }
      }
    }
  return out;
}

struct AttentionCase {
  const char* name;
  int64_t B, Hq, Hkv, L, T, D, Dv;
  ops::AttentionParams params;
  bool strided_q = false;  // q as a permuted view of [B, L, Hq, D]
  DType mask_dtype = DType::I64;
  bool with_mask = false;
};

void PrintTo(const AttentionCase& c, std::ostream* os) { *os << c.name; }

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesNaiveAttention) {
  const AttentionCase& c = GetParam();
  std::mt19937 rng(42);
  Tensor q = c.strided_q ? random_tensor({c.B, c.L, c.Hq, c.D}, rng).permute({0, 2, 1, 3})
                         : random_tensor({c.B, c.Hq, c.L, c.D}, rng);
  if (c.strided_q) {
    ASSERT_FALSE(q.is_contiguous());
  }
  Tensor k = random_tensor({c.B, c.Hkv, c.T, c.D}, rng), v = random_tensor({c.B, c.Hkv, c.T, c.Dv}, rng);
  ops::AttentionParams p = c.params;
  Tensor mask;
  if (c.with_mask) {
    // Left padding on batch row 0 (its first 3 keys), a hole in row 1, everything else visible.
    const int64_t cols = p.key_position + c.T;
    mask = Tensor::empty({c.B, cols}, c.mask_dtype);
    for (int64_t b = 0; b < c.B; ++b) {
      for (int64_t j = 0; j < cols; ++j) {
        int64_t flag = (b == 0 && j < 3) || (b == 1 && j == cols / 2) ? 0 : 1;
        if (c.mask_dtype == DType::I64) mask.data<int64_t>()[b * cols + j] = flag;
        else if (c.mask_dtype == DType::I32) mask.data<int32_t>()[b * cols + j] = static_cast<int32_t>(flag);
        else mask.data<uint8_t>()[b * cols + j] = static_cast<uint8_t>(flag);
      }
    }
    p.key_padding_mask = &mask;
  }
  Tensor want = naive_attention(q, k, v, p);
  Tensor got = ops::attention(q, k, v, p);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_abs_diff(got, want), 2e-5f) << c.name;
  EXPECT_GT(testing::max_abs(want), 0.1f) << c.name << ": the case must produce non-trivial output";
}

ops::AttentionParams params(float scale, int64_t qpos = 0, int64_t kpos = 0, bool causal = true,
                            std::optional<int64_t> window = std::nullopt, float softcap = 0) {
  ops::AttentionParams p;
  p.scale = scale;
  p.query_position = qpos;
  p.key_position = kpos;
  p.causal = causal;
  p.sliding_window = window;
  p.softcap = softcap;
  return p;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AttentionTest,
    ::testing::Values(
        AttentionCase{"causal prefill", 2, 4, 4, 9, 9, 16, 16, params(0.25f)},
        AttentionCase{"non-causal (encoder)", 2, 3, 3, 7, 7, 12, 12, params(0.3f, 0, 0, false)},
        AttentionCase{"decode step", 2, 4, 2, 1, 13, 16, 16, params(0.25f, 12)},
        AttentionCase{"chunked prefill after a cache", 1, 4, 1, 5, 17, 8, 8, params(0.35f, 12)},
        AttentionCase{"GQA group 4, odd head dim", 2, 8, 2, 6, 6, 13, 13, params(0.28f)},
        AttentionCase{"value dim differs from key dim", 1, 2, 1, 6, 6, 8, 11, params(0.35f)},
        AttentionCase{"sliding window 3", 2, 4, 2, 10, 10, 16, 16, params(0.25f, 0, 0, true, 3)},
        AttentionCase{"sliding window, decode past it", 1, 2, 1, 1, 20, 8, 8, params(0.35f, 19, 0, true, 6)},
        AttentionCase{"sliding window cache holding only the window", 1, 2, 2, 2, 6, 8, 8,
                      params(0.35f, 14, 10, true, 6)},
        AttentionCase{"softcap", 2, 2, 1, 8, 8, 16, 16, params(1.0f, 0, 0, true, std::nullopt, 2.0f)},
        AttentionCase{"strided q", 2, 4, 2, 7, 7, 16, 16, params(0.25f), true},
        AttentionCase{"key padding mask i64", 2, 4, 2, 8, 8, 16, 16, params(0.25f), false, DType::I64, true},
        AttentionCase{"key padding mask i32, decode", 2, 4, 2, 1, 9, 16, 16, params(0.25f, 8), false, DType::I32, true},
        AttentionCase{"key padding mask u8, window, softcap", 2, 4, 4, 9, 9, 16, 16,
                      params(0.5f, 0, 0, true, 4, 3.0f), true, DType::U8, true},
        AttentionCase{"long keys (several key blocks)", 1, 2, 1, 3, 300, 64, 64, params(0.125f, 297)},
        AttentionCase{"prefill across key and query blocks, GQA 7", 1, 14, 2, 150, 150, 64, 64, params(0.125f)},
        AttentionCase{"prefill across blocks, window 50, padding mask", 2, 14, 2, 130, 130, 32, 32,
                      params(0.18f, 0, 0, true, 50), false, DType::I64, true},
        AttentionCase{"non-causal across blocks, padding mask", 2, 2, 2, 70, 70, 24, 24, params(0.2f, 0, 0, false),
                      false, DType::U8, true},
        AttentionCase{"non-causal symmetric window", 1, 2, 1, 150, 150, 16, 16, params(0.3f, 0, 0, false, 20)},
        AttentionCase{"decode, long context split across tasks", 1, 4, 1, 1, 1100, 32, 32, params(0.2f, 1099)},
        AttentionCase{"decode split, window leaves whole splits masked", 1, 4, 1, 1, 1100, 32, 32,
                      params(0.2f, 1099, 0, true, 100)},
        AttentionCase{"decode split, padding mask, batch 2", 2, 2, 1, 1, 700, 16, 16, params(0.25f, 699), false,
                      DType::I64, true}),
    [](const ::testing::TestParamInfo<AttentionCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      return n;
    });

TEST(Attention, RejectsMismatchedShapes) {
  std::mt19937 rng(1);
  Tensor q = random_tensor({1, 3, 2, 8}, rng), k = random_tensor({1, 2, 2, 8}, rng), v = random_tensor({1, 2, 2, 8}, rng);
  EXPECT_THROW(ops::attention(q, k, v, params(1.0f)), ShapeError);  // 3 query heads over 2 kv heads
  Tensor mask = Tensor::zeros({1, 1}, DType::I64);
  Tensor q2 = random_tensor({1, 2, 2, 8}, rng);
  ops::AttentionParams p = params(1.0f);
  p.key_padding_mask = &mask;
  EXPECT_THROW(ops::attention(q2, k, v, p), ShapeError);  // mask shorter than the keys
}

}  // namespace
}  // namespace transformers
