// Backward loops of the embedding, the norms, the activations and the router's top-k and
// renormalisation. Row statistics are recomputed
// in double from the saved input (nothing of the forward's output is kept).
#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/core/half.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;

// act(x) and act'(x), in double.
std::pair<double, double> activation_and_slope(double x, Activation act) {
  switch (act) {
    case Activation::SiLU: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return {x * s, s * (1.0 + x * (1.0 - s))};
    }
    case Activation::GELU: {
      const double cdf = 0.5 * (1.0 + std::erf(x * kInvSqrt2));
      return {x * cdf, cdf + x * kInvSqrt2Pi * std::exp(-0.5 * x * x)};
    }
    case Activation::GELUTanh: {
      const double u = kSqrt2OverPi * (x + 0.044715 * x * x * x);
      const double t = std::tanh(u);
      const double du = kSqrt2OverPi * (1.0 + 3.0 * 0.044715 * x * x);
      return {0.5 * x * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du};
    }
    case Activation::ReLU:
      return {x > 0 ? x : 0.0, x > 0 ? 1.0 : 0.0};
  }
  return {0.0, 0.0};
}

// An activation of a bf16 tensor as torch 1.13's CPU kernels compute it. SiLU evaluates
// x / (1 + exp(-x)) and its backward dy · s · (1 + x · (1 - s)), s = 1 / (1 + exp(-x)), in bf16
// arithmetic: every operation rounded (checked against torch bit for bit by
// tests/training/tools/train_bf16_autocast_reference.py's trace). The others are taken as computed
// in float and rounded once.
float activation_bf16(float x, Activation act) {
  if (act == Activation::SiLU) return bf16_round(x / bf16_round(1.0f + bf16_round(std::exp(-x))));
  return bf16_round(static_cast<float>(activation_and_slope(x, act).first));
}
float activation_backward_bf16(float x, float dy, Activation act) {
  if (act == Activation::SiLU) {
    const float s = bf16_round(1.0f / bf16_round(1.0f + bf16_round(std::exp(-x))));
    return bf16_round(bf16_round(dy * s) * bf16_round(1.0f + bf16_round(x * bf16_round(1.0f - s))));
  }
  return bf16_round(static_cast<float>(dy * activation_and_slope(x, act).second));
}

// rms_norm_backward's unit of work (and of its weight gradient's partial sums).
constexpr int64_t kNormRowsPerBlock = 64;

int64_t rows_of(const Tensor& x) { return x.numel() / std::max<int64_t>(x.size(-1), 1); }

}  // namespace

void embedding_backward(const Tensor& ids, const Tensor& dy, Tensor& dw) {
  const int64_t H = dw.size(1), n = ids.numel();
  float* out = dw.data<float>();
  std::fill_n(out, dw.numel(), 0.0f);
  const float* g = dy.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids.dtype() == DType::I64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
    float* row = out + id * H;
    for (int64_t h = 0; h < H; ++h) row[h] += g[i * H + h];
  }
}

void rms_norm_backward(const Tensor& x, const Tensor& weight, float eps, bool unit_offset,
                       const Tensor& dy, Tensor& dx, Tensor* dw) {
  const int64_t H = x.size(-1), R = rows_of(x);
  const float* w = weight.data<float>();
  // Rows in fixed blocks over the pool; each block's dw in double, the blocks summed in order
  // (the same gradient whatever the number of threads).
  const int64_t blocks = (R + kNormRowsPerBlock - 1) / kNormRowsPerBlock;
  std::vector<double> dw_acc(dw ? blocks * H : 0, 0.0);
  ThreadPool::global().parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t r = b0 * kNormRowsPerBlock; r < std::min(R, b1 * kNormRowsPerBlock); ++r) {
      const float* xr = x.data<float>() + r * H;
      const float* gr = dy.data<float>() + r * H;
      float* dxr = dx.data<float>() + r * H;
      double* dwb = dw ? dw_acc.data() + r / kNormRowsPerBlock * H : nullptr;
      double ss = 0.0, dot = 0.0;
      for (int64_t i = 0; i < H; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const double inv = 1.0 / std::sqrt(ss / H + eps);
      for (int64_t i = 0; i < H; ++i) dot += gr[i] * (w[i] + (unit_offset ? 1.0 : 0.0)) * xr[i];
      for (int64_t i = 0; i < H; ++i) {
        const double wi = w[i] + (unit_offset ? 1.0 : 0.0);
        dxr[i] = static_cast<float>(inv * (gr[i] * wi - xr[i] * inv * inv * dot / H));
        if (dwb) dwb[i] += gr[i] * xr[i] * inv;
      }
    }
  });
  if (dw)
    for (int64_t i = 0; i < H; ++i) {
      double total = 0.0;
      for (int64_t b = 0; b < blocks; ++b) total += dw_acc[b * H + i];
      dw->data<float>()[i] = static_cast<float>(total);
    }
}

void layer_norm_backward(const Tensor& x, const Tensor* weight, float eps, const Tensor& dy,
                         Tensor& dx, Tensor* dw, Tensor* db) {
  const int64_t H = x.size(-1), R = rows_of(x);
  std::vector<double> dw_acc(dw ? H : 0, 0.0), db_acc(db ? H : 0, 0.0), xhat(H);
  const float* w = weight ? weight->data<float>() : nullptr;
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x.data<float>() + r * H;
    const float* gr = dy.data<float>() + r * H;
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < H; ++i) mean += xr[i];
    mean /= H;
    for (int64_t i = 0; i < H; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / H + eps);
    double sum_gw = 0.0, sum_gw_xhat = 0.0;
    for (int64_t i = 0; i < H; ++i) {
      xhat[i] = (xr[i] - mean) * inv;
      const double gw = gr[i] * (w ? w[i] : 1.0f);
      sum_gw += gw;
      sum_gw_xhat += gw * xhat[i];
      if (dw) dw_acc[i] += gr[i] * xhat[i];
      if (db) db_acc[i] += gr[i];
    }
    float* dxr = dx.data<float>() + r * H;
    for (int64_t i = 0; i < H; ++i) {
      const double gw = gr[i] * (w ? w[i] : 1.0f);
      dxr[i] = static_cast<float>(inv * (gw - sum_gw / H - xhat[i] * sum_gw_xhat / H));
    }
  }
  for (int64_t i = 0; dw && i < H; ++i) dw->data<float>()[i] = static_cast<float>(dw_acc[i]);
  for (int64_t i = 0; db && i < H; ++i) db->data<float>()[i] = static_cast<float>(db_acc[i]);
}

void activation_backward(const Tensor& x, Activation act, const Tensor& dy, Tensor& dx) {
  const int64_t n = x.numel();
  const float *xs = x.data<float>(), *g = dy.data<float>();
  float* out = dx.data<float>();
  for (int64_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(g[i] * activation_and_slope(xs[i], act).second);
}

void gated_activation_backward(const Tensor& gate, const Tensor& up, Activation act,
                               const Tensor& dy, Tensor* dgate, Tensor* dup, bool bf16) {
  const int64_t n = gate.numel();
  const float *gs = gate.data<float>(), *us = up.data<float>(), *g = dy.data<float>();
  float* dg = dgate ? dgate->data<float>() : nullptr;
  float* du = dup ? dup->data<float>() : nullptr;
  if (!bf16 && act == Activation::SiLU) {  // the tier's vector kernel (f32, vector sigmoid)
    const auto kernel = cpu::kernels().silu_mul_backward;
    ThreadPool::global().parallel_for(n, 4096, [&](int64_t begin, int64_t end) {
      kernel(gs + begin, us + begin, g + begin, dg ? dg + begin : nullptr, du ? du + begin : nullptr, end - begin);
    });
    return;
  }
  ThreadPool::global().parallel_for(n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (bf16) {
        const float gi = bf16_round(g[i]);
        if (dg) dg[i] = activation_backward_bf16(gs[i], bf16_round(gi * us[i]), act);
        if (du) du[i] = bf16_round(gi * activation_bf16(gs[i], act));
        continue;
      }
      const auto [a, slope] = activation_and_slope(gs[i], act);
      if (dg) dg[i] = static_cast<float>(g[i] * us[i] * slope);
      if (du) du[i] = static_cast<float>(g[i] * a);
    }
  });
}

void gated_activation_bf16(const Tensor& gate, const Tensor& up, Activation act, Tensor& out) {
  const int64_t n = gate.numel();
  const float *gs = gate.data<float>(), *us = up.data<float>();
  float* y = out.data<float>();
  for (int64_t i = 0; i < n; ++i)
    y[i] = bf16_round(activation_bf16(gs[i], act) * us[i]);
}

void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const int64_t H = y.size(-1), R = rows_of(y);
  const float *ys = y.data<float>(), *gs = dy.data<float>();
  float* out = dx.data<float>();
  for (int64_t r = 0; r < R; ++r) {
    const float *yr = ys + r * H, *gr = gs + r * H;
    double dot = 0.0;
    for (int64_t i = 0; i < H; ++i) dot += static_cast<double>(yr[i]) * gr[i];
    for (int64_t i = 0; i < H; ++i) out[r * H + i] = static_cast<float>(yr[i] * (gr[i] - dot));
  }
}

void sigmoid_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const int64_t n = y.numel();
  const float *ys = y.data<float>(), *gs = dy.data<float>();
  float* out = dx.data<float>();
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(gs[i] * (ys[i] * (1.0 - ys[i])));
}

void normalize_sum_backward(const Tensor& x, const Tensor& dy, Tensor& dx) {
  const int64_t H = x.size(-1), R = rows_of(x);
  const float *xs = x.data<float>(), *gs = dy.data<float>();
  float* out = dx.data<float>();
  for (int64_t r = 0; r < R; ++r) {
    const float *xr = xs + r * H, *gr = gs + r * H;
    double sum = 0.0, dot = 0.0;
    for (int64_t i = 0; i < H; ++i) {
      sum += xr[i];
      dot += static_cast<double>(xr[i]) * gr[i];
    }
    for (int64_t i = 0; i < H; ++i) out[r * H + i] = static_cast<float>((gr[i] - dot / sum) / sum);
  }
}

void topk_backward(const Tensor& indices, const Tensor& dy, Tensor& dx) {
  const int64_t k = dy.size(-1), n = dx.size(-1), R = rows_of(dy);
  const int64_t* idx = indices.data<int64_t>();
  const float* gs = dy.data<float>();
  float* out = dx.data<float>();
  std::fill(out, out + R * n, 0.0f);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t j = 0; j < k; ++j) out[r * n + idx[r * k + j]] += gs[r * k + j];
}

void tanh_backward(const Tensor& y, float cap, const Tensor& dy, Tensor& dx) {
  const int64_t n = y.numel();
  const float *ys = y.data<float>(), *gs = dy.data<float>();
  float* out = dx.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(ys[i]) / cap;
    out[i] = static_cast<float>(gs[i] * (1.0 - t * t));
  }
}

}  // namespace transformers::ops::cpu_impl
