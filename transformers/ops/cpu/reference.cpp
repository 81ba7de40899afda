// Scalar reference kernels: the plainest correct loops, accumulating in double where the order
// of a sum matters, so that tests can measure the vector kernels against them.
#include <cmath>

#include <cstring>
#include <vector>

#include "transformers/core/half.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/llm_int8.h"
#include "transformers/ops/cpu/quant_blocks.h"
#include "transformers/ops/cpu/quant_kblocks.h"

namespace transformers::cpu {
namespace {

template <DType DT>
float load_weight(const void* w, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(w)[i];
  if constexpr (DT == DType::BF16) return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  if constexpr (DT == DType::F16) return f16_to_f32_portable(static_cast<const uint16_t*>(w)[i]);
}

// Calls fn.template operator()<DT>() for a float weight dtype; any other dtype throws (naming it).
template <typename F>
auto with_float_dtype(DType dt, const char* what, F&& fn) {
  switch (dt) {
    case DType::F32: return fn.template operator()<DType::F32>();
    case DType::BF16: return fn.template operator()<DType::BF16>();
    case DType::F16: return fn.template operator()<DType::F16>();
    default:  // every other dtype, block formats included, is refused below
      break;
  }
  throw_not_float(dt, what);
}

// y = x · W[n0, n1)ᵀ (+ bias), the bias added in double before the one rounding.
template <DType DT>
void product(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
             const float* bias, float* y, int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = n0; n < n1; ++n) {
      double acc = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * ldx + k]) * load_weight<DT>(w, n * K + k);
      y[m * ldy + n] = static_cast<float>(acc);
    }
}

// gemv and gemm (f32 x) of a product function: the product without bias.
using ProductFn = void (*)(const float*, int64_t, int64_t, int64_t, const void*, int64_t, int64_t, const float*,
                           float*, int64_t);
template <ProductFn P>
void gemv_of(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
             int64_t ldy) {
  P(x, M, K, ldx, w, n0, n1, nullptr, y, ldy);
}
template <ProductFn P>
void gemm_of(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
             int64_t ldy) {
  P(static_cast<const float*>(x), M, K, ldx, w, n0, n1, nullptr, y, ldy);
}

template <DType DT>
void dequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  for (int64_t i = 0; i < rows * K; ++i) out[i] = load_weight<DT>(w, row0 * K + i);
}

template <DType DT>
constexpr WeightKernels weight_kernels() {
  return {gemv_of<product<DT>>, gemm_of<product<DT>>, dequant_rows<DT>, WeightFormat::ActivationFormat::F32, nullptr};
}

// ---- GGML's 32-element blocks (Q8_0, Q4_0, Q5_0, Q5_1) times int8 activations (quant_blocks.h).

// The 32 integer values of one weight block (q for Q8_0, q - 8 for Q4_0, q - 16 for Q5_0, q for
// Q5_1) and its scale d; `min` gets Q5_1's m (w = d q + m), 0 for the others.
template <DType DT>
float block_values(const unsigned char* b, int32_t* q, float* min) {
  uint16_t h;
  std::memcpy(&h, b, 2);
  *min = 0;
  for (int64_t j = 0; j < kQBlock; ++j) {
    if constexpr (DT == DType::Q8_0) q[j] = static_cast<int8_t>(b[2 + j]);
    if constexpr (DT == DType::Q4_0) q[j] = (j < 16 ? b[2 + j] & 0x0f : b[2 + j - 16] >> 4) - 8;
    if constexpr (DT == DType::Q5_0 || DT == DType::Q5_1) {
      constexpr int64_t qh = DT == DType::Q5_0 ? 2 : 4, qs = qh + 4;
      uint32_t high;
      std::memcpy(&high, b + qh, 4);
      q[j] = (j < 16 ? b[qs + j] & 0x0f : b[qs + j - 16] >> 4) | static_cast<int32_t>(high >> j & 1) << 4;
      if constexpr (DT == DType::Q5_0) q[j] -= 16;
    }
  }
  if constexpr (DT == DType::Q5_1) {
    uint16_t m;
    std::memcpy(&m, b + 2, 2);
    *min = f16_to_f32_portable(m);
  }
  return f16_to_f32_portable(h);
}

// y[m, n] = sum over blocks of d_w * d_x * (exact integer dot) + m_w * d_x * (sum of q_x), summed
// in double.
template <DType DT>
void qgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kQBlock, row_bytes = nb * dtype_block_bytes(DT);
  int32_t q[kQBlock];
  for (int64_t m = 0; m < M; ++m) {
    const auto* row = static_cast<const unsigned char*>(xv) + m * activation_row_bytes(ldx);
    const auto* xq = reinterpret_cast<const int8_t*>(row);
    const auto* xd = reinterpret_cast<const float*>(row + ldx);
    for (int64_t n = n0; n < n1; ++n) {
      double acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        float mw;
        const float dw =
            block_values<DT>(static_cast<const unsigned char*>(w) + n * row_bytes + b * dtype_block_bytes(DT), q, &mw);
        int64_t isum = 0, xsum = 0;
        for (int64_t j = 0; j < kQBlock; ++j) {
          isum += static_cast<int64_t>(q[j]) * xq[b * kQBlock + j];
          xsum += xq[b * kQBlock + j];
        }
        acc += static_cast<double>(dw) * xd[b] * static_cast<double>(isum) +
               static_cast<double>(mw) * xd[b] * static_cast<double>(xsum);
      }
      y[m * ldy + n] = static_cast<float>(acc);
    }
  }
}

template <DType DT>
constexpr WeightKernels quantized_weight_kernels() {
  return {nullptr, qgemm<DT>, format_dequant_rows<DT>, WeightFormat::ActivationFormat::Int8Blocks, quantize_activations};
}

// ---- K-quants (Q4_K, Q5_K, Q6_K) times int8 super-block activations (quant_kblocks.h): per
// super-block, d_x * (d * sum_e sc q q_x - dmin * sum_16 m * (sum of q_x)), the two integer sums
// exact in int64, combined in double. Decode only (gemm_rows_below): prompts take the dequantized
// product below, as on every tier.
template <DType DT>
void kgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kKBlock, row_bytes = nb * dtype_block_bytes(DT);
  KBlockIntegers k;
  for (int64_t m = 0; m < M; ++m) {
    const auto* row = static_cast<const unsigned char*>(xv) + m * kquant_activation_row_bytes(ldx);
    const auto* xq = reinterpret_cast<const int8_t*>(row);
    const auto* xd = reinterpret_cast<const float*>(row + ldx);
    const auto* xs = reinterpret_cast<const int16_t*>(row + ldx + ldx / kKBlock * 4);
    for (int64_t n = n0; n < n1; ++n) {
      double acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        decode_kblock(DT, static_cast<const unsigned char*>(w) + n * row_bytes + b * dtype_block_bytes(DT), &k);
        int64_t scaled = 0, mins = 0;
        for (int64_t g = 0; g < kKBlock / kKSumGroup; ++g) {
          int64_t isum = 0;
          for (int64_t j = 0; j < kKSumGroup; ++j) {
            const int64_t e = g * kKSumGroup + j;
            isum += static_cast<int64_t>(k.q[e]) * xq[b * kKBlock + e];
          }
          scaled += k.sc[g] * isum;
          mins += static_cast<int64_t>(k.m[g]) * xs[b * (kKBlock / kKSumGroup) + g];
        }
        acc += static_cast<double>(xd[b]) *
               (static_cast<double>(k.d) * static_cast<double>(scaled) - static_cast<double>(k.dmin) * static_cast<double>(mins));
      }
      y[m * ldy + n] = static_cast<float>(acc);
    }
  }
}

template <DType DT>
WeightKernels kquant_weight_kernels() {
  WeightKernels k{nullptr, kgemm<DT>, format_dequant_rows<DT>, WeightFormat::ActivationFormat::Int8KBlocks,
                  quantize_activations_k};
  k.gemm_rows_below = kLinearGemmMinRows;
  return k;
}

// ---- Formats without integer kernels (pre-quantized, bitsandbytes; K-quant prompts): f32 activations
// times the weights dequantized by the scalar codec, summed in double (the tiers multiply the same
// f32 values).
template <DType DT>
void dequantized_product(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
                         const float* bias, float* y, int64_t ldy) {
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t n = n0; n < n1; ++n) {
    format_dequant_rows<DT>(w, K, n, 1, row.data());
    for (int64_t m = 0; m < M; ++m) {
      double acc = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[m * ldx + k]) * row[k];
      y[m * ldy + n] = static_cast<float>(acc);
    }
  }
}

template <DType DT>
constexpr WeightKernels dequantizing_weight_kernels() {
  return {gemv_of<dequantized_product<DT>>, gemm_of<dequantized_product<DT>>, format_dequant_rows<DT>, WeightFormat::ActivationFormat::F32,
          nullptr};
}

// y[m, n] += bias[n] (bias may be null): the integer products add it after their one rounding.
void add_bias(const float* bias, int64_t M, int64_t N, float* y, int64_t ldy) {
  if (bias)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) y[m * ldy + n] += bias[n];
}

void linear(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N, const float* bias,
            float* y, int64_t ldy, ThreadPool*) {
  if (wdt == DType::Q8_0 || wdt == DType::Q4_0 || wdt == DType::Q5_0 || wdt == DType::Q5_1) {
    std::vector<unsigned char> xq(static_cast<size_t>(M * activation_row_bytes(K)));
    quantize_activations(x, M, K, ldx, xq.data());
    (wdt == DType::Q8_0   ? qgemm<DType::Q8_0>
     : wdt == DType::Q4_0 ? qgemm<DType::Q4_0>
     : wdt == DType::Q5_0 ? qgemm<DType::Q5_0>
                          : qgemm<DType::Q5_1>)(xq.data(), M, K, K, w, 0, N, y, ldy);
    add_bias(bias, M, N, y, ldy);
    return;
  }
  if (wdt == DType::LLM_INT8) {  // the one mixed-precision kernel (llm_int8.h), as on every tier
    llm_int8_gemm(x, M, K, ldx, w, 0, N, y, ldy);
    add_bias(bias, M, N, y, ldy);
    return;
  }
  const bool kquant = wdt == DType::Q4_K || wdt == DType::Q5_K || wdt == DType::Q6_K;
  if (kquant && M < kLinearGemmMinRows) {  // decode: the integer product, as the tiers
    std::vector<unsigned char> xq(static_cast<size_t>(M * kquant_activation_row_bytes(K)));
    quantize_activations_k(x, M, K, ldx, xq.data());
    reference_kernels().weight(wdt).gemm(xq.data(), M, K, K, w, 0, N, y, ldy);
    add_bias(bias, M, N, y, ldy);
    return;
  }
  if (is_block_dtype(wdt)) {  // a dequant-only format (or a prompt): the f32 product of its exact values
    std::vector<float> wf(static_cast<size_t>(N * K));
    weight_format(wdt).dequantize(w, wf.data(), N * K);
    product<DType::F32>(x, M, K, ldx, wf.data(), 0, N, bias, y, ldy);
    return;
  }
  with_float_dtype(wdt, "linear", [&]<DType DT>() { product<DT>(x, M, K, ldx, w, 0, N, bias, y, ldy); });
}

float dot(const float* a, const float* b, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(acc);
}
void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}
void add(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
void mul(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}
void scale(const float* a, float s, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] * s;
}

void rms_norm_row(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  float inv = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * (unit_offset ? 1.f + w[i] : w[i]);
}

void layer_norm_row(const float* x, const float* w, const float* b, float eps, float* out, int64_t n) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= n;
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= n;
  double inv = 1.0 / std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i) {
    double v = (x[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    out[i] = static_cast<float>(v);
  }
}

void softmax_row(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  if (mx == -INFINITY) {  // fully masked row: PyTorch gives NaN; we give zeros (never used)
    for (int64_t i = 0; i < n; ++i) x[i] = 0.f;
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - mx) / sum);
}

float silu1(float v) { return static_cast<float>(v / (1.0 + std::exp(-static_cast<double>(v)))); }
float gelu1(float v) { return static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))); }
float gelu_tanh1(float v) {
  const double c = std::sqrt(2.0 / M_PI);
  double d = v;
  return static_cast<float>(0.5 * d * (1.0 + std::tanh(c * (d + 0.044715 * d * d * d))));
}
void silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = silu1(x[i]);
}
void gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = gelu1(x[i]);
}
void gelu_tanh(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = gelu_tanh1(x[i]);
}
void silu_mul(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu1(g[i]) * u[i];
}
void gelu_tanh_mul(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gelu_tanh1(g[i]) * u[i];
}

void to_f32(const void* src, DType dt, float* dst, int64_t n) {
  with_float_dtype(dt, "to_f32", [&]<DType DT>() { dequant_rows<DT>(src, n, 0, 1, dst); });
}
void from_f32(const float* src, void* dst, DType dt, int64_t n) {
  with_float_dtype(dt, "from_f32", [&]<DType DT>() {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (DT == DType::F32) static_cast<float*>(dst)[i] = src[i];
      if constexpr (DT == DType::BF16) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      if constexpr (DT == DType::F16) static_cast<uint16_t*>(dst)[i] = f32_to_f16_portable(src[i]);
    }
  });
}

void dot_tile(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b, int64_t n,
              float* out, int64_t ldo) {
  for (int64_t i = 0; i < rows_a; ++i)
    for (int64_t j = 0; j < rows_b; ++j) out[i * ldo + j] = dot(a + i * lda, b + j * ldb, n);
}

void matmul_acc_tile(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv, float* y,
                     int64_t ldy, int64_t n) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t d = 0; d < n; ++d) {
      double acc = y[i * ldy + d];
      for (int64_t j = 0; j < cols; ++j) acc += static_cast<double>(p[i * ldp + j]) * v[j * ldv + d];
      y[i * ldy + d] = static_cast<float>(acc);
    }
}

float exp_shift_sum(float* x, float shift, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - shift));
    sum += x[i];
  }
  return static_cast<float>(sum);
}

void transpose(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

void silu_mul_backward(const float* g, const float* u, const float* dy, float* dg, float* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = g[i], s = 1.0 / (1.0 + std::exp(-x));
    if (dg) dg[i] = static_cast<float>(static_cast<double>(dy[i]) * u[i] * s * (1.0 + x * (1.0 - s)));
    if (du) du[i] = static_cast<float>(static_cast<double>(dy[i]) * x * s);
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels k{"scalar",
                         Isa::Scalar,
                         {weight_kernels<DType::F32>(), weight_kernels<DType::BF16>(), weight_kernels<DType::F16>(),
                          quantized_weight_kernels<DType::Q8_0>(), quantized_weight_kernels<DType::Q4_0>(),
                          dequantizing_weight_kernels<DType::Q4_Z>(), dequantizing_weight_kernels<DType::F8_B128>(),
                          dequantizing_weight_kernels<DType::MXFP4>(), dequantizing_weight_kernels<DType::NF4>(),
                          dequantizing_weight_kernels<DType::FP4>(), kquant_weight_kernels<DType::Q4_K>(),
                          kquant_weight_kernels<DType::Q5_K>(), kquant_weight_kernels<DType::Q6_K>(),
                          llm_int8_weight_kernels(), quantized_weight_kernels<DType::Q5_0>(),
                          quantized_weight_kernels<DType::Q5_1>()},
                         linear, dot, axpy, add, mul, scale, rms_norm_row, layer_norm_row, softmax_row,
                         silu, gelu, gelu_tanh, silu_mul, gelu_tanh_mul, to_f32, from_f32, dot_tile,
                         matmul_acc_tile, exp_shift_sum, transpose, silu_mul_backward};
  return k;
}

}  // namespace transformers::cpu
