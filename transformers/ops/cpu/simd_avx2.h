// The SIMD vocabulary of the AVX2 tier (256-bit, 8 floats): the small set of operations the
// shared kernel source (kernels_simd.inl) is written in. Include only from kernels_avx2.cpp.
// Everything is inside the tier's namespace, so no inline function compiled with AVX2 flags can
// be chosen by the linker for code that runs on another tier.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace transformers::cpu::avx2 {

using vf = __m256;
constexpr int kLanes = 8;

inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vset1(float s) { return _mm256_set1_ps(s); }
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
// The first n (< kLanes) floats at p, zeros above; reads nothing past p + n (masked lanes do not fault).
inline vf vload_first(const float* p, int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
}
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vfmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }    // a * b + c
inline vf vfnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a * b
// t in lane 0, zeros elsewhere.
inline vf vscalar_lane0(float t) { return _mm256_setr_ps(t, 0, 0, 0, 0, 0, 0, 0); }
inline vf vround(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// 2^n for integral n in [-127, 128] (the exponent field built directly).
inline vf vexp2_int(vf n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
// a where x >= limit, 0 where x < limit.
inline vf vzero_below(vf a, vf x, vf limit) { return _mm256_andnot_ps(_mm256_cmp_ps(x, limit, _CMP_LT_OQ), a); }
// Lane masks of comparisons (false where either side is NaN), and the per-lane choice.
using vmask = __m256;
inline vmask vgt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline vmask vlt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline vmask veq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
inline vmask vne(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
inline vmask vand(vmask a, vmask b) { return _mm256_and_ps(a, b); }
inline vf vselect(vmask m, vf if_false, vf if_true) { return _mm256_blendv_ps(if_false, if_true, m); }
inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }

inline float vhsum(vf v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 sh = _mm_movehdup_ps(lo);
  __m128 s = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, s);
  return _mm_cvtss_f32(_mm_add_ss(s, sh));
}
inline float vhmax(vf v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
// The four horizontal sums of a0..a3, stored to out[0..4).
inline void vhsum4(vf a0, vf a1, vf a2, vf a3, float* out) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}

// Widening loads of 16-bit floats (exact) and the f16 narrowing store (round to nearest even).
// kLanes bytes as unsigned integers, converted to floats.
inline vf vload_u8(const uint8_t* p) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))); }
// kLanes FP8 e4m3 codes (sign, 4 exponent bits of bias 7, 3 mantissa bits) as floats, exactly:
// the 7 magnitude bits placed in an f16 (exponent bias 15) and the product by 2^8 restore the
// value, subnormals included; S.1111.111 is NaN (the codec's quiet NaN).
inline vf vload_e4m3(const uint8_t* p) {
  const __m128i c = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  const __m128i magnitude = _mm_and_si128(c, _mm_set1_epi16(0x7f));
  const __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x80)), 8), _mm_slli_epi16(magnitude, 7));
  const __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
  const __m256i nan = _mm256_cvtepi16_epi32(_mm_cmpeq_epi16(magnitude, _mm_set1_epi16(0x7f)));
  return _mm256_blendv_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)), _mm256_castsi256_ps(nan));
}
// A 16-entry code book (4-bit formats) and the values of kLanes indices (bytes 0..15) in it:
// two permutes of its halves, blended on each index's bit 3.
struct vbook16 {
  __m256 low, high;
};
inline vbook16 vbook16_load(const float* book) { return {_mm256_loadu_ps(book), _mm256_loadu_ps(book + 8)}; }
// Every entry minus s.
inline vbook16 vbook16_sub(const vbook16& book, float s) {
  const __m256 v = _mm256_set1_ps(s);
  return {_mm256_sub_ps(book.low, v), _mm256_sub_ps(book.high, v)};
}
inline vf vlookup16(const vbook16& book, __m128i idx) {  // the first kLanes bytes of idx
  const __m256i i = _mm256_cvtepu8_epi32(idx);
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(book.low, i), _mm256_permutevar8x32_ps(book.high, i),
                          _mm256_castsi256_ps(_mm256_slli_epi32(i, 28)));
}
inline vf vload_bf16(const uint16_t* p) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline vf vload_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline void vstore_f16(uint16_t* p, vf v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

// f32 -> bf16 rounded to nearest even, NaNs kept quiet (PyTorch's rounding, bit for bit):
// integer arithmetic on the bit patterns.
inline void vstore_bf16(uint16_t* p, vf v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  // |u| > 0x7f800000 as signed compare: both sides are non-negative after the mask.
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);  // 8 values <= 0xffff
  const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
}

inline void prefetch_nta(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_NTA); }
inline void prefetch_l1(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }

}  // namespace transformers::cpu::avx2
