// y = x · Wᵀ (+ bias) on a vector tier: splits W's rows into tasks on the thread pool and calls
// the tier's kernels for the weight format (kernels.h, WeightKernels). Two paths:
//  - few rows of x (decode, M < kSmallGemmMinRows, or kLinearGemmMinRows for a format without
//    small_gemm): gemv streams each row of W once, converting bf16/f16 to f32 in registers; its
//    speed is GB/s of weights read. Integer formats (Q8_0, Q4_0, the K-quants) have no gemv:
//    their gemm takes these M, on x converted once per call.
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

// x converted by wk.convert_x into `buffer` (reused across calls), rows split over the pool.
const void* converted_activations(const WeightKernels& wk, const float* x, int64_t M, int64_t K, int64_t ldx,
                                  ThreadPool* pool, std::vector<float>& buffer) {
  const size_t row_bytes = static_cast<size_t>(activation_row_bytes(wk.gemm_activation, K));
  // floats: the int8 rows' f32 scales stay aligned
  buffer.resize((static_cast<size_t>(M) * row_bytes + sizeof(float) - 1) / sizeof(float));
  char* out = reinterpret_cast<char*>(buffer.data());
  auto rows = [&](int64_t m0, int64_t m1) {
    wk.convert_x(x + m0 * ldx, m1 - m0, K, ldx, out + static_cast<size_t>(m0) * row_bytes);
  };
  // Chunks of whole row groups (kActivationRowGroup): a layout of strips (F32Strips) is packed
  // strip by strip, from the call's first row.
  const int64_t groups = (M + kActivationRowGroup - 1) / kActivationRowGroup;
  if (pool && M >= 64)
    pool->parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
      rows(g0 * kActivationRowGroup, std::min(M, g1 * kActivationRowGroup));
    });
  else
    rows(0, M);
  return out;
}

// How one weight of a call is multiplied: the path its format and M take, its x in that path's
// format, and its rows cut into tasks.
struct PartPlan {
  LinearPart part;
  const WeightKernels* wk = nullptr;  // the weight format's kernels
  const WeightKernels* gk = nullptr;  // whose gemm and convert_x run (BF16's on the panel path)
  bool panels = false, small = false, gemm = false, blas = false;
  const void* gx = nullptr;  // x as the gemm wants it
  int64_t gldx = 0;
  int64_t per = 0, tasks = 0;  // W rows per task, tasks
};

// `earlier`: the plans of the group's parts before this one, whose converted x this part reuses
// when it wants the same conversion (q/k/v, gate/up: one conversion of x, not one per weight).
PartPlan plan_part(const Kernels& tier, const LinearPart& part, const float* x, int64_t M, int64_t K, int64_t ldx,
                   ThreadPool* pool, std::vector<float>& buffer, std::span<const PartPlan> earlier) {
  PartPlan p;
  p.part = part;
  p.wk = &tier.weight(part.wdt);
  const WeightKernels& wk = *p.wk;
  // Quantized formats have no gemv: their gemm (on int8 activations) takes every M, except
  // prompt-sized M where they have bf16 panels (then the BF16 gemm multiplies, on bf16 x).
  p.panels = wk.dequant_rows_bf16 && M >= kPanelGemmMinRows;
  p.gk = p.panels ? &tier.weight(DType::BF16) : p.wk;
  const bool few_rows = M < gemm_min_rows(wk);
  p.gemm = p.panels || !few_rows || !wk.gemv;
  p.small = !p.panels && p.gemm && wk.small_gemm && M <= kSmallGemmMaxRows;
  const bool own_gemm = wk.gemm && (wk.gemm_rows_below == 0 || M < wk.gemm_rows_below);
  p.blas = p.gemm && !p.panels && !p.small && !own_gemm;
  if (p.blas) ensure_blas_single_threaded();
  // Contiguous slices of W rows per task; a GEMV task streams at least ~64 KiB of f32 weights.
  const int64_t threads = pool ? pool->size() : 1;
  const int64_t min_rows =
      few_rows || p.small ? std::max<int64_t>(4, 16384 / std::max<int64_t>(K, 1)) : kGemmMinTaskRows;
  const int64_t N = part.N;
  p.per = round_up(std::max(min_rows, (N + threads * kTasksPerThread - 1) / (threads * kTasksPerThread)), kRowAlign);
  p.tasks = (N + p.per - 1) / p.per;
  // x in the format gemm wants, converted once for every task of the call.
  p.gx = x;
  p.gldx = ldx;
  if (p.gemm && !p.blas && p.gk->convert_x && (!p.small || small_gemm_takes_converted_x(*p.gk))) {
    const auto same = std::find_if(earlier.begin(), earlier.end(), [&](const PartPlan& e) {
      return e.gx != x && e.gk->convert_x == p.gk->convert_x && e.gk->gemm_activation == p.gk->gemm_activation;
    });
    p.gx = same != earlier.end() ? same->gx : converted_activations(*p.gk, x, M, K, ldx, pool, buffer);
    p.gldx = K;
  }
  return p;
}

void run_part_task(const Kernels& tier, const PartPlan& p, int64_t t, const float* x, int64_t M, int64_t K,
                   int64_t ldx) {
  const LinearPart& w = p.part;
  const int64_t n0 = t * p.per, n1 = std::min(w.N, n0 + p.per);
  if (n0 >= n1) return;
  if (p.blas)
    blas_gemm_rows(*p.wk, x, M, K, ldx, w.w, w.wdt, n0, n1, w.y, w.ldy);
  else if (p.panels)
    panel_gemm_rows(*p.wk, *p.gk, p.gx, M, K, p.gldx, w.w, n0, n1, w.y, w.ldy);
  else if (p.small)
    p.wk->small_gemm(p.gx, M, K, p.gldx, w.w, n0, n1, w.y, w.ldy);
  else if (p.gemm)
    p.wk->gemm(p.gx, M, K, p.gldx, w.w, n0, n1, w.y, w.ldy);
  else
    p.wk->gemv(x, M, K, ldx, w.w, n0, n1, w.y, w.ldy);
  if (w.bias)
    for (int64_t m = 0; m < M; ++m) tier.add(w.y + m * w.ldy + n0, w.bias + n0, w.y + m * w.ldy + n0, n1 - n0);
}

}  // namespace

void linear_group(const Kernels& tier, const float* x, int64_t M, int64_t K, int64_t ldx,
                  std::span<const LinearPart> parts, ThreadPool* pool) {
  if (parts.empty()) return;
  // One buffer of converted x per part (the calling thread's, reused across calls).
  thread_local std::vector<std::vector<float>> buffers;
  if (buffers.size() < parts.size()) buffers.resize(parts.size());
  std::vector<PartPlan> plans;
  plans.reserve(parts.size());
  std::vector<int64_t> first_task;  // the group's task index where each part's tasks start
  int64_t tasks = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    plans.push_back(plan_part(tier, parts[i], x, M, K, ldx, pool, buffers[i], plans));
    first_task.push_back(tasks);
    tasks += plans.back().tasks;
  }
  auto work = [&](int64_t t) {
    const size_t i = static_cast<size_t>(std::upper_bound(first_task.begin(), first_task.end(), t) - first_task.begin()) - 1;
    run_part_task(tier, plans[i], t - first_task[i], x, M, K, ldx);
  };
  if (pool && tasks > 1) {
    pool->run(tasks, work);
  } else {
    for (int64_t t = 0; t < tasks; ++t) work(t);
  }
}

template <Isa I>
void linear_on(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, DType wdt, int64_t N,
               const float* bias, float* y, int64_t ldy, ThreadPool* pool) {
  const LinearPart part{w, wdt, N, bias, y, ldy};
  linear_group(*kernels_for(I), x, M, K, ldx, {&part, 1}, pool);
}

template void linear_on<Isa::AVX2>(const float*, int64_t, int64_t, int64_t, const void*, DType, int64_t, const float*,
                                   float*, int64_t, ThreadPool*);
template void linear_on<Isa::AVX512>(const float*, int64_t, int64_t, int64_t, const void*, DType, int64_t,
                                     const float*, float*, int64_t, ThreadPool*);

}  // namespace transformers::cpu
