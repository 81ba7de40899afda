// Micro-benchmarks of the CPU kernels (the tier TRANSFORMERS_ISA picks, default the widest),
// printed beside this machine's limits measured at start by the loops of `transformers bench`:
//   GEMV (decode):   GB/s of weights streamed, and the ratio to memory read bandwidth;
//   GEMM (prefill):  GFLOP/s, and the ratio to the FP32 FMA peak (compare TRANSFORMERS_ISA=avx2,
//                    which uses OpenBLAS sgemm, for the BLAS figure);
//   attention, rms_norm: GB/s or GFLOP/s of the op.
// GEMV weights are rotated through enough copies to exceed the last-level cache, so the figure
// is DRAM streaming as in real decode, not a cache-resident loop.
//
// Run: build/release/bench/bench_kernels [--benchmark_filter=GEMV]. Figures are noisy while
// other processes compile (2 cores): each benchmark waits for a quiet moment first and reports
// in "others" the cores other processes used while it ran (see bench/quiet.h); repeat with
// --benchmark_repetitions=3 and distrust rows with others > 0.1.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "bench/quiet.h"
#include "cli/machine_limits.h"
#include "transformers/core/half.h"
#include "transformers/core/tensor.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

// This machine's memory read bandwidth and FP32 FMA peak for a thread count, measured once (the
// loops of `transformers bench`), the denominators of the x_membw and x_peak ratios.
const cli::MachineLimits& limits(int threads) {
  static std::map<int, cli::MachineLimits> measured;
  auto it = measured.find(threads);
  if (it == measured.end()) it = measured.emplace(threads, cli::measure_machine_limits(threads)).first;
  return it->second;
}
constexpr size_t kStreamBytes = size_t{256} << 20;  // > 8x a 32 MiB L3

// Counters as rates: each is (amount per iteration) * iterations / wall seconds.
void set_rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] = benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

// The same rate over the process CPU time shared by `threads` (see bench/quiet.h).
void set_cpu_rate(benchmark::State& state, const char* name, double per_iteration, double cpu_s, int threads) {
  if (cpu_s > 0) state.counters[name] = benchmark::Counter(per_iteration * state.iterations() * threads / cpu_s);
}

ThreadPool& pool_of(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

// dtype index of the benchmarks' arguments: 0 f32, 1 bf16, 2 f16, 3 q8_0, 4 q4_0, 5 q4_k, 6 q6_k,
// 7 q5_0, 8 nf4 (bitsandbytes), 9 q4_z (GPTQ / AWQ), 10 mxfp4, 11 f8_b128 (FineGrained FP8).
DType dtype_arg(int64_t i) {
  constexpr DType kDtypes[] = {DType::F32,  DType::BF16, DType::F16,  DType::Q8_0,  DType::Q4_0,   DType::Q4_K,
                               DType::Q6_K, DType::Q5_0, DType::NF4,  DType::Q4_Z,  DType::MXFP4, DType::F8_B128};
  return kDtypes[i];
}

// Random [N, K] weights in `dt`, `copies` times; the last set made is kept for the next
// benchmark of the same shape (Google Benchmark calls a benchmark several times while it
// calibrates the iteration count, and 256 MiB of random numbers take a while).
// The bytes come from the tensors' allocator, as a model's converted weights do: 2 MiB pages where
// the kernel gives them. A std::vector's 4 KiB pages cost the TLB, not the kernel: GEMV 2048 x 8192
// on 2 threads read 33-41 (bf16) and 40 (f32) GB/s from them, 46-51 and 58 from 2 MiB pages
// (2026-12-08, alternated binaries).
struct WeightCopies {
  int64_t N = 0, K = 0, copies = 0;
  DType dt = DType::F32;
  std::shared_ptr<Storage> storage;
  uint8_t* data() const { return static_cast<uint8_t*>(storage->data()); }
  size_t matrix_bytes() const { return dtype_nbytes(dt, N * K); }
  const void* copy(int64_t i) const { return data() + static_cast<size_t>(i % copies) * matrix_bytes(); }
};

const WeightCopies& weights(int64_t N, int64_t K, DType dt, int64_t copies) {
  static WeightCopies w;
  if (w.N == N && w.K == K && w.dt == dt && w.copies >= copies) return w;
  w = WeightCopies{N, K, copies, dt, nullptr};
  w.storage = Storage::allocate(w.matrix_bytes() * static_cast<size_t>(copies));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  const int64_t n = N * K * copies;
  if (is_block_dtype(dt)) {  // quantized from random floats, a matrix at a time
    std::vector<float> f(static_cast<size_t>(N * K));
    for (int64_t c = 0; c < copies; ++c) {
      for (auto& v : f) v = dist(rng);
      cpu::weight_format(dt).quantize(f.data(), w.data() + c * w.matrix_bytes(), N * K);
    }
    return w;
  }
  for (int64_t i = 0; i < n; ++i) {
    float f = dist(rng);
    if (dt == DType::F32) reinterpret_cast<float*>(w.data())[i] = f;
    else reinterpret_cast<uint16_t*>(w.data())[i] = dt == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
  }
  return w;
}

std::vector<float> random_vector(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// args: N, K, dtype index (dtype_arg), threads
void BM_GEMV(benchmark::State& state) {
  const int64_t N = state.range(0), K = state.range(1), threads = state.range(3);
  const DType dt = dtype_arg(state.range(2));
  const size_t matrix_bytes = dtype_nbytes(dt, N * K);
  const auto& w = weights(N, K, dt, std::max<int64_t>(2, (kStreamBytes + matrix_bytes - 1) / matrix_bytes));
  auto x = random_vector(K, 2);
  std::vector<float> y(N);
  ThreadPool& pool = pool_of(static_cast<int>(threads));
  const auto& kern = cpu::kernels();
  int64_t i = 0;
  bench::QuietGuard quiet(state);
  for (auto _ : state) {
    kern.linear(x.data(), 1, K, K, w.copy(i++), dt, N, nullptr, y.data(), N, &pool);
    benchmark::DoNotOptimize(y.data());
  }
  const double cpu_s = quiet.finish();
  set_rate(state, "GB/s", matrix_bytes * 1e-9);
  set_cpu_rate(state, "GB/s@cpu", matrix_bytes * 1e-9, cpu_s, static_cast<int>(threads));
  set_rate(state, "x_membw", matrix_bytes * 1e-9 / limits(static_cast<int>(threads)).read_gb_per_s);
  state.SetLabel(std::string(dtype_torch_name(dt)) + " " + std::to_string(threads) + "T");
}

// args: M, N, K, dtype index, threads
void BM_GEMM(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2), threads = state.range(4);
  const DType dt = dtype_arg(state.range(3));
  const auto& w = weights(N, K, dt, 1);
  auto x = random_vector(M * K, 3);
  std::vector<float> y(M * N);
  ThreadPool& pool = pool_of(static_cast<int>(threads));
  const auto& kern = cpu::kernels();
  bench::QuietGuard quiet(state);
  for (auto _ : state) {
    kern.linear(x.data(), M, K, K, w.copy(0), dt, N, nullptr, y.data(), N, &pool);
    benchmark::DoNotOptimize(y.data());
  }
  const double cpu_s = quiet.finish();
  const double gflop = 2.0 * M * N * K * 1e-9;
  set_rate(state, "GFLOP/s", gflop);
  set_cpu_rate(state, "GFLOP/s@cpu", gflop, cpu_s, static_cast<int>(threads));
  set_rate(state, "x_peak", gflop / limits(static_cast<int>(threads)).fma_gflop_per_s);
  state.SetLabel(std::string(dtype_torch_name(dt)) + " " + std::to_string(threads) + "T");
}

// args: L (queries), T (keys), causal; heads as Qwen2.5-0.5B (14 query heads over 2 KV heads, D 64).
// Runs on the global pool (TRANSFORMERS_NUM_THREADS sets its size).
void BM_Attention(benchmark::State& state) {
  const int64_t B = 1, Hq = 14, Hkv = 2, D = 64, L = state.range(0), T = state.range(1);
  Tensor q = Tensor::empty({B, Hq, L, D}, DType::F32), k = Tensor::empty({B, Hkv, T, D}, DType::F32),
         v = Tensor::empty({B, Hkv, T, D}, DType::F32);
  for (Tensor* t : {&q, &k, &v}) {
    auto r = random_vector(t->numel(), 4);
    std::copy(r.begin(), r.end(), t->data<float>());
  }
  ops::AttentionParams p;
  p.scale = 0.125f;
  p.query_position = T - L;
  bench::QuietGuard quiet(state);
  for (auto _ : state) benchmark::DoNotOptimize(ops::attention(q, k, v, p));
  const double cpu_s = quiet.finish();
  // Visible (query, key) pairs under the causal mask; 2 FLOPs per multiply-add, QK and PV.
  double pairs = 0;
  for (int64_t i = 0; i < L; ++i) pairs += static_cast<double>(T - L + i + 1);
  set_rate(state, "GFLOP/s", 4.0 * Hq * D * pairs * 1e-9);
  set_cpu_rate(state, "GFLOP/s@cpu", 4.0 * Hq * D * pairs * 1e-9, cpu_s, ThreadPool::global().size());
  set_rate(state, "KV GB/s", 2.0 * Hkv * T * D * 4 * 1e-9);
  state.SetLabel(std::to_string(ThreadPool::global().size()) + "T (global pool)");
}

// One row of n through rms_norm_row (cache-resident; single thread): GB/s of x, w and out.
void BM_RmsNormRow(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto x = random_vector(n, 5), w = random_vector(n, 6);
  std::vector<float> out(n);
  const auto& kern = cpu::kernels();
  bench::QuietGuard quiet(state);
  for (auto _ : state) {
    kern.rms_norm_row(x.data(), w.data(), 1e-6f, false, out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  const double cpu_s = quiet.finish();
  set_rate(state, "GB/s", 3.0 * n * 4 * 1e-9);
  set_cpu_rate(state, "GB/s@cpu", 3.0 * n * 4 * 1e-9, cpu_s, 1);
}

// ops::rms_norm over [rows, n] on the global pool (prefill-sized: DRAM/L3 traffic).
void BM_RmsNormOp(benchmark::State& state) {
  const int64_t rows = state.range(0), n = state.range(1);
  Tensor x = Tensor::empty({rows, n}, DType::F32), w = Tensor::empty({n}, DType::F32);
  auto r = random_vector(rows * n, 7);
  std::copy(r.begin(), r.end(), x.data<float>());
  std::fill(w.data<float>(), w.data<float>() + n, 1.0f);
  bench::QuietGuard quiet(state);
  for (auto _ : state) benchmark::DoNotOptimize(ops::rms_norm(x, w, 1e-6f));
  const double cpu_s = quiet.finish();
  set_rate(state, "GB/s", 2.0 * rows * n * 4 * 1e-9);
  set_cpu_rate(state, "GB/s@cpu", 2.0 * rows * n * 4 * 1e-9, cpu_s, ThreadPool::global().size());
  state.SetLabel(std::to_string(ThreadPool::global().size()) + "T (global pool)");
}

void gemv_args(benchmark::internal::Benchmark* b) {
  // [N, K] of decode-time projections: Qwen2.5-0.5B MLP down (896 x 4864) and gate/up (4864 x
  // 896: short rows, 504 bytes in Q4_0), a 7B attention projection (4096 x 4096), Llama-3.2-1B
  // MLP down (2048 x 8192). The K-quants (q4_k, q6_k: the q4_k_m mix) where K is a multiple of
  // 256 (Qwen2.5's 896 is not: its q4_k_m holds those matrices in q5_0, llama.cpp's fallback).
  for (auto [n, k] : {std::pair<int64_t, int64_t>{896, 4864}, {4864, 896}, {4096, 4096}, {2048, 8192}})
    for (int64_t dt : {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
      for (int64_t t : {1, 2})
        if (dt == 5 || dt == 6 ? k % 256 == 0 : dt == 11 ? k % 128 == 0 : true) b->Args({n, k, dt, t});
}

void gemm_args(benchmark::internal::Benchmark* b) {
  for (int64_t m : {128, 512})
    for (auto [n, k] : {std::pair<int64_t, int64_t>{4864, 896}, {2048, 2048}})
      for (int64_t dt : {0, 1, 2, 3, 4})
        for (int64_t t : {1, 2}) b->Args({m, n, k, dt, t});
  // The other projections of a Qwen2.5-0.5B prompt of 128 tokens: q/o (896 x 896), k/v (128 x 896),
  // down (896 x 4864), and batched decode (8 rows) through gate/up.
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{128, 896, 896}, {128, 128, 896}, {128, 896, 4864},
                         {8, 4864, 896}, {16, 4864, 896}})
    for (int64_t dt : {0, 1, 3, 4})
      for (int64_t t : {1, 2}) b->Args({m, n, k, dt, t});
}

// Quantizing f32 weights (what quantize-on-load, convert and export-gguf spend their time on):
// million weights per second over the global thread pool (TRANSFORMERS_NUM_THREADS), GGML's
// reference quantizer (imatrix 0) or its importance-weighted one (imatrix 1).
void BM_Quantize(benchmark::State& state) {
  const int64_t N = 512, K = 4096;
  const DType dt = dtype_arg(state.range(0));
  static const Tensor w = Tensor::from_values(random_vector(N * K, 3), {N, K});
  static const Tensor importance = [] {
    std::vector<float> v = random_vector(K, 4);
    for (auto& x : v) x = x * x + 0.01f;
    return Tensor::from_values(v, {K});
  }();
  for (auto _ : state) {
    const Tensor q = state.range(1) ? ops::quantize_weighted(w, dt, importance) : ops::cast(w, dt);
    benchmark::DoNotOptimize(q.raw_data());
  }
  set_rate(state, "Mweights/s", static_cast<double>(N * K) / 1e6);
}

BENCHMARK(BM_GEMV)->Apply(gemv_args)->ArgNames({"N", "K", "dt", "T"})->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_GEMM)->Apply(gemm_args)->ArgNames({"M", "N", "K", "dt", "T"})->UseRealTime()->MinTime(0.3);
BENCHMARK(BM_Attention)
    ->Args({1, 512, 1})
    ->Args({1, 4096, 1})
    ->Args({512, 512, 1})
    ->ArgNames({"L", "T", "causal"})
    ->UseRealTime();
BENCHMARK(BM_Quantize)->ArgsProduct({{3, 4, 5, 6}, {0, 1}})->ArgNames({"dt", "imatrix"})->UseRealTime();
BENCHMARK(BM_RmsNormRow)->Arg(896)->Arg(4096)->UseRealTime();
BENCHMARK(BM_RmsNormOp)->Args({512, 896})->Args({512, 4096})->ArgNames({"rows", "n"})->UseRealTime();

}  // namespace
}  // namespace transformers

int main(int argc, char** argv) {
  std::printf("Kernel table: %s. dt: 0 f32, 1 bf16, 2 f16 weights; T: threads. Attention and the rms_norm op run on\n"
              "the global pool (TRANSFORMERS_NUM_THREADS=1 for one thread). '@cpu' rates: see bench/quiet.h.\n",
              transformers::cpu::kernels().name);
  for (int threads : {1, 2}) {
    const auto& lim = transformers::limits(threads);
    std::printf("This machine, %d thread(s), %s loops: memory read %.1f GB/s, FP32 FMA peak %.0f GFLOP/s\n", threads,
                lim.isa.c_str(), lim.read_gb_per_s, lim.fma_gflop_per_s);
  }
  std::printf("Ratios: x_membw = GB/s / read, x_peak = GFLOP/s / FMA peak, for the same thread count (the '/s'\n"
              "suffix of ratio columns is Google Benchmark's rate notation).\n\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
