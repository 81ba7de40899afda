// Scalar conversions between float and the 16-bit float formats. bf16 rounding is
// round-to-nearest-even like PyTorch's; f16 uses the F16C instruction where the compiler has it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace transformers {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// f rounded to the nearest bf16 (ties to even), as a float: what a cast to bf16 and back keeps.
inline float bf16_round(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// Portable IEEE half conversions (used as the scalar reference, and where F16C is absent).
float f16_to_f32_portable(uint16_t h);
uint16_t f32_to_f16_portable(float f);

inline float f16_to_f32(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return f16_to_f32_portable(h);
#endif
}

inline uint16_t f32_to_f16(float f) {
#if defined(__F16C__)
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
  return f32_to_f16_portable(f);
#endif
}

}  // namespace transformers
