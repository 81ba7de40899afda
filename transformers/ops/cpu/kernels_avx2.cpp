// The AVX2 + FMA + F16C tier: the shared kernel source in 256-bit vectors. Compiled with
// -mavx2 -mfma -mf16c (transformers/CMakeLists.txt); used only where cpuid says the CPU has them.
#include "transformers/ops/cpu/simd_avx2.h"

// GEMM tile of 2 x 4 (8 accumulators, 4 weight vectors, 1 x vector: 13 of the 16 registers).
// bf16/f16 prefill uses BLAS sgemm on this tier: OpenBLAS's Haswell kernel measured faster than
// this tile. f32 prefill has the strip GEMM below (114-119 GFLOP/s a thread on Zen 5, OpenBLAS 88-102).
#define TCPP_GEMM_MR 2
#define TCPP_GEMM_NR 4
// Small-M tile of 4 x 2 (8 accumulators, 2 weight vectors, 1 x vector and the conversion's
// temporaries): 8 decode rows read each weight vector from memory once, the second 4 from L1.
#define TCPP_SMALL_GEMM_MR 4
#define TCPP_SMALL_GEMM_NR 2
// Strip GEMM tile (f32 prompts) of 2 strips x 6 W rows: 12 accumulators, 2 x vectors, 1 broadcast
// weight (15 of the 16 registers).
#define TCPP_STRIP_MS 2
#define TCPP_STRIP_NR 6
#define TCPP_TIER avx2
#define TCPP_TIER_ISA Isa::AVX2
#define TCPP_TIER_BF16_DOT 0
#define TCPP_TIER_VNNI 0
#define TCPP_TIER_OWN_GEMM false
#include "transformers/ops/cpu/kernels_simd.inl"
