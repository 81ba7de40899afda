// The SIMD vocabulary of the AVX-512 tier (512-bit, 16 floats; F/BW/VL/DQ + F16C): the same
// operations as simd_avx2.h, for the shared kernel source (kernels_simd.inl). Include only from
// kernels_avx512.cpp.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace transformers::cpu::avx512 {

using vf = __m512;
constexpr int kLanes = 16;

inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vset1(float s) { return _mm512_set1_ps(s); }
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
// The first n (< kLanes) floats at p, zeros above; reads nothing past p + n.
inline vf vload_first(const float* p, int n) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf vfmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vfnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
inline vf vscalar_lane0(float t) { return _mm512_zextps128_ps512(_mm_set_ss(t)); }
inline vf vround(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf vexp2_int(vf n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline vf vzero_below(vf a, vf x, vf limit) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, limit, _CMP_GE_OQ), a); }
using vmask = __mmask16;
inline vmask vgt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline vmask vlt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline vmask veq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
inline vmask vne(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
inline vmask vand(vmask a, vmask b) { return static_cast<vmask>(a & b); }
inline vf vselect(vmask m, vf if_false, vf if_true) { return _mm512_mask_blend_ps(m, if_false, if_true); }
inline vf vabs(vf a) { return _mm512_abs_ps(a); }

inline float vhsum(vf v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  return _mm_cvtss_f32(_mm_add_ss(s, sh));
}
inline float vhmax(vf v) {
  __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
// The four horizontal sums of a0..a3, stored to out[0..4): halves added pairwise first, so the
// tree costs ~3 operations per sum instead of ~8.
inline void vhsum4(vf a0, vf a1, vf a2, vf a3, float* out) {
  auto fold = [](vf a) { return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1)); };
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(fold(a0), fold(a1)), _mm256_hadd_ps(fold(a2), fold(a3)));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

// kLanes bytes as unsigned integers, converted to floats.
inline vf vload_u8(const uint8_t* p) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); }
// kLanes FP8 e4m3 codes (sign, 4 exponent bits of bias 7, 3 mantissa bits) as floats, exactly:
// the 7 magnitude bits placed in an f16 (exponent bias 15) and the product by 2^8 restore the
// value, subnormals included; S.1111.111 is NaN (the codec's quiet NaN).
inline vf vload_e4m3(const uint8_t* p) {
  const __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i magnitude = _mm256_and_si256(c, _mm256_set1_epi16(0x7f));
  const __m256i h =
      _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(c, _mm256_set1_epi16(0x80)), 8), _mm256_slli_epi16(magnitude, 7));
  const __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f));
  const __mmask16 nan = _mm256_cmpeq_epi16_mask(magnitude, _mm256_set1_epi16(0x7f));
  return _mm512_mask_blend_ps(nan, v, _mm512_castsi512_ps(_mm512_set1_epi32(0x7fc00000)));
}
// A 16-entry code book (4-bit formats) in one vector and the values of kLanes indices (bytes
// 0..15) in it: one permute.
struct vbook16 {
  __m512 codes;
};
inline vbook16 vbook16_load(const float* book) { return {_mm512_loadu_ps(book)}; }
// Every entry minus s.
inline vbook16 vbook16_sub(const vbook16& book, float s) { return {_mm512_sub_ps(book.codes, _mm512_set1_ps(s))}; }
inline vf vlookup16(const vbook16& book, __m128i idx) {  // the kLanes bytes of idx
  return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(idx), book.codes);
}
inline vf vload_bf16(const uint16_t* p) {
  __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline vf vload_f16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline void vstore_f16(uint16_t* p, vf v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

// f32 -> bf16 rounded to nearest even, NaNs kept quiet (PyTorch's rounding, bit for bit; unlike
// VCVTNEPS2BF16 this keeps subnormal inputs): integer arithmetic on the bit patterns.
inline void vstore_bf16(uint16_t* p, vf v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet)));
}

inline void prefetch_nta(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_NTA); }
inline void prefetch_l1(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

}  // namespace transformers::cpu::avx512
