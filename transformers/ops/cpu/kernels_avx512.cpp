// The AVX-512 tier (F/BW/VL/DQ + F16C): the shared kernel source in 512-bit vectors. Compiled
// with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c (transformers/CMakeLists.txt);
// used only where cpuid says the CPU and the OS support them.
// GCC 12's avx512fintrin.h builds some results from an undefined vector and then warns about it
// (-Wuninitialized inside the header's own _mm512_extractf64x4_pd); the warning is spurious.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // clang has no such group (the fuzz build uses clang)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "transformers/ops/cpu/simd_avx512.h"

// GEMM tile of 4 x 6 (24 accumulators, 6 weight vectors, 1 x vector: 31 of the 32 registers).
#define TCPP_GEMM_MR 4
#define TCPP_GEMM_NR 6
// Small-M tile of 8 x 3 (24 accumulators, 3 weight vectors, 1 x vector): 8 decode rows read
// each weight vector once.
#define TCPP_SMALL_GEMM_MR 8
#define TCPP_SMALL_GEMM_NR 3
// Strip GEMM tile (f32 prompts) of 4 strips x 6 W rows: 24 accumulators, 4 x vectors, 1 broadcast
// weight; per k 10 loads for 24 FMAs.
#define TCPP_STRIP_MS 4
#define TCPP_STRIP_NR 6
#define TCPP_TIER avx512
#define TCPP_TIER_ISA Isa::AVX512
#define TCPP_TIER_BF16_DOT 1
// VPDPBUSD for the int8 dot products of quantized weights, used where cpuid reports AVX512_VNNI.
#define TCPP_TIER_VNNI 1
#define TCPP_TIER_OWN_GEMM true
#include "transformers/ops/cpu/kernels_simd.inl"
