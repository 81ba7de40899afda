// y = x · Wᵀ (+ bias) on a vector tier: splits W's rows into tasks on the thread pool and calls
// the tier's kernels for the weight format (kernels.h, WeightKernels). Two paths:
//  - few rows of x (decode, M < kLinearGemmMinRows): gemv streams each row of W once, converting
//    bf16/f16 to f32 in registers; its speed is GB/s of weights read. Integer formats (Q8_0, Q4_0,
//    the K-quants) have no gemv: their gemm takes these M, on x converted once per call.
//  - many rows (prompt processing): the tier's gemm when it has one (and takes that M:
//    gemm_rows_below), else each task converts
//    blocks of its W rows to f32 (dequant_rows) into a thread-local buffer and calls
//    single-threaded OpenBLAS sgemm on them, so our pool, not OpenBLAS's, owns the cores.
//    Quantized formats on a CPU with bf16 dot products convert W to bf16 panels instead and run
//    the BF16 gemm on them (WeightKernels::dequant_rows_bf16).
// Compiled without tier flags: nothing here runs vector code of its own.
#include <cblas.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {
void ensure_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

namespace {

// Rows of W converted to f32 at once on the BLAS path: sgemm re-packs x for every call, and
// with blocks of 64 rows that cost bf16 GEMMs 5-7% against f32; from 256 rows on it is ~1%.
constexpr int64_t kBlockRows = 256;
// Work split: a few tasks per thread, so that a thread delayed by another process (the pool
// assigns tasks dynamically) does not hold up the whole op; a GEMM task keeps >= 64 rows of W.
constexpr int64_t kTasksPerThread = 4;
constexpr int64_t kGemmMinTaskRows = 64;
constexpr int64_t kRowAlign = 16;  // task boundaries at multiples of 16 rows: no two threads write one cache line of y

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// BLAS GEMM over W rows [n0, n1): f32 weights go straight to sgemm; other formats are converted
// in equal blocks of at most kBlockRows rows (608 rows: 3 x ~203, not 256 + 256 + 96).
void blas_gemm_rows(const WeightKernels& wk, const float* x, int64_t M, int64_t K, int64_t ldx, const void* w,
                    DType wdt, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  auto sgemm = [&](const float* wf, int64_t row0, int64_t rows) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(rows),
                static_cast<int>(K), 1.0f, x, static_cast<int>(ldx), wf, static_cast<int>(K), 0.0f, y + row0,
                static_cast<int>(ldy));
  };
  if (wdt == DType::F32) {
    sgemm(static_cast<const float*>(w) + n0 * K, n0, n1 - n0);
    return;
  }
  const int64_t n_blocks = (n1 - n0 + kBlockRows - 1) / kBlockRows;
  const int64_t block_rows = round_up((n1 - n0 + n_blocks - 1) / n_blocks, kRowAlign);
  thread_local std::vector<float> block;
  block.resize(static_cast<size_t>(block_rows * K));
  for (int64_t b0 = n0; b0 < n1; b0 += block_rows) {
    const int64_t rows = std::min(block_rows, n1 - b0);
    wk.dequant_rows(w, K, b0, rows, block.data());
    sgemm(block.data(), b0, rows);
  }
}

// Rows of bf16 W per panel: 256 KiB, so that a panel stays in L2 beside the x block the BF16 gemm
// keeps there (kGemmMBlock x kGemmKBlock bf16, 256 KiB), on CPUs with 1-2 MiB of L2.
constexpr int64_t kPanelBytes = 256 << 10;

// W rows [n0, n1) of a quantized format converted to bf16 panel by panel (a buffer of the calling
// thread) and multiplied with bf16 x by the BF16 gemm.
void panel_gemm_rows(const WeightKernels& wk, const WeightKernels& bf16, const void* x, int64_t M, int64_t K,
                     int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t max_rows = std::max<int64_t>(kRowAlign, kPanelBytes / (2 * K) / kRowAlign * kRowAlign);
  const int64_t panel_rows = std::min(max_rows, n1 - n0);
  thread_local std::vector<uint16_t> panel;
  panel.resize(static_cast<size_t>(panel_rows * K));
  for (int64_t r0 = n0; r0 < n1; r0 += panel_rows) {
    const int64_t rows = std::min(panel_rows, n1 - r0);
    wk.dequant_rows_bf16(w, K, r0, rows, panel.data());
    bf16.gemm(x, M, K, ldx, panel.data(), 0, rows, y + r0, ldy);
  }
}

// x converted by wk.convert_x into a buffer of the calling thread (reused across calls), rows
// split over the pool.
const void* converted_activations(const WeightKernels& wk, const float* x, int64_t M, int64_t K, int64_t ldx,
                                  ThreadPool* pool) {
  const size_t row_bytes = static_cast<size_t>(activation_row_bytes(wk.gemm_activation, K));
  thread_local std::vector<float> buffer;  // floats: the int8 rows' f32 scales stay aligned
  buffer.resize((static_cast<size_t>(M) * row_bytes + sizeof(float) - 1) / sizeof(float));
  char* out = reinterpret_cast<char*>(buffer.data());
  auto rows = [&](int64_t m0, int64_t m1) {
    wk.convert_x(x + m0 * ldx, m1 - m0, K, ldx, out + static_cast<size_t>(m0) * row_bytes);
  };
  if (pool && M >= 64)
    pool->parallel_for(M, 16, rows);
  else
    rows(0, M);
  return out;
}

}  // namespace

template <Isa I>
void linear_on(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N,
               const float* bias, float* y, int64_t ldy, ThreadPool* pool) {
  const Kernels& tier = *kernels_for(I);
  const WeightKernels& wk = tier.weight(wdt);
  // Quantized formats have no gemv: their gemm (on int8 activations) takes every M, except
  // prompt-sized M where they have bf16 panels (then the BF16 gemm multiplies, on bf16 x).
  const bool panels = wk.dequant_rows_bf16 && M >= kPanelGemmMinRows;
  const WeightKernels& gk = panels ? tier.weight(DType::BF16) : wk;  // whose gemm and convert_x run
  const bool few_rows = M < kLinearGemmMinRows;
  const bool gemm = panels || !few_rows || !wk.gemv;
  const bool small = !panels && gemm && wk.small_gemm && M <= kSmallGemmMaxRows;
  const bool own_gemm = wk.gemm && (wk.gemm_rows_below == 0 || M < wk.gemm_rows_below);
  const bool blas = gemm && !panels && !small && !own_gemm;
  if (blas) ensure_blas_single_threaded();
  // Contiguous slices of W rows per task; a GEMV task streams at least ~64 KiB of f32 weights.
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t min_rows =
      few_rows || small ? std::max<int64_t>(4, 16384 / std::max<int64_t>(K, 1)) : kGemmMinTaskRows;
  const int64_t per =
      round_up(std::max(min_rows, (N + threads * kTasksPerThread - 1) / (threads * kTasksPerThread)), kRowAlign);
  const int64_t tasks = (N + per - 1) / per;
  // x in the format gemm wants, converted once for every task of the call.
  const void* gx = x;
  int64_t gldx = ldx;
  if (gemm && !blas && gk.convert_x) {
    gx = converted_activations(gk, x, M, K, ldx, pool);
    gldx = K;
  }
  auto work = [&](int64_t t) {
    const int64_t n0 = t * per, n1 = std::min(N, n0 + per);
    if (n0 >= n1) return;
    if (blas)
      blas_gemm_rows(wk, x, M, K, ldx, w, wdt, n0, n1, y, ldy);
    else if (panels)
      panel_gemm_rows(wk, gk, gx, M, K, gldx, w, n0, n1, y, ldy);
    else if (small)
      wk.small_gemm(gx, M, K, gldx, w, n0, n1, y, ldy);
    else if (gemm)
      wk.gemm(gx, M, K, gldx, w, n0, n1, y, ldy);
    else
      wk.gemv(x, M, K, ldx, w, n0, n1, y, ldy);
    if (bias)
      for (int64_t m = 0; m < M; ++m) tier.add(y + m * ldy + n0, bias + n0, y + m * ldy + n0, n1 - n0);
  };
  if (pool && tasks > 1) {
    pool->run(tasks, work);
  } else {
    for (int64_t t = 0; t < tasks; ++t) work(t);
  }
}

template void linear_on<Isa::AVX2>(const float*, int64_t, int64_t, int64_t, const void*, DType, int64_t, const float*,
                                   float*, int64_t, ThreadPool*);
template void linear_on<Isa::AVX512>(const float*, int64_t, int64_t, int64_t, const void*, DType, int64_t,
                                     const float*, float*, int64_t, ThreadPool*);

}  // namespace transformers::cpu
