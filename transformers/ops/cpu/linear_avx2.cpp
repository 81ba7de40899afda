// y = x · Wᵀ (+ bias) on AVX2. Two paths:
//  - few rows of x (decode, M < kGemmMinRows): a dot-product kernel that streams W once, one
//    row at a time, converting bf16/f16 weights to f32 in registers. This is the memory-bound
//    GEMV of token generation; its speed is GB/s of weights read.
//  - many rows (prompt processing): each thread takes a slice of W's rows, converts it to f32 in
//    blocks (when it is bf16/f16) and calls single-threaded OpenBLAS sgemm on the block, so the
//    work is compute-bound and our pool, not OpenBLAS's, owns the cores (no oversubscription).
#include <cblas.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "transformers/core/half.h"
#include "transformers/ops/cpu/elementwise_avx2.h"
#include "transformers/ops/cpu/vec_avx2.h"

namespace transformers::cpu::avx2 {
namespace {

constexpr int64_t kGemmMinRows = 8;
// Rows of W converted to f32 at once on the GEMM path: sgemm re-packs x for every call, and
// with blocks of 64 rows that cost bf16 GEMMs 5-7% against f32; from 256 rows on it is ~1%.
constexpr int64_t kBlockRows = 256;
// Work split: a few tasks per thread, so that a thread delayed by another process (the pool
// assigns tasks dynamically) does not hold up the whole op; sgemm stays efficient down to ~64
// rows of W per call.
constexpr int64_t kTasksPerThread = 4;
constexpr int64_t kGemmMinTaskRows = 64;
constexpr int64_t kRowAlign = 16;  // task boundaries at multiples of 16 rows: no two threads write one cache line of y

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

template <DType DT>
float load1(const void* w, int64_t i) {
  if constexpr (DT == DType::F32) return static_cast<const float*>(w)[i];
  if constexpr (DT == DType::BF16) return bf16_to_f32(static_cast<const uint16_t*>(w)[i]);
  if constexpr (DT == DType::F16) return f16_to_f32(static_cast<const uint16_t*>(w)[i]);
}

template <DType DT>
const void* row_ptr(const void* w, int64_t row, int64_t K) {
  return static_cast<const char*>(w) + static_cast<size_t>(row * K) * dtype_size(DT);
}

// How far ahead of the loads W is prefetched, with the non-temporal hint. Without it, a weight
// stream evicts x from L1 once x passes ~16 KiB (K > 4096): bf16 GEMV at K = 8192 fell from
// ~30 to ~13 GB/s. NTA lines displace little, and a long distance covers DRAM latency
// (measured on Zen: 4 KiB best for f32, 8 KiB for 16-bit weights; past a row's end it fetches
// the next row, which is the next one read).
template <DType DT>
constexpr int64_t kPrefetchBytes = DT == DType::F32 ? 4096 : 8192;

// y[m0..m0+MB, n] = x[m0..m0+MB] · W[n] for one row of W: every weight vector loaded (and
// converted) once feeds MB rows of x. With MB == 1 (decode) four accumulators hide the FMA
// latency; with more rows of x, MB x 2 accumulators do.
template <DType DT, int MB>
void gemv_row(const float* x, int64_t K, int64_t ldx, const void* wr, float* out, int64_t ldy) {
  constexpr int U = MB == 1 ? 4 : 2;
  constexpr int64_t step = 8 * U;
  constexpr int64_t elem_bytes = DT == DType::F32 ? 4 : 2;
  constexpr int64_t step_bytes = step * elem_bytes;
  __m256 acc[MB][U];
  for (int m = 0; m < MB; ++m)
    for (int u = 0; u < U; ++u) acc[m][u] = _mm256_setzero_ps();
  const char* wbytes = static_cast<const char*>(wr);
  int64_t k = 0;
  for (; k + step <= K; k += step) {
    const char* ahead = wbytes + k * elem_bytes + kPrefetchBytes<DT>;
    for (int64_t off = 0; off < step_bytes; off += 64) _mm_prefetch(ahead + off, _MM_HINT_NTA);
    for (int u = 0; u < U; ++u) {
      __m256 wv = load8<DT>(wr, k + 8 * u);
      for (int m = 0; m < MB; ++m) acc[m][u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + m * ldx + k + 8 * u), wv, acc[m][u]);
    }
  }
  for (; k + 8 <= K; k += 8) {
    __m256 wv = load8<DT>(wr, k);
    for (int m = 0; m < MB; ++m) acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + m * ldx + k), wv, acc[m][0]);
  }
  for (int m = 0; m < MB; ++m) {
    __m256 a = acc[m][0];
    for (int u = 1; u < U; ++u) a = _mm256_add_ps(a, acc[m][u]);
    float s = hsum(a);
    for (int64_t kk = k; kk < K; ++kk) s += x[m * ldx + kk] * load1<DT>(wr, kk);
    out[m * ldy] = s;
  }
}

// y[m, n0..n1) for all m < M, one W row at a time. A single sequential stream per thread is
// what the hardware prefetcher follows best: interleaving 2-4 rows (4 streams a power-of-two
// row pitch apart) measured 1.5-2x slower for bf16 weights on Zen.
template <DType DT>
void gemv_rows(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
               const float* bias, float* y, int64_t ldy) {
  for (int64_t n = n0; n < n1; ++n) {
    const void* wr = row_ptr<DT>(w, n, K);
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) gemv_row<DT, 4>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy);
    switch (M - m) {
      case 3: gemv_row<DT, 3>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      case 2: gemv_row<DT, 2>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      case 1: gemv_row<DT, 1>(x + m * ldx, K, ldx, wr, y + m * ldy + n, ldy); break;
      default: break;
    }
    if (bias)
      for (int64_t mm = 0; mm < M; ++mm) y[mm * ldy + n] += bias[n];
  }
}

void ensure_blas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// GEMM over W rows [n0, n1): f32 weights go straight to sgemm; half weights are converted in
// blocks of kBlockRows rows into a thread-local buffer first.
void gemm_rows(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t n0, int64_t n1,
               const float* bias, float* y, int64_t ldy) {
  if (wdt == DType::F32) {
    const float* wf = static_cast<const float*>(w) + n0 * K;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(n1 - n0),
                static_cast<int>(K), 1.0f, x, static_cast<int>(ldx), wf, static_cast<int>(K), 0.0f, y + n0,
                static_cast<int>(ldy));
  } else {
    // Equal blocks of at most kBlockRows rows (608 rows: 3 x ~203, not 256 + 256 + 96).
    const int64_t n_blocks = (n1 - n0 + kBlockRows - 1) / kBlockRows;
    const int64_t block_rows = round_up((n1 - n0 + n_blocks - 1) / n_blocks, kRowAlign);
    thread_local std::vector<float> block;
    block.resize(static_cast<size_t>(block_rows * K));
    for (int64_t b0 = n0; b0 < n1; b0 += block_rows) {
      int64_t rows = std::min(block_rows, n1 - b0);
      to_f32(static_cast<const char*>(w) + static_cast<size_t>(b0 * K) * dtype_size(wdt), wdt, block.data(), rows * K);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(rows),
                  static_cast<int>(K), 1.0f, x, static_cast<int>(ldx), block.data(), static_cast<int>(K), 0.0f, y + b0,
                  static_cast<int>(ldy));
    }
  }
  if (bias)
    for (int64_t m = 0; m < M; ++m) add(y + m * ldy + n0, bias + n0, y + m * ldy + n0, n1 - n0);
}

}  // namespace

void linear(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N, const float* bias,
            float* y, int64_t ldy, ThreadPool* pool) {
  const bool gemm = M >= kGemmMinRows;
  if (gemm) ensure_blas_single_threaded();
  // Contiguous slices of W rows per task; a GEMV task streams at least ~64 KiB of f32 weights.
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t min_rows = gemm ? kGemmMinTaskRows : std::max<int64_t>(4, 16384 / std::max<int64_t>(K, 1));
  const int64_t per = round_up(std::max(min_rows, (N + threads * kTasksPerThread - 1) / (threads * kTasksPerThread)), kRowAlign);
  const int64_t tasks = (N + per - 1) / per;
  auto work = [&](int64_t t) {
    int64_t n0 = t * per, n1 = std::min(N, n0 + per);
    if (n0 >= n1) return;
    if (gemm) {
      gemm_rows(x, M, K, ldx, w, wdt, n0, n1, bias, y, ldy);
      return;
    }
    switch (wdt) {
      case DType::F32: gemv_rows<DType::F32>(x, M, K, ldx, w, n0, n1, bias, y, ldy); break;
      case DType::BF16: gemv_rows<DType::BF16>(x, M, K, ldx, w, n0, n1, bias, y, ldy); break;
      case DType::F16: gemv_rows<DType::F16>(x, M, K, ldx, w, n0, n1, bias, y, ldy); break;
      default: break;
    }
  };
  if (pool && tasks > 1) {
    pool->run(tasks, work);
  } else {
    for (int64_t t = 0; t < tasks; ++t) work(t);
  }
}

}  // namespace transformers::cpu::avx2
