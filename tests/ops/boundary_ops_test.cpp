// The ops that took over the tensor-memory work of nn/, models/ and cache/ (the op boundary),
// each against values written out by hand or a scalar formula applied element by element here.
#include <cmath>
#include <limits>
#include <random>

#include "common/test_util.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::random_tensor;

Tensor f32(const std::vector<float>& v, const Shape& shape) { return Tensor::from_values(v, shape); }
Tensor i64(const std::vector<int64_t>& v, const Shape& shape) { return Tensor::from_values(v, shape); }
std::vector<float> values(const Tensor& t) {
  Tensor c = t.contiguous();
  return {c.data<float>(), c.data<float>() + c.numel()};
}
std::vector<int64_t> ints(const Tensor& t) {
  Tensor c = t.contiguous();
  return {c.data<int64_t>(), c.data<int64_t>() + c.numel()};
}

template <typename F>
void expect_throws_naming(F f, const std::string& name) {
  try {
    f();
    ADD_FAILURE() << "expected an error naming " << name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(BroadcastOps, MulAndDivRepeatTheSmallerTensor) {
  Tensor a = f32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3});
  ops::mul_(a, f32({10, 100, 1000}, {3}));  // over the last dimension
  EXPECT_EQ(values(a), (std::vector<float>{10, 200, 3000, 40, 500, 6000, 70, 800, 9000, 100, 1100, 12000}));
  Tensor b = f32({2, 4, 6, 8}, {2, 2});
  ops::div_(b, f32({2, 4}, {2, 1}));  // a per-row divisor
  EXPECT_EQ(values(b), (std::vector<float>{1, 2, 1.5f, 2}));
  Tensor c = f32({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  ops::mul_(c, f32({1, 2, 3, -1, -2, -3}, {2, 3}));  // per-head weights [H, D] over [L, H, D]
  EXPECT_EQ(values(c), (std::vector<float>{1, 4, 9, -4, -10, -18}));
}

TEST(BroadcastOps, RefusesShapesThatDoNotBroadcast) {
  Tensor a = Tensor::zeros({2, 3}, DType::F32);
  expect_throws_naming([&] { ops::mul_(a, Tensor::zeros({2}, DType::F32)); }, "mul_: float32[2] does not broadcast");
  expect_throws_naming([&] { ops::div_(a, Tensor::zeros({1, 2, 3}, DType::F32)); }, "div_");
}

TEST(ElementwiseOps, SoftcapTanhSigmoidFollowTheirFormulas) {
  std::mt19937 rng(3);
  Tensor x = random_tensor({5, 7}, rng, 40.0f);
  const std::vector<float> in = values(x);
  Tensor capped = x.clone(), t = x.clone();
  ops::softcap_(capped, 30.0f);
  ops::tanh_(t);
  Tensor s = ops::sigmoid(x);
  for (size_t i = 0; i < in.size(); ++i) {
    const double v = in[i];
    EXPECT_NEAR(values(capped)[i], 30.0 * std::tanh(v / 30.0), 1e-4) << v;
    EXPECT_NEAR(values(t)[i], std::tanh(v), 1e-6) << v;
    EXPECT_NEAR(values(s)[i], 1.0 / (1.0 + std::exp(-v)), 1e-6) << v;
    EXPECT_LT(std::fabs(values(capped)[i]), 30.0f + 1e-4f);
  }
  EXPECT_EQ(values(x), in);  // sigmoid leaves its input alone
  expect_throws_naming([&] { ops::softcap_(capped, 0.0f); }, "softcap_: cap must be > 0");
  Tensor ints = Tensor::zeros({2}, DType::I64);
  expect_throws_naming([&] { ops::tanh_(ints); }, "tanh_: expected a float32 tensor, got int64[2]");
}

TEST(ElementwiseOps, NormalizeSumMakesEveryRowSumToOne) {
  Tensor w = f32({1, 3, 2, 2, 0.5f, 1.5f}, {3, 2});
  ops::normalize_sum_(w);
  EXPECT_EQ(values(w), (std::vector<float>{0.25f, 0.75f, 0.5f, 0.5f, 0.25f, 0.75f}));
}

TEST(CopyOp, CopiesStridedViewsAndOverlappingShifts) {
  // A transposed source into a slice of a larger block (what the KV cache does on update).
  Tensor block = Tensor::zeros({2, 5, 3}, DType::F32);
  Tensor src = f32({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2}).transpose(1, 2);  // [2, 2, 3]
  Tensor dst = block.slice(1, 1, 3);
  ops::copy_(dst, src);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t l = 0; l < 5; ++l)
      for (int64_t d = 0; d < 3; ++d) {
        const float want = (l == 1 || l == 2) ? static_cast<float>(b * 6 + d * 2 + (l - 1)) : 0.0f;
        EXPECT_EQ(block.data<float>()[(b * 5 + l) * 3 + d], want) << b << " " << l << " " << d;
      }
  // Shifting rows down inside one tensor: slots [2, 5) move to [0, 3), as memmove would.
  Tensor rows = f32({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2});
  Tensor low = rows.slice(0, 0, 3);
  ops::copy_(low, rows.slice(0, 2, 5));
  EXPECT_EQ(values(rows), (std::vector<float>{4, 5, 6, 7, 8, 9, 6, 7, 8, 9}));
  // And upwards (the destination after the source): still as if the source were read first.
  Tensor up = f32({0, 1, 2, 3, 4}, {5});
  Tensor high = up.slice(0, 1, 5);
  ops::copy_(high, up.slice(0, 0, 4));
  EXPECT_EQ(values(up), (std::vector<float>{0, 0, 1, 2, 3}));
  expect_throws_naming([&] { ops::copy_(high, up.slice(0, 0, 3)); }, "copy_: float32[3] into float32[4]");
}

TEST(IndexOps, SelectGathersRowsAndAddScattersWeightedRows) {
  Tensor x = f32({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor ids = i64({2, 0, 2}, {3});
  EXPECT_EQ(values(ops::index_select(x, ids)), (std::vector<float>{20, 21, 0, 1, 20, 21}));
  Tensor out = f32({1, 1, 1, 1}, {2, 2});
  Tensor src = f32({1, 2, 3, 4, 5, 6}, {3, 2});
  Tensor w = f32({0.5f, 2, -1}, {3});
  ops::index_add_(out, i64({1, 0, 1}, {3}), src, &w);  // repeated ids accumulate
  EXPECT_EQ(values(out), (std::vector<float>{1 + 2 * 3, 1 + 2 * 4, 1 + 0.5f * 1 - 5, 1 + 0.5f * 2 - 6}));
  ops::index_add_(out, i64({0}, {1}), f32({10, 20}, {1, 2}));
  EXPECT_EQ(values(out), (std::vector<float>{17, 29, -3.5f, -4}));
  expect_throws_naming([&] { ops::index_select(x, i64({3}, {1})); }, "index_select: index 3 is out of range for 3 rows");
  expect_throws_naming([&] { ops::index_add_(out, i64({0, 1}, {2}), src); }, "index_add_");
}

TEST(IndexOps, PositionsAndTables) {
  EXPECT_EQ(ints(ops::arange(3, 7)), (std::vector<int64_t>{3, 4, 5, 6}));
  Tensor p = ops::position_ids(2, 3, 5);
  EXPECT_EQ(p.shape(), (Shape{2, 3}));
  EXPECT_EQ(ints(p), (std::vector<int64_t>{5, 6, 7, 5, 6, 7}));
  // cos/sin: angle = pos * f, halves duplicated, times the scaling.
  auto [cos, sin] = ops::rotary_tables(i64({0, 3}, {1, 2}), {1.0f, 0.25f}, 2.0f);
  EXPECT_EQ(cos.shape(), (Shape{1, 2, 4}));
  const std::vector<float> c = values(cos), s = values(sin);
  const float want_c[] = {2, 2, 2, 2, 2 * std::cos(3.0f), 2 * std::cos(0.75f), 2 * std::cos(3.0f), 2 * std::cos(0.75f)};
  const float want_s[] = {0, 0, 0, 0, 2 * std::sin(3.0f), 2 * std::sin(0.75f), 2 * std::sin(3.0f), 2 * std::sin(0.75f)};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(c[i], want_c[i], 1e-6) << i;
    EXPECT_NEAR(s[i], want_s[i], 1e-6) << i;
  }
}

TEST(IndexOps, ReadsBackIntegersAndFloats) {
  Tensor x = Tensor::from_values(std::vector<int32_t>{4, -2, 9}, {3});
  EXPECT_EQ(ops::min_max(x), (std::pair<int64_t, int64_t>{-2, 9}));
  EXPECT_EQ(ops::to_int64_vector(x), (std::vector<int64_t>{4, -2, 9}));
  EXPECT_EQ(ops::to_int64_vector(i64({1, 2, 3, 4}, {2, 2}).transpose(0, 1)), (std::vector<int64_t>{1, 3, 2, 4}));
  EXPECT_EQ(ops::to_float_vector(f32({1.5f, -2}, {2})), (std::vector<float>{1.5f, -2}));
  expect_throws_naming([&] { ops::min_max(Tensor::zeros({0}, DType::I64)); }, "min_max: empty tensor");
  expect_throws_naming([&] { ops::to_int64_vector(f32({1}, {1})); }, "to_int64_vector: expected an integer tensor");
}

}  // namespace
}  // namespace transformers
