// Every op's backward against finite differences of a double-precision reference of the op
// (tests/autograd/gradcheck.h), per op and weight dtype (f32; bf16 weights for the input
// gradient). The references are written from the ops' documented formulas, not from ops/cpu.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "autograd/gradcheck.h"

using namespace transformers;
using gradcheck::Case;
using gradcheck::Input;
using gradcheck::Values;

namespace {

using Vec = std::vector<double>;

Vec elementwise(const Vec& x, double (*f)(double)) {
  Vec y(x.size());
  std::transform(x.begin(), x.end(), y.begin(), f);
  return y;
}
double silu(double x) { return x / (1 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double act(double x, ops::Activation a) {
  return a == ops::Activation::SiLU ? silu(x) : a == ops::Activation::GELU ? gelu(x) : gelu_tanh(x);
}

// y[m, n] = sum_k x[m, k] w[n, k] + b[n]
Vec linear_ref(const Vec& x, const Vec& w, const Vec* b, int64_t M, int64_t N, int64_t K) {
  Vec y(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = b ? (*b)[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

void expect_passes(const Case& c) { EXPECT_EQ(gradcheck::check(c), ""); }

}  // namespace

TEST(OpsBackward, HarnessCatchesAWrongGradient) {
  // y = 2x with a backward that says 3: the harness must complain.
  Case c;
  c.inputs = {{{3, 4}}};
  c.op = [](const std::vector<Tensor>& in) {
    Tensor y;
    {
      autograd::NoGrad off;
      y = in[0].clone();
      ops::scale_(y, 2.0f);
    }
    autograd::record(y, "wrong", {in[0].autograd()}, [](const Tensor& g) {
      Tensor d = g.contiguous().clone();
      ops::scale_(d, 3.0f);
      return std::vector<Tensor>{d};
    });
    return y;
  };
  c.reference = [](const Values& v) {
    Vec y = v[0];
    for (double& e : y) e *= 2;
    return y;
  };
  EXPECT_NE(gradcheck::check(c), "");
}

TEST(OpsBackward, Linear) {
  for (bool bias : {false, true}) {
    Case c;
    c.inputs = {{{2, 3, 5}}, {{4, 5}}};
    if (bias) c.inputs.push_back({{4}});
    c.op = [bias](const std::vector<Tensor>& in) {
      return ops::linear(in[0], in[1], bias ? &in[2] : nullptr);
    };
    c.reference = [bias](const Values& v) {
      return linear_ref(v[0], v[1], bias ? &v[2] : nullptr, 6, 4, 5);
    };
    expect_passes(c);
  }
}

TEST(OpsBackward, LinearShapesOfTheGemmPaths) {
  // Enough rows for the tiers' GEMM tiles (M = 2 x 35 tokens; dW's product has N = 41 rows) and
  // sizes that are no multiple of a vector or of the transpose's 8 x 8 blocks.
  Case c;
  c.inputs = {{{2, 35, 27}}, {{41, 27}}, {{41}}};
  c.op = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1], &in[2]); };
  c.reference = [](const Values& v) { return linear_ref(v[0], v[1], &v[2], 70, 41, 27); };
  expect_passes(c);
}

TEST(OpsBackward, LinearInputGradientWithBf16Weight) {
  Case c;
  c.inputs = {{{3, 8}}, {{6, 8}, false, DType::BF16}};
  c.op = [](const std::vector<Tensor>& in) { return ops::linear(in[0], in[1]); };
  c.reference = [](const Values& v) { return linear_ref(v[0], v[1], nullptr, 3, 6, 8); };
  expect_passes(c);
}

TEST(OpsBackward, EmbeddingScatterAddsRepeatedIds) {
  const std::vector<int64_t> ids = {2, 0, 2, 3, 2, 1};
  Case c;
  c.inputs = {{{5, 3}}};
  c.op = [&](const std::vector<Tensor>& in) {
    return ops::embedding(in[0], Tensor::from_values(ids, {2, 3}));
  };
  c.reference = [&](const Values& v) {
    Vec y;
    for (int64_t id : ids) y.insert(y.end(), v[0].begin() + id * 3, v[0].begin() + id * 3 + 3);
    return y;
  };
  expect_passes(c);
}

TEST(OpsBackward, AddAndMulWithBroadcast) {
  Case add;
  add.inputs = {{{2, 3}}, {{2, 3}}};
  add.op = [](const std::vector<Tensor>& in) { return ops::add(in[0], in[1]); };
  add.reference = [](const Values& v) {
    Vec y(6);
    for (int i = 0; i < 6; ++i) y[i] = v[0][i] + v[1][i];
    return y;
  };
  expect_passes(add);
  Case mul = add;
  mul.op = [](const std::vector<Tensor>& in) { return ops::mul(in[0], in[1]); };
  mul.reference = [](const Values& v) {
    Vec y(6);
    for (int i = 0; i < 6; ++i) y[i] = v[0][i] * v[1][i];
    return y;
  };
  expect_passes(mul);
  // In place: a += b, then a *= w with w [H] broadcast over [2, 3, H] and with a per-row gate [6,
  // 1].
  Case chain;
  chain.inputs = {{{2, 3, 4}}, {{2, 3, 4}}, {{4}}, {{6, 1}}};
  chain.op = [](const std::vector<Tensor>& in) {
    Tensor a = in[0].clone();
    ops::add_(a, in[1]);
    ops::mul_(a, in[2]);
    Tensor flat = a.view({6, 4});
    ops::mul_(flat, in[3]);
    ops::scale_(flat, 0.5f);
    return flat;
  };
  chain.reference = [](const Values& v) {
    Vec y(24);
    for (int i = 0; i < 24; ++i) y[i] = 0.5 * (v[0][i] + v[1][i]) * v[2][i % 4] * v[3][i / 4];
    return y;
  };
  expect_passes(chain);
}

TEST(OpsBackward, SoftcapTanhAndSoftmaxInPlace) {
  Case c;
  c.inputs = {{{3, 5}, true, DType::F32, 3.0}};
  c.op = [](const std::vector<Tensor>& in) {
    Tensor x = in[0].clone();
    ops::softcap_(x, 2.5f);
    ops::tanh_(x);
    ops::softmax_(x);
    return x;
  };
  c.reference = [](const Values& v) {
    Vec y(15);
    for (int r = 0; r < 3; ++r) {
      double sum = 0;
      for (int j = 0; j < 5; ++j)
        sum += y[r * 5 + j] = std::exp(std::tanh(2.5 * std::tanh(v[0][r * 5 + j] / 2.5)));
      for (int j = 0; j < 5; ++j) y[r * 5 + j] /= sum;
    }
    return y;
  };
  expect_passes(c);
}

TEST(OpsBackward, RmsNorm) {
  // 6 rows, and 150 rows (the backward's blocks of 64 rows, whose weight gradients are summed).
  for (int64_t rows : {6, 150})
    for (bool unit_offset : {false, true}) {
      Case c;
      c.inputs = {{{2, rows / 2, 6}}, {{6}}};
      c.op = [unit_offset](const std::vector<Tensor>& in) {
        return ops::rms_norm(in[0], in[1], 1e-5f, unit_offset);
      };
      c.reference = [unit_offset, rows](const Values& v) {
        Vec y(static_cast<size_t>(rows * 6));
        for (int64_t r = 0; r < rows; ++r) {
          double ss = 0;
          for (int j = 0; j < 6; ++j) ss += v[0][r * 6 + j] * v[0][r * 6 + j];
          const double inv = 1 / std::sqrt(ss / 6 + 1e-5);
          for (int j = 0; j < 6; ++j)
            y[r * 6 + j] = v[0][r * 6 + j] * inv * (v[1][j] + (unit_offset ? 1 : 0));
        }
        return y;
      };
      expect_passes(c);
    }
}

TEST(OpsBackward, LayerNorm) {
  for (bool affine : {false, true}) {
    Case c;
    c.inputs = {{{4, 6}}};
    if (affine) c.inputs.insert(c.inputs.end(), {{{6}}, {{6}}});
    c.op = [affine](const std::vector<Tensor>& in) {
      return ops::layer_norm(in[0], affine ? &in[1] : nullptr, affine ? &in[2] : nullptr, 1e-5f);
    };
    c.reference = [affine](const Values& v) {
      Vec y(24);
      for (int r = 0; r < 4; ++r) {
        double mean = 0, var = 0;
        for (int j = 0; j < 6; ++j) mean += v[0][r * 6 + j] / 6;
        for (int j = 0; j < 6; ++j) var += (v[0][r * 6 + j] - mean) * (v[0][r * 6 + j] - mean) / 6;
        for (int j = 0; j < 6; ++j)
          y[r * 6 + j] = (v[0][r * 6 + j] - mean) / std::sqrt(var + 1e-5) * (affine ? v[1][j] : 1) +
                         (affine ? v[2][j] : 0);
      }
      return y;
    };
    expect_passes(c);
  }
}

TEST(OpsBackward, ActivationsAndGatedActivation) {
  for (ops::Activation a :
       {ops::Activation::SiLU, ops::Activation::GELU, ops::Activation::GELUTanh}) {
    Case c;
    c.inputs = {{{2, 7}, true, DType::F32, 3.0}};
    c.op = [a](const std::vector<Tensor>& in) {
      Tensor x = in[0].clone();
      ops::activation_(x, a);
      return x;
    };
    c.reference = [a](const Values& v) {
      Vec y(v[0].size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = act(v[0][i], a);
      return y;
    };
    expect_passes(c);
    Case g;
    g.inputs = {{{2, 7}, true, DType::F32, 3.0}, {{2, 7}}};
    g.op = [a](const std::vector<Tensor>& in) { return ops::gated_activation(in[0], in[1], a); };
    g.reference = [a](const Values& v) {
      Vec y(v[0].size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = act(v[0][i], a) * v[1][i];
      return y;
    };
    expect_passes(g);
  }
}

TEST(OpsBackward, ViewsCastAndCat) {
  // transpose, slice, select, unsqueeze/expand, reshape of a non-contiguous tensor, cast, cat.
  Case c;
  c.inputs = {{{2, 3, 4}}, {{3, 1}}};
  c.op = [](const std::vector<Tensor>& in) {
    Tensor t = in[0].transpose(0, 1);             // [3, 2, 4]
    Tensor s = t.slice(2, 1, 3).reshape({3, 4});  // [3, 4] (a copy)
    Tensor e = ops::cast(in[1].expand({3, 4}), DType::F32);
    Tensor sel = in[0].select(0, 1).unsqueeze(0).slice(1, 0, 1).reshape({1, 4});  // row [1, 0, :]
    return ops::cat({ops::mul(s, e), sel}, 0);                                    // [4, 4]
  };
  c.reference = [](const Values& v) {
    Vec y;
    for (int i = 0; i < 3; ++i)
      for (int b = 0; b < 2; ++b)
        for (int d = 1; d < 3; ++d) y.push_back(v[0][b * 12 + i * 4 + d] * v[1][i]);
    for (int d = 0; d < 4; ++d) y.push_back(v[0][12 + d]);
    return y;
  };
  expect_passes(c);
}

TEST(OpsBackward, IndexSelectAndWeightedIndexAdd) {
  const std::vector<int64_t> ids = {3, 1, 3};
  Case c;
  c.inputs = {{{4, 2}}, {{3, 2}}, {{3}}, {{4, 2}}};
  c.op = [&](const std::vector<Tensor>& in) {
    const Tensor idx = Tensor::from_values(ids, {3});
    Tensor picked = ops::index_select(in[0], idx);  // [3, 2]
    Tensor src = ops::add(picked, in[1]);
    Tensor out = in[3].clone();
    ops::index_add_(out, idx, src, &in[2]);
    return out;
  };
  c.reference = [&](const Values& v) {
    Vec out = v[3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j)
        out[ids[i] * 2 + j] += v[2][i] * (v[0][ids[i] * 2 + j] + v[1][i * 2 + j]);
    return out;
  };
  expect_passes(c);
}

// The mixture-of-experts router: softmax over E experts, the k largest probabilities (their
// gradient scattered back to the chosen experts, none to the others), renormalised to sum 1. The
// reference picks its own top-k in double; the random rows have no near-ties at h = 1e-6.
namespace {

Vec router_ref(const Vec& logits, int64_t rows, int64_t E, int64_t k, bool renormalise) {
  Vec out;
  for (int64_t r = 0; r < rows; ++r) {
    Vec p(logits.begin() + r * E, logits.begin() + (r + 1) * E);
    const double m = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (double& e : p) sum += e = std::exp(e - m);
    for (double& e : p) e /= sum;
    std::vector<int64_t> order(static_cast<size_t>(E));
    for (int64_t i = 0; i < E; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    double kept = 0;
    for (int64_t j = 0; j < k; ++j) kept += p[order[j]];
    for (int64_t j = 0; j < k; ++j) out.push_back(renormalise ? p[order[j]] / kept : p[order[j]]);
  }
  return out;
}

}  // namespace

TEST(OpsBackward, RouterSoftmaxTopkAndRenormalisation) {
  for (bool renormalise : {false, true}) {
    SCOPED_TRACE(renormalise);
    Case c;
    c.inputs = {{{4, 6}, true, DType::F32, 2.0}};
    c.op = [renormalise](const std::vector<Tensor>& in) {
      Tensor probs = in[0].clone();
      ops::softmax_(probs);
      auto [weights, chosen] = ops::topk(probs, 3);
      EXPECT_EQ(chosen.autograd(), nullptr);  // indices carry no gradient
      if (renormalise) ops::normalize_sum_(weights);
      return weights;
    };
    c.reference = [renormalise](const Values& v) { return router_ref(v[0], 4, 6, 3, renormalise); };
    expect_passes(c);
  }
}

TEST(OpsBackward, TopkValuesScatterIntoTheirIndices) {
  Case c;
  c.inputs = {{{2, 3, 5}}};
  c.op = [](const std::vector<Tensor>& in) { return ops::topk(in[0], 2).first; };
  c.reference = [](const Values& v) {
    Vec out;
    for (int r = 0; r < 6; ++r) {
      Vec row(v[0].begin() + r * 5, v[0].begin() + r * 5 + 5);
      std::sort(row.begin(), row.end(), std::greater<>());
      out.insert(out.end(), row.begin(), row.begin() + 2);
    }
    return out;
  };
  expect_passes(c);
}

TEST(OpsBackward, Sigmoid) {
  Case c;
  c.inputs = {{{3, 4}, true, DType::F32, 4.0}};
  c.op = [](const std::vector<Tensor>& in) { return ops::sigmoid(in[0]); };
  c.reference = [](const Values& v) {
    return elementwise(v[0], [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  };
  expect_passes(c);
}

TEST(OpsBackward, PartialRotary) {
  // x [B=1, L=3, H=2, D=6] rotated on its first R=4 dims; cos/sin from positions 0..2.
  const auto [cos, sin] = ops::rotary_tables(ops::position_ids(1, 3, 0), {1.0f, 0.1f}, 1.0f);
  const std::vector<float> c_values = ops::to_float_vector(cos),
                           s_values = ops::to_float_vector(sin);
  Case c;
  c.inputs = {{{1, 3, 2, 6}}};
  c.op = [cos, sin](const std::vector<Tensor>& in) {
    Tensor x = in[0].clone();
    ops::apply_rotary_(x, cos, sin);
    return x;
  };
  c.reference = [=](const Values& v) {
    Vec y = v[0];
    for (int l = 0; l < 3; ++l)
      for (int h = 0; h < 2; ++h)
        for (int i = 0; i < 2; ++i) {
          const double x1 = v[0][(l * 2 + h) * 6 + i], x2 = v[0][(l * 2 + h) * 6 + i + 2];
          const double cs = c_values[l * 4 + i], sn = s_values[l * 4 + i];
          y[(l * 2 + h) * 6 + i] = x1 * cs - x2 * sn;
          y[(l * 2 + h) * 6 + i + 2] = x2 * cs + x1 * sn;
        }
    return y;
  };
  expect_passes(c);
}

namespace {

struct AttentionSetup {
  int64_t B = 2, L = 5, Hq = 4, Hkv = 2, D = 3;
  ops::AttentionParams p;
  std::vector<int64_t> mask;  // [B, L] or empty
};

// q, k, v given as [B, L, H, D] and transposed to [B, H, L, D] views, as nn/attention.cpp does.
Case attention_case(const AttentionSetup& s) {
  Case c;
  c.inputs = {{{s.B, s.L, s.Hq, s.D}}, {{s.B, s.L, s.Hkv, s.D}}, {{s.B, s.L, s.Hkv, s.D}}};
  c.op = [s](const std::vector<Tensor>& in) {
    ops::AttentionParams p = s.p;
    const Tensor mask = s.mask.empty() ? Tensor{} : Tensor::from_values(s.mask, {s.B, s.L});
    if (mask.defined()) p.key_padding_mask = &mask;
    return ops::attention(in[0].transpose(1, 2), in[1].transpose(1, 2), in[2].transpose(1, 2), p);
  };
  c.reference = [s](const Values& v) {
    const int64_t B = s.B, L = s.L, Hq = s.Hq, Hkv = s.Hkv, D = s.D;
    Vec out(static_cast<size_t>(B * L * Hq * D), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < L; ++i) {
          const int64_t hk = h / (Hq / Hkv);
          std::vector<double> w(L, -INFINITY);
          for (int64_t j = 0; j < L; ++j) {
            const bool causal_ok = !s.p.causal || j <= i;
            const bool window_ok =
                !s.p.sliding_window ||
                (s.p.causal ? i - j < *s.p.sliding_window : std::abs(i - j) < *s.p.sliding_window);
            const bool mask_ok = s.mask.empty() || s.mask[b * L + j] != 0;
            if (!causal_ok || !window_ok || !mask_ok) continue;
            double dot = 0;
            for (int64_t d = 0; d < D; ++d)
              dot += v[0][((b * L + i) * Hq + h) * D + d] * v[1][((b * L + j) * Hkv + hk) * D + d];
            dot *= s.p.scale;
            if (s.p.softcap > 0) dot = s.p.softcap * std::tanh(dot / s.p.softcap);
            w[j] = dot;
          }
          const double m = *std::max_element(w.begin(), w.end());
          if (std::isinf(m)) continue;  // no visible key: a zero output row, as the op gives
          double sum = 0;
          for (double& e : w) sum += e = std::exp(e - m);
          for (int64_t j = 0; j < L; ++j)
            for (int64_t d = 0; d < D; ++d)
              out[(b * L + i) * Hq * D + h * D + d] +=
                  w[j] / sum * v[2][((b * L + j) * Hkv + hk) * D + d];
        }
    return out;
  };
  return c;
}

}  // namespace

TEST(OpsBackward, AttentionCausalGqa) {
  AttentionSetup s;
  s.p.scale = 0.6f;
  expect_passes(attention_case(s));
}

TEST(OpsBackward, AttentionSlidingWindowSoftcapAndPadding) {
  AttentionSetup s;
  s.p.scale = 0.8f;
  s.p.sliding_window = 2;
  s.p.softcap = 1.5f;
  s.mask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};  // right padding (query 4 of row 1 sees only padding)
  expect_passes(attention_case(s));
}

TEST(OpsBackward, AttentionBidirectionalWindow) {
  AttentionSetup s;
  s.Hq = 2;
  s.p.causal = false;
  s.p.sliding_window = 2;
  expect_passes(attention_case(s));
}

TEST(OpsBackward, AttentionRowsAndKeysInSeveralBlocks) {
  // 40 queries and keys: the backward's blocks of 32 (whole, and the tail), with the spans each
  // block of queries sees (causal; a causal window) and each block of keys is seen by (a
  // bidirectional window, with left padding).
  AttentionSetup s;
  s.B = 1;
  s.L = 40;
  s.Hq = 2;
  s.Hkv = 1;
  s.D = 12;
  s.p.scale = 0.35f;
  expect_passes(attention_case(s));
  s.p.sliding_window = 20;
  expect_passes(attention_case(s));
  s.p.causal = false;
  s.mask.assign(40, 1);
  for (int i = 0; i < 5; ++i) s.mask[i] = 0;
  expect_passes(attention_case(s));
}

namespace {
// Cross-entropy of [2, 3, V] logits with the labels below, against a double reference written
// from the formula (sum over counted rows of log(sum(exp(x))) - x[label]).
Case cross_entropy_case(int64_t V, double scale) {
  const std::vector<int64_t> labels = {3, -100, 0, 4, V - 1, -100};
  Case c;
  c.inputs = {{{2, 3, V}, true, DType::F32, scale}};
  c.op = [=](const std::vector<Tensor>& in) {
    return ops::cross_entropy(in[0], Tensor::from_values(labels, {2, 3}));
  };
  c.reference = [=](const Values& v) {
    double total = 0;
    for (int64_t r = 0; r < 6; ++r) {
      if (labels[r] == -100) continue;
      double sum = 0;
      for (int64_t j = 0; j < V; ++j) sum += std::exp(v[0][r * V + j]);
      total += std::log(sum) - v[0][r * V + labels[r]];
    }
    return Vec{total};
  };
  return c;
}
}  // namespace

TEST(OpsBackward, CrossEntropyIgnoresMinus100) {
  expect_passes(cross_entropy_case(5, 2.0));
  EXPECT_THROW(ops::cross_entropy(Tensor::zeros({2, 5}, DType::F32),
                                  Tensor::from_values(std::vector<int64_t>{1, 5}, {2})),
               ValueError);
}

TEST(OpsBackward, CrossEntropyRowsWiderThanAVectorRegister) {
  // 71 logits a row: the vector exp's full registers (8 or 16 lanes) and its scalar tail, on
  // peaked rows (scale 6) as well as flat ones.
  expect_passes(cross_entropy_case(71, 1.0));
  expect_passes(cross_entropy_case(71, 6.0));
}

TEST(OpsBackward, OpsWithoutBackwardRefuseToRecord) {
  Tensor x = Tensor::zeros({2, 3}, DType::F32), y = Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  autograd::set_requires_grad(y);
  EXPECT_THROW(ops::div_(x, y), NotImplementedError);
  autograd::NoGrad off;
  EXPECT_NO_THROW(ops::div_(x, y));  // recording off: the op just runs
}

TEST(Autograd, InferencePathRecordsNothing) {
  Tensor w = Tensor::zeros({3, 4}, DType::F32), x = Tensor::zeros({2, 4}, DType::F32);
  EXPECT_EQ(ops::linear(x, w).autograd(), nullptr);
  autograd::set_requires_grad(w);
  {
    autograd::NoGrad off;
    EXPECT_EQ(ops::linear(x, w).autograd(), nullptr);
    EXPECT_EQ(w.transpose(0, 1).autograd(), nullptr);
  }
  EXPECT_NE(ops::linear(x, w).autograd(), nullptr);
}

TEST(Autograd, TiedUsesAccumulateIntoOneGradient) {
  // The same leaf used twice (a tied embedding and LM head): one buffer gets both gradients.
  Tensor w = Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {3, 2});
  autograd::set_requires_grad(w);
  Tensor h =
      ops::embedding(w, Tensor::from_values(std::vector<int64_t>{1}, {1}));  // [1, 2] = (3, 4)
  Tensor logits = ops::linear(h, w);                                         // [1, 3]
  autograd::backward(logits, Tensor::from_values(std::vector<float>{1, 1, 1}, {1, 3}));
  // d/dw of sum_n h·w_n: row n gets h (3, 4) each; row 1 also gets sum_n w_n = (9, 12).
  EXPECT_EQ(ops::to_float_vector(autograd::grad_of(w)), (std::vector<float>{3, 4, 12, 16, 3, 4}));
}

TEST(Autograd, StridedViewGradientsLandOnTheirSourceElements) {
  // Attention's heads: x [B, L, H, D] seen as [B, H, L, D], and a view whose last dimension is
  // strided (permute) sliced on an outer dimension: each gradient element must reach the source
  // element it was read from (by index arithmetic on the shapes, written out here).
  const int64_t B = 2, L = 3, H = 4, D = 5;
  std::vector<float> seed(static_cast<size_t>(B * L * H * D));
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<float>(i) + 0.5f;
  Tensor x = Tensor::zeros({B, L, H, D}, DType::F32);
  autograd::set_requires_grad(x);
  autograd::backward(x.transpose(1, 2), Tensor::from_values(seed, {B, H, L, D}));
  const std::vector<float> gx = ops::to_float_vector(autograd::grad_of(x));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d)
          ASSERT_EQ(gx[((b * L + l) * H + h) * D + d], seed[((b * H + h) * L + l) * D + d]);

  Tensor y = Tensor::zeros({B, L, H, D}, DType::F32);
  autograd::set_requires_grad(y);
  // permute to [H, B, D, L] (last dimension strided by H * D), then rows h in [1, 3).
  const Tensor view = y.permute({2, 0, 3, 1}).slice(0, 1, 3);
  std::vector<float> g2(static_cast<size_t>(2 * B * D * L));
  for (size_t i = 0; i < g2.size(); ++i) g2[i] = static_cast<float>(i) + 1.0f;
  autograd::backward(view, Tensor::from_values(g2, {2, B, D, L}));
  const std::vector<float> gy = ops::to_float_vector(autograd::grad_of(y));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const float want = h >= 1 && h < 3 ? g2[(((h - 1) * B + b) * D + d) * L + l] : 0.0f;
          ASSERT_EQ(gy[((b * L + l) * H + h) * D + d], want);
        }
}
