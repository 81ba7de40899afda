// The CPU kernel tables: raw-pointer kernels below the ops/ boundary, one table per instruction
// set tier (isa.h): the scalar reference (reference.cpp), AVX2 and AVX-512 (one shared source,
// kernels_simd.inl, compiled once per tier). The table ops/ uses is picked once at run time
// (TRANSFORMERS_ISA forces one); tests run every tier the CPU has against the reference.
#pragma once

#include <cstdint>
#include <span>

#include "transformers/core/dtype.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/isa.h"

namespace transformers::cpu {

// What a weight format is, whatever the tier: its element type, how elements are grouped into
// blocks (1 for plain floats; quantized formats store a block of elements with its scales), and
// the format the kernels want the activations in.
// Quantized formats (Q8_0, Q4_0, the pre-quantized, bitsandbytes and K-quant blocks) also carry their
// scalar codec, the same on every tier.
struct WeightFormat {
  // Int8Blocks: rows of int8 with an f32 scale per 32 (quant_blocks.h, quantize_activations).
  // Int8Pairs: the same values laid out for the VNNI kernels, with each block's sum (quant_blocks.h,
  // vnni_activation_row_bytes): made once per call, not once per task.
  // Int8KBlocks: int8 with an f32 scale per 256 and int16 sums per 16, for the K-quants
  // (quant_kblocks.h, quantize_activations_k).
  // F32Strips: f32 x cut into strips of a vector's worth of rows (the tier's lanes), each strip
  // stored k-major ([K][rows of the strip]; the last strip may be narrower), for the f32 GEMM's
  // outer products (kernels_gemm_strips.inl). 4 bytes per element like F32, laid out per tier.
  enum class ActivationFormat : uint8_t { F32, BF16, Int8Blocks, Int8Pairs, Int8KBlocks, F32Strips };
  DType dtype;
  const char* name;
  int64_t block_elements;
  int64_t block_bytes;
  ActivationFormat activation;
  // n f32 (a multiple of block_elements) to blocks and back; nullptr for the float formats
  // (ops::cast converts those).
  void (*quantize)(const float* x, void* out, int64_t n);
  void (*dequantize)(const void* in, float* out, int64_t n);
  // One scale per row (LLM_INT8): quantize must be given exactly one row (n = the last dimension).
  bool row_scaled = false;
  // One row of n elements with importance[n], the importance of each input column (GGML's
  // quantizers given an importance matrix): Q4_0 and the K-quants; nullptr for a format whose
  // quantizer has no weighted form (ops::quantize_weighted then calls quantize).
  void (*quantize_weighted)(const float* x, void* out, int64_t n, const float* importance) = nullptr;
};
// Bytes of one row of K activations in a format.
int64_t activation_row_bytes(WeightFormat::ActivationFormat format, int64_t K);

// The kernels that read a [N, K] row-major weight matrix stored in one format (one entry per
// format and tier, as ggml's type traits). x and y are f32 with leading dimensions ldx and ldy.
struct WeightKernels {
  // y[m * ldy + n] = sum_k x[m * ldx + k] * W[n, k] for m < M, n in [n0, n1), each row of W
  // streamed once: the memory-bound product of token generation (few rows of x).
  void (*gemv)(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
               int64_t ldy);
  // The same contract for many rows of x (prompt processing, compute-bound), with x in the
  // format gemm_activation names: f32 rows as given, or rows made by convert_x (ldx counts
  // elements of that format). nullptr: the linear driver converts blocks of W with dequant_rows
  // and calls BLAS sgemm on them.
  void (*gemm)(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
               int64_t ldy);
  // Rows [row0, row0 + rows) of W as f32, contiguous in out (rows * K floats).
  void (*dequant_rows)(const void* w, int64_t K, int64_t row0, int64_t rows, float* out);
  // What gemm wants x in: F32 (x used as is) or BF16 (rounded to nearest even, for bf16 dot
  // products, VDPBF16PS; sums stay f32). gemv always takes f32 x.
  WeightFormat::ActivationFormat gemm_activation;
  // f32 rows x[M, K] (leading dimension ldx) to gemm_activation, contiguous in out (M rows of
  // activation_row_bytes); nullptr when gemm_activation is F32. The driver converts once per
  // call, shared by every task of the call. Int8Blocks formats have no gemv: their gemm takes
  // every M, on activations quantized once per call.
  void (*convert_x)(const float* x, int64_t M, int64_t K, int64_t ldx, void* out);
  // gemm's contract for kSmallGemmMinRows <= M <= kSmallGemmMaxRows (a decode step of several
  // sequences), x in gemm_activation too: W streamed from memory once at the GEMV's rate, with
  // M products per weight. nullptr: the driver uses gemm (or BLAS) for these M as well.
  // (F32Strips is the exception: the strips are a prompt layout, and small_gemm takes f32 rows as
  // given; small_gemm_takes_converted_x).
  void (*small_gemm)(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                     int64_t ldy) = nullptr;
  // Prompt-sized products (M >= kPanelGemmMinRows) of a quantized format on a tier whose BF16
  // gemm takes bf16 x (VDPBF16PS): rows [row0, row0 + rows) of W as bf16 (round to nearest even),
  // contiguous in out. The driver converts W panel by panel into a buffer that stays in L2 and
  // multiplies each with the BF16 gemm, which does twice the products per instruction of the int8
  // kernels' path. nullptr: gemm (or BLAS) takes every M.
  void (*dequant_rows_bf16)(const void* w, int64_t K, int64_t row0, int64_t rows, uint16_t* out) = nullptr;
  // > 0: gemm takes M below this only (the K-quants' integer kernels, made for decode); larger M
  // go to the BLAS path on dequant_rows. 0: gemm takes every M.
  int64_t gemm_rows_below = 0;
};

// Whether small_gemm takes x made by convert_x (else f32 rows as given).
inline bool small_gemm_takes_converted_x(const WeightKernels& wk) {
  return wk.convert_x && wk.gemm_activation != WeightFormat::ActivationFormat::F32Strips;
}
// The rows of x that convert_x must be given together, from the first row of a call (the row
// chunks of a parallel conversion start at multiples of it): F32Strips packs strips of up to 16
// rows (the AVX-512 tier's lanes; a multiple of every tier's).
constexpr int64_t kActivationRowGroup = 16;

// linear() uses gemm from this many rows of x on, gemv below.
constexpr int64_t kLinearGemmMinRows = 8;
// ... and small_gemm, where the format has one, from this many rows (its tile reads each weight
// once for up to 8 rows of x, where gemv's tiles of at most 4 rows read W twice from 5 rows on;
// f32 and bf16 on Zen 5 measured it ahead from 4 rows, level at 2-3) up to this many rows.
constexpr int64_t kSmallGemmMinRows = 4;
constexpr int64_t kSmallGemmMaxRows = 32;
// The rows of x from which linear() leaves the gemv for a gemm of the format.
inline int64_t gemm_min_rows(const WeightKernels& wk) { return wk.small_gemm ? kSmallGemmMinRows : kLinearGemmMinRows; }
// Whether linear() runs M rows of x through a gemm (gemm, small_gemm, panels or BLAS, on x in
// the gemm's activation format) rather than the gemv.
inline bool linear_uses_gemm(const WeightKernels& wk, int64_t M) { return !wk.gemv || M >= gemm_min_rows(wk); }
// ... and the bf16 panels of dequant_rows_bf16, where the format has it, from this many rows on.
constexpr int64_t kPanelGemmMinRows = 8;


constexpr int kWeightFormatCount = 16;
// The table slot of a weight dtype (F32, BF16, F16, Q8_0, Q4_0, Q4_Z, F8_B128, MXFP4, NF4,
// FP4, Q4_K, Q5_K, Q6_K, LLM_INT8, Q5_0, Q5_1). Any other dtype throws
// ValueError naming it: a format without kernels is an error, never zeros.
int weight_format_index(DType dt);
const WeightFormat& weight_format(DType dt);
// For conversions defined on float dtypes only (to_f32, from_f32): ValueError naming `what` and dt.
[[noreturn]] void throw_not_float(DType dt, const char* what);

// WeightKernels::dequant_rows of a block format through its scalar codec (the same bytes on
// every tier; the reference's, and the tiers' for the formats with integer kernels). The formats
// without integer kernels (Q4_Z, F8_B128, MXFP4, NF4, FP4) have on the vector tiers a gemv that
// multiplies each block's values against x as it decodes them (code-book lookups, e4m3 through
// f16) and rows decoded by the same code, bit-exact with the codec, and no gemm: prompt-sized
// products go to the linear driver's BLAS path on decoded panels. The K-quants (Q4_K, Q5_K, Q6_K)
// have an integer gemm for decode (M < kLinearGemmMinRows, gemm_rows_below) and take that path for
// prompts.
template <DType DT>
void format_dequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  weight_format(DT).dequantize(static_cast<const char*>(w) + dtype_nbytes(DT, row0 * K), out, rows * K);
}

struct Kernels {
  const char* name;
  Isa isa;

  // Per weight format, indexed by weight_format_index.
  WeightKernels weights[kWeightFormatCount];
  const WeightKernels& weight(DType dt) const { return weights[weight_format_index(dt)]; }

  // y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]); x, y f32 with leading dimensions ldx, ldy;
  // w is a row-major [N, K] matrix of a weight format (F32, BF16 or F16) with leading dimension
  // K. Runs on `pool` (nullptr: the calling thread only).
  void (*linear)(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N,
                 const float* bias, float* y, int64_t ldy, ThreadPool* pool);

  // Reductions and elementwise maps over n contiguous floats.
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
  void (*add)(const float* a, const float* b, float* out, int64_t n);
  void (*mul)(const float* a, const float* b, float* out, int64_t n);
  void (*scale)(const float* a, float s, float* out, int64_t n);

  // out = x / sqrt(mean(x^2) + eps) * (unit_offset ? 1 + w : w), one row of n.
  void (*rms_norm_row)(const float* x, const float* w, float eps, bool unit_offset, float* out, int64_t n);
  // out = (x - mean) / sqrt(var + eps) * w + b (w, b may be null), one row of n.
  void (*layer_norm_row)(const float* x, const float* w, const float* b, float eps, float* out, int64_t n);
  // In-place softmax of one row of n (max-subtracted, f32).
  void (*softmax_row)(float* x, int64_t n);

  // Activations, in place on n floats; and the gated forms out = act(gate) * up.
  void (*silu)(float* x, int64_t n);
  void (*gelu)(float* x, int64_t n);       // exact (erf)
  void (*gelu_tanh)(float* x, int64_t n);  // tanh approximation (gelu_new, gelu_pytorch_tanh)
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  void (*gelu_tanh_mul)(const float* gate, const float* up, float* out, int64_t n);

  // n floats of a float dtype (F32, BF16, F16) to f32 and back (round to nearest even); any
  // other dtype throws ValueError.
  void (*to_f32)(const void* src, DType src_dt, float* dst, int64_t n);
  void (*from_f32)(const float* src, void* dst, DType dst_dt, int64_t n);

  // Tiles of blocked attention (small matrices in L1/L2, any row strides):
  // out[i * ldo + j] = dot(a + i * lda, b + j * ldb, n) for i < rows_a, j < rows_b (S = Q Kᵀ).
  void (*dot_tile)(const float* a, int64_t lda, int64_t rows_a, const float* b, int64_t ldb, int64_t rows_b,
                   int64_t n, float* out, int64_t ldo);
  // y[i * ldy + d] += sum_j p[i * ldp + j] * v[j * ldv + d] for i < rows, j < cols, d < n (O += P V).
  void (*matmul_acc_tile)(const float* p, int64_t ldp, int64_t rows, int64_t cols, const float* v, int64_t ldv,
                          float* y, int64_t ldy, int64_t n);
  // x[i] = exp(x[i] - shift) for n floats (exp(-inf) = 0); returns the sum of the results.
  float (*exp_shift_sum)(float* x, float shift, int64_t n);

  // dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols (the transposed operands of the
  // training GEMMs, dW = dYᵀ·X as linear(dYᵀ, Xᵀ)).
  void (*transpose)(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd);

  // The backward of out = silu(gate) * up over n floats: with s = sigmoid(gate),
  // dgate = dy * up * s * (1 + gate * (1 - s)) and dup = dy * gate * s (either output may be null).
  void (*silu_mul_backward)(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n);
};

const Kernels& reference_kernels();
// The table of a tier; nullptr when this CPU lacks its instructions.
const Kernels* kernels_for(Isa isa);
// The table ops/ uses: selected_isa()'s, chosen once.
const Kernels& kernels();

// One weight of a linear call: y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]) for n < N.
struct LinearPart {
  const void* w;
  DType wdt;
  int64_t N;
  const float* bias;
  float* y;
  int64_t ldy;
};

// The linear driver of the vector tiers (linear_driver.cpp): splits W's rows over the pool and
// calls the tier's WeightKernels (gemv for few rows of x, gemm or BLAS for many). linear_group
// multiplies one x by several weights (q/k/v, gate/up) with the tasks of all of them in one
// dispatch of the pool, each part computed exactly as linear_on alone computes it: decode reads
// the weights back to back, without a barrier and a wake-up of the pool between them.
void linear_group(const Kernels& tier, const float* x, int64_t M, int64_t K, int64_t ldx,
                  std::span<const LinearPart> parts, ThreadPool* pool);
template <Isa I>
void linear_on(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N,
               const float* bias, float* y, int64_t ldy, ThreadPool* pool);

// OpenBLAS runs single-threaded inside our pool's tasks, so the pool, not OpenBLAS, owns the
// cores (linear_driver.cpp; every caller of sgemm calls it first, it acts once).
void ensure_blas_single_threaded();

}  // namespace transformers::cpu
