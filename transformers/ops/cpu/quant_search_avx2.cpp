// The avx2 tier of the quantizers' scale searches (quant_search_simd.inl). Built with the tier's
// flags and -ffp-contract=off (transformers/CMakeLists.txt): bit-identical to the scalar search.
#include "transformers/ops/cpu/quant_search.h"
#include "transformers/ops/cpu/simd_avx2.h"

#define TCPP_TIER avx2
#include "transformers/ops/cpu/quant_search_simd.inl"
