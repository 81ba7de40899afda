// Tensor-level ops against independent formulas: rotary embedding against rotate_half written
// out, embedding against the scalar conversions, argmax/topk against torch's tie rules, cat
// against element-by-element placement, cast against core/half.h.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "common/test_util.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

using testing::max_abs_diff;
using testing::random_tensor;

// ---------------------------------------------------------------------------------------------
// rope: out = x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[R/2:R], x[:R/2]); the
// dimensions past R are left alone (partial rotary).

Tensor rope_by_formula(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t B = x.size(0), L = x.size(1), H = x.size(2), D = x.size(3), R = cos.size(2);
  Tensor xc = x.contiguous().clone(), out = xc.clone();
  std::vector<float> rot(R);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < H; ++h) {
        const float* in = xc.data<float>() + ((b * L + l) * H + h) * D;
        float* o = out.data<float>() + ((b * L + l) * H + h) * D;
        for (int64_t i = 0; i < R; ++i) rot[i] = i < R / 2 ? -in[i + R / 2] : in[i - R / 2];
        for (int64_t i = 0; i < R; ++i)
          o[i] = in[i] * cos.data<float>()[(b * L + l) * R + i] + rot[i] * sin.data<float>()[(b * L + l) * R + i];
      }
  return out;
}

// cos/sin as a rotary embedding makes them: angle = pos * theta^(-2i/R), duplicated halves.
std::pair<Tensor, Tensor> rope_tables(int64_t B, int64_t L, int64_t R, int64_t first_pos) {
  Tensor cos = Tensor::empty({B, L, R}, DType::F32), sin = Tensor::empty({B, L, R}, DType::F32);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t i = 0; i < R; ++i) {
        double angle = static_cast<double>(first_pos + l + b) * std::pow(10000.0, -2.0 * (i % (R / 2)) / R);
        cos.data<float>()[(b * L + l) * R + i] = static_cast<float>(std::cos(angle));
        sin.data<float>()[(b * L + l) * R + i] = static_cast<float>(std::sin(angle));
      }
  return {cos, sin};
}

TEST(Rope, MatchesRotateHalfFormula) {
  std::mt19937 rng(10);
  for (auto [D, R] : {std::pair<int64_t, int64_t>{16, 16}, {12, 8}, {64, 64}, {10, 2}}) {
    Tensor x = random_tensor({2, 5, 3, D}, rng);
    auto [cos, sin] = rope_tables(2, 5, R, 7);
    Tensor want = rope_by_formula(x, cos, sin);
    ops::apply_rotary_(x, cos, sin);
    EXPECT_LE(max_abs_diff(x, want), 1e-6f) << "D=" << D << " R=" << R;
    if (R < D) {  // the pass-through part is untouched, bit for bit
      for (int64_t i = 0; i < x.numel(); i += D)
        for (int64_t d = R; d < D; ++d) ASSERT_EQ(x.data<float>()[i + d], want.data<float>()[i + d]);
    }
  }
}

TEST(Rope, WorksInPlaceOnAStridedView) {
  // q of a fused qkv projection: [B, L, H, D] view into a wider row, as the models slice it.
  std::mt19937 rng(11);
  const int64_t B = 2, L = 4, H = 3, D = 8;
  Tensor fused = random_tensor({B, L, 2 * H, D}, rng);
  Tensor before = fused.clone();
  Tensor q = fused.slice(2, H, 2 * H);
  ASSERT_FALSE(q.is_contiguous());
  auto [cos, sin] = rope_tables(B, L, D, 0);
  Tensor want = rope_by_formula(q, cos, sin);
  ops::apply_rotary_(q, cos, sin);
  EXPECT_LE(max_abs_diff(q, want), 1e-6f);
  EXPECT_EQ(max_abs_diff(fused.slice(2, 0, H), before.slice(2, 0, H)), 0.0f) << "rope wrote outside its view";
}

TEST(Rope, RejectsMismatchedTables) {
  std::mt19937 rng(12);
  Tensor x = random_tensor({1, 2, 2, 8}, rng);
  auto [cos, sin] = rope_tables(1, 3, 8, 0);
  EXPECT_THROW(ops::apply_rotary_(x, cos, sin), ShapeError);
}

// ---------------------------------------------------------------------------------------------
// embedding

// linear_group runs each weight's tasks as linear() alone would, only in one dispatch: the values
// are the separate calls', bit for bit (linear() itself is checked against the scalar reference
// in kernels_test.cpp), for formats mixed in one group (q4_k_m puts Q4_K beside Q6_K), the decode,
// small-M, panel and prompt paths, with and without biases.
TEST(LinearGroup, EqualsSeparateLinearCallsBitForBit) {
  std::mt19937 rng(77);
  const int64_t K = 256;
  const DType dtypes[] = {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K};
  for (int64_t M : {1, 3, 5, 9, 40, 130}) {
    Tensor x = random_tensor({M, K}, rng);
    std::vector<Tensor> weights, biases;
    for (size_t i = 0; i < std::size(dtypes); ++i) {
      const int64_t N = 16 + 48 * static_cast<int64_t>(i);  // row counts that cut tasks differently
      weights.push_back(ops::cast(random_tensor({N, K}, rng), dtypes[i]));
      biases.push_back(random_tensor({N}, rng));
    }
    std::vector<ops::LinearWeights> parts;
    for (size_t i = 0; i < weights.size(); ++i) parts.push_back({&weights[i], i % 2 ? &biases[i] : nullptr});
    const std::vector<Tensor> ys = ops::linear_group(x, parts);
    ASSERT_EQ(ys.size(), parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      const Tensor want = ops::linear(x, weights[i], parts[i].bias);
      ASSERT_EQ(ys[i].shape(), want.shape());
      EXPECT_EQ(0, std::memcmp(ys[i].raw_data(), want.raw_data(), want.nbytes()))
          << "M=" << M << " " << dtype_safetensors_name(dtypes[i]) << " differs by " << max_abs_diff(ys[i], want);
    }
  }
  Tensor x = random_tensor({2, K}, rng);
  Tensor w = random_tensor({8, K + 1}, rng);
  EXPECT_THROW(ops::linear_group(x, {{&w}}), ShapeError);
  EXPECT_TRUE(ops::linear_group(x, {}).empty());
}

TEST(Embedding, PicksRowsInEveryWeightDtype) {
  std::mt19937 rng(13);
  const int64_t V = 11, H = 13;
  Tensor w32 = random_tensor({V, H}, rng);
  std::vector<int64_t> ids = {3, 0, 10, 3, 7, 1};
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    Tensor w = ops::cast(w32, dt);
    for (DType idt : {DType::I64, DType::I32}) {
      Tensor idx = Tensor::empty({2, 3}, idt);
      for (size_t i = 0; i < ids.size(); ++i)
        if (idt == DType::I64) idx.data<int64_t>()[i] = ids[i];
        else idx.data<int32_t>()[i] = static_cast<int32_t>(ids[i]);
      Tensor out = ops::embedding(w, idx);
      ASSERT_EQ(out.shape(), (Shape{2, 3, H}));
      for (size_t i = 0; i < ids.size(); ++i)
        for (int64_t h = 0; h < H; ++h) {
          float src = w32.data<float>()[ids[i] * H + h];
          float want = dt == DType::F32    ? src
                       : dt == DType::BF16 ? bf16_to_f32(f32_to_bf16(src))
                                           : f16_to_f32_portable(f32_to_f16_portable(src));
          ASSERT_EQ(out.data<float>()[i * H + h], want) << "id " << ids[i] << " h " << h;
        }
    }
  }
}

TEST(Embedding, RejectsIdsOutsideTheVocabulary) {
  Tensor w = Tensor::zeros({4, 2}, DType::F32);
  EXPECT_THROW(ops::embedding(w, Tensor::from_values(std::vector<int64_t>{1, 4}, {2})), ValueError);
  EXPECT_THROW(ops::embedding(w, Tensor::from_values(std::vector<int64_t>{-1}, {1})), ValueError);
  EXPECT_THROW(ops::embedding(w, Tensor::zeros({1}, DType::F32)), ShapeError);
}

// ---------------------------------------------------------------------------------------------
// argmax / topk: first index wins a tie (torch.argmax); topk is sorted, ties by lower index.

TEST(Argmax, FirstIndexWinsTiesPerRow) {
  Tensor x = Tensor::from_values(std::vector<float>{1, 5, 5, 2, /**/ -3, -1, -2, -1, /**/ 0, 9, 0, 3}, {3, 4});
  Tensor a = ops::argmax(x);
  ASSERT_EQ(a.shape(), (Shape{3}));
  EXPECT_EQ(a.data<int64_t>()[0], 1);
  EXPECT_EQ(a.data<int64_t>()[1], 1);
  EXPECT_EQ(a.data<int64_t>()[2], 1);
  // A strided input (a transposed view) gives the same answer as its contiguous copy.
  Tensor t = x.transpose(0, 1);
  Tensor at = ops::argmax(t);
  EXPECT_EQ(at.data<int64_t>()[0], 0);  // column 0: 1, -3, 0
  EXPECT_EQ(at.data<int64_t>()[1], 2);  // column 1: 5, -1, 9
  EXPECT_EQ(at.data<int64_t>()[2], 0);  // column 2: 5, -2, 0
  EXPECT_EQ(at.data<int64_t>()[3], 2);  // column 3: 2, -1, 3
  // NaN counts as the maximum, as in torch.
  Tensor n = Tensor::from_values(std::vector<float>{1, NAN, 3}, {3});
  EXPECT_EQ(ops::argmax(n).data<int64_t>()[0], 1);
}

TEST(Topk, SortedDescendingWithTiesByIndex) {
  Tensor x = Tensor::from_values(std::vector<float>{0.5f, 2, -1, 2, 7, 0.5f, 2, -4}, {2, 4});
  auto [values, indices] = ops::topk(x, 3);
  ASSERT_EQ(values.shape(), (Shape{2, 3}));
  const float want_v[] = {2, 2, 0.5f, 7, 2, 0.5f};
  const int64_t want_i[] = {1, 3, 0, 0, 2, 1};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(values.data<float>()[i], want_v[i]) << i;
    EXPECT_EQ(indices.data<int64_t>()[i], want_i[i]) << i;
  }
  auto [all_v, all_i] = ops::topk(x, 4);
  EXPECT_EQ(all_i.data<int64_t>()[3], 2);  // k = n: the smallest last
  EXPECT_THROW(ops::topk(x, 0), ValueError);
  EXPECT_THROW(ops::topk(x, 5), ValueError);
}

TEST(Topk, AgreesWithAFullSortOnRandomRows) {
  std::mt19937 rng(14);
  Tensor x = random_tensor({3, 257}, rng);
  auto [values, indices] = ops::topk(x, 40);
  for (int64_t r = 0; r < 3; ++r) {
    std::vector<std::pair<float, int64_t>> row;
    for (int64_t i = 0; i < 257; ++i) row.push_back({-x.data<float>()[r * 257 + i], i});
    std::sort(row.begin(), row.end());
    for (int64_t j = 0; j < 40; ++j) {
      EXPECT_EQ(values.data<float>()[r * 40 + j], -row[j].first);
      EXPECT_EQ(indices.data<int64_t>()[r * 40 + j], row[j].second);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cat

TEST(Cat, PlacesEveryElementAlongEachDimension) {
  std::mt19937 rng(15);
  Tensor a = random_tensor({2, 3, 4}, rng), b = random_tensor({2, 5, 4}, rng).slice(1, 1, 4);  // strided input
  for (int64_t dim : {1, -2}) {
    Tensor c = ops::cat({a, b}, dim);
    ASSERT_EQ(c.shape(), (Shape{2, 6, 4}));
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 6; ++j)
        for (int64_t k = 0; k < 4; ++k) {
          const Tensor& src = j < 3 ? a : b;
          int64_t jj = j < 3 ? j : j - 3;
          float want = src.data<float>()[i * src.stride(0) + jj * src.stride(1) + k * src.stride(2)];
          ASSERT_EQ(c.data<float>()[(i * 6 + j) * 4 + k], want);
        }
  }
  Tensor c0 = ops::cat({a, a, a}, 0);
  ASSERT_EQ(c0.shape(), (Shape{6, 3, 4}));
  EXPECT_EQ(max_abs_diff(c0.slice(0, 4, 6), a), 0.0f);
  Tensor c2 = ops::cat({a, a.slice(2, 0, 1)}, -1);
  ASSERT_EQ(c2.shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(max_abs_diff(c2.slice(2, 4, 5), a.slice(2, 0, 1)), 0.0f);
  EXPECT_THROW(ops::cat({a, random_tensor({2, 3, 5}, rng)}, 1), ShapeError);
  EXPECT_THROW(ops::cat({a, ops::cast(a, DType::BF16)}, 0), ShapeError);
  EXPECT_THROW(ops::cat({}, 0), ValueError);
}

// ---------------------------------------------------------------------------------------------
// cast: bit-exact against core/half.h, including subnormals, infinities and NaN.

std::vector<float> special_floats() {
  std::mt19937 rng(16);
  std::vector<float> v;
  std::normal_distribution<float> dist(0.0f, 100.0f);
  for (int i = 0; i < 1000; ++i) v.push_back(dist(rng));
  for (int e = -30; e <= 18; ++e) v.push_back(std::ldexp(1.37f, e));  // through f16 subnormals and beyond
  v.insert(v.end(), {0.0f, -0.0f, 5.9604645e-8f, 2.9802322e-8f, 6.0975552e-5f, 65504.0f, 65520.0f, 1e20f,
                     std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(), INFINITY,
                     -INFINITY, NAN});
  return v;
}

TEST(Cast, RoundTripsMatchTheScalarConversions) {
  const auto vals = special_floats();
  const int64_t n = static_cast<int64_t>(vals.size());
  // A strided input as well: every other element of a wider buffer.
  std::vector<float> doubled;
  for (float f : vals) doubled.insert(doubled.end(), {f, -7.0f});
  Tensor contiguous = Tensor::from_values(vals, {n});
  Tensor strided = Tensor::from_values(doubled, {n, 2}).select(1, 0);
  for (const Tensor* x : {&contiguous, &strided}) {
    Tensor bf = ops::cast(*x, DType::BF16), hf = ops::cast(*x, DType::F16);
    ASSERT_EQ(bf.dtype(), DType::BF16);
    Tensor bf_back = ops::cast(bf, DType::F32), hf_back = ops::cast(hf, DType::F32);
    Tensor hf_from_bf = ops::cast(bf, DType::F16);
    for (int64_t i = 0; i < n; ++i) {
      float f = vals[i];
      uint16_t want_bf = f32_to_bf16(f), want_hf = f32_to_f16_portable(f);
      if (std::isnan(f)) {
        EXPECT_TRUE(std::isnan(bf_back.data<float>()[i]));
        EXPECT_TRUE(std::isnan(hf_back.data<float>()[i]));
        continue;
      }
      ASSERT_EQ(bf.data_u16()[i], want_bf) << f;
      ASSERT_EQ(hf.data_u16()[i], want_hf) << f;
      ASSERT_EQ(bf_back.data<float>()[i], bf16_to_f32(want_bf)) << f;
      ASSERT_EQ(hf_back.data<float>()[i], f16_to_f32_portable(want_hf)) << f;
      ASSERT_EQ(hf_from_bf.data_u16()[i], f32_to_f16_portable(bf16_to_f32(want_bf))) << f;
    }
  }
  // A few exact anchors so that the op and the scalar functions cannot agree on a wrong answer.
  Tensor anchors = ops::cast(Tensor::from_values(std::vector<float>{1.0f, 5.9604645e-8f, 65520.0f, -INFINITY}, {4}), DType::F16);
  EXPECT_EQ(anchors.data_u16()[0], 0x3c00);
  EXPECT_EQ(anchors.data_u16()[1], 0x0001);
  EXPECT_EQ(anchors.data_u16()[2], 0x7c00);
  EXPECT_EQ(anchors.data_u16()[3], 0xfc00);
}

TEST(Cast, LargeTensorSplitAcrossThePoolIsExact) {
  std::mt19937 rng(17);
  Tensor x = random_tensor({3, 100003}, rng);  // > one 64K-element chunk, odd size
  Tensor back = ops::cast(ops::cast(x, DType::F16), DType::F32);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(back.data<float>()[i], f16_to_f32_portable(f32_to_f16_portable(x.data<float>()[i]))) << i;
  EXPECT_THROW(ops::cast(Tensor::zeros({2}, DType::I64), DType::F32), ShapeError);
}

}  // namespace
}  // namespace transformers
