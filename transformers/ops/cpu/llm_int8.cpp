#include "transformers/ops/cpu/llm_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace transformers::cpu {
namespace {

constexpr float kInv127 = 7.874015718698502e-3f;  // bitsandbytes' int8_vectorwise_dequant factor
constexpr float kInv127Squared = 6.200124e-05f;   // ... and int8_mm_dequant's

// round(v) half to even, into int8 range (NaN to 0: bitsandbytes' cast is undefined there).
int8_t round_to_int8(float v) {
  if (!(v == v)) return 0;
  return static_cast<int8_t>(std::clamp(std::nearbyint(v), -127.0f, 127.0f));
}

float read_f32(const unsigned char* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// x row-wise to int8 as MatMul8bitLt does (llm_int8.h): outlier column flags, CA and SCA.
struct QuantizedActivations {
  std::vector<unsigned char> outlier;  // [K] 1 for an outlier column
  std::vector<int64_t> columns;        // the outlier columns, ascending
  std::vector<int8_t> ca;              // [M, K]
  std::vector<float> sca;              // [M]
};

void quantize_activations_lt(const float* x, int64_t M, int64_t K, int64_t ldx, float threshold,
                             QuantizedActivations& q) {
  q.outlier.assign(static_cast<size_t>(K), 0);
  q.columns.clear();
  q.ca.resize(static_cast<size_t>(M * K));
  q.sca.resize(static_cast<size_t>(M));
  const bool split = threshold > 0.0f;
  if (split)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) q.outlier[k] |= std::fabs(x[m * ldx + k]) >= threshold ? 1 : 0;
  for (int64_t k = 0; k < K; ++k)
    if (q.outlier[k]) q.columns.push_back(k);
  for (int64_t m = 0; m < M; ++m) {
    const float* row = x + m * ldx;
    float absmax = 0.0f;  // over the elements below the threshold (outliers count as 0)
    for (int64_t k = 0; k < K; ++k) {
      const float a = std::fabs(row[k]);
      if (!(split && a >= threshold)) absmax = std::max(absmax, a);
    }
    q.sca[m] = absmax;
    const float scale = 127.0f / absmax;
    int8_t* out = q.ca.data() + m * K;
    for (int64_t k = 0; k < K; ++k) out[k] = q.outlier[k] || absmax == 0.0f ? 0 : round_to_int8(row[k] * scale);
  }
}

void dequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  dequantize_llm_int8(static_cast<const char*>(w) + dtype_nbytes(DType::LLM_INT8, row0 * K), out, rows * K);
}

}  // namespace

void quantize_llm_int8_row(const float* w, void* out, int64_t K, float threshold) {
  float absmax = 0.0f;
  for (int64_t k = 0; k < K; ++k) absmax = std::max(absmax, std::fabs(w[k]));
  const float scale = 127.0f / absmax;
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < K / kInt8RowBlock; ++i, b += kInt8RowBlockBytes, w += kInt8RowBlock) {
    std::memcpy(b, &absmax, 4);
    std::memcpy(b + 4, &threshold, 4);
    auto* q = reinterpret_cast<int8_t*>(b + 8);
    for (int64_t j = 0; j < kInt8RowBlock; ++j) q[j] = absmax == 0.0f ? 0 : round_to_int8(w[j] * scale);
  }
}

void quantize_llm_int8(const float* x, void* out, int64_t n) {
  quantize_llm_int8_row(x, out, n, kLlmInt8DefaultThreshold);
}

void dequantize_llm_int8(const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kInt8RowBlock; ++i, b += kInt8RowBlockBytes, out += kInt8RowBlock) {
    const float scb = read_f32(b);
    const auto* q = reinterpret_cast<const int8_t*>(b + 8);
    for (int64_t j = 0; j < kInt8RowBlock; ++j) out[j] = static_cast<float>(q[j]) * scb * kInv127;
  }
}

int32_t int8_dot_scalar(const int8_t* a, const int8_t* b, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

float llm_int8_threshold(const void* blocks) { return read_f32(static_cast<const unsigned char*>(blocks) + 4); }

void llm_int8_gemm(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                   int64_t ldy) {
  llm_int8_gemm_with(int8_dot_scalar, x, M, K, ldx, w, n0, n1, y, ldy);
}

void llm_int8_gemm_with(Int8Dot dot, const void* xv, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0,
                        int64_t n1, float* y, int64_t ldy) {
  const auto* x = static_cast<const float*>(xv);
  // Each task of the linear driver quantizes x itself (O(M K) beside its O(M K rows) product):
  // the outlier columns depend on every row of x, which the driver's per-row convert_x cannot see.
  thread_local QuantizedActivations q;
  quantize_activations_lt(x, M, K, ldx, llm_int8_threshold(w), q);
  const int64_t blocks = K / kInt8RowBlock, row_bytes = blocks * kInt8RowBlockBytes;
  thread_local std::vector<int8_t> cb;
  thread_local std::vector<float> sub;
  cb.resize(static_cast<size_t>(K));
  sub.resize(q.columns.size());
  for (int64_t n = n0; n < n1; ++n) {
    const auto* row = static_cast<const unsigned char*>(w) + n * row_bytes;
    const float scb = read_f32(row);
    for (int64_t i = 0; i < blocks; ++i)
      std::memcpy(cb.data() + i * kInt8RowBlock, row + i * kInt8RowBlockBytes + 8, kInt8RowBlock);
    for (size_t c = 0; c < q.columns.size(); ++c)
      sub[c] = static_cast<float>(cb[q.columns[c]]) * scb * kInv127;
    for (int64_t m = 0; m < M; ++m) {
      const int32_t acc = dot(q.ca.data() + m * K, cb.data(), K);
      float v = static_cast<float>(acc) * (q.sca[m] * scb) * kInv127Squared;
      float outliers = 0.0f;
      for (size_t c = 0; c < q.columns.size(); ++c) outliers += x[m * ldx + q.columns[c]] * sub[c];
      y[m * ldy + n] = v + outliers;
    }
  }
}

WeightKernels llm_int8_weight_kernels() {
  return {nullptr, llm_int8_gemm, dequant_rows, WeightFormat::ActivationFormat::F32, nullptr};
}

}  // namespace transformers::cpu
