// GGML's 32-element blocks (Q8_0, Q4_0, Q5_0, Q5_1) times int8 activations (quant_blocks.h), part of the shared tier
// source (included by kernels_simd.inl inside the tier's namespace). One 32-element block is one
// 256-bit vector of int8 on both tiers. The integer dot uses the sign trick of llama.cpp:
// |x| (u8) times sign(x) * w (s8), so one instruction multiplies unsigned by signed bytes:
// maddubs + madd (pair sums stay below 2 * 127 * 127, no saturation). |x| is shared by the 4
// weight rows of a tile; each block's int32 sums become floats scaled by d_w * d_x. Q5_1's blocks
// (w = d q + m) add m * d_x * (the block's sum of q_x), that sum taken by the same instructions
// against ones. An AVX-512 CPU with VNNI takes two to four blocks per instruction instead
// (qgemm_vnni below).
// (quant_blocks.h is included by kernels_simd.inl, outside the tier's namespace; its inline
// activation_row_bytes is not called here, per the rule of that file.)

inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

inline float block_scale(const unsigned char* b) {
  uint16_t h;
  std::memcpy(&h, b, 2);
  return _cvtsh_ss(h);
}

// Bytes per block of the formats with int8 kernels here.
template <DType DT>
constexpr int64_t qblock_bytes() {
  return DT == DType::Q8_0 ? kQ8_0Bytes : DT == DType::Q4_0 ? kQ4_0Bytes : DT == DType::Q5_0 ? kQ5_0Bytes : kQ5_1Bytes;
}

// 32 bits as 32 bytes, 0xff where bit i of `bits` is set (byte i).
inline __m256i bits_to_bytes(uint32_t bits) {
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

// Whether a format's blocks carry a min (w = d q + m: Q5_1) beside their scale.
template <DType DT>
constexpr bool kBlockMin = DT == DType::Q5_1;

// The 32 signed values of a weight block: q (Q8_0), nibble - 8 (Q4_0, low nibbles first),
// (nibble | fifth bit << 4) - 16 (Q5_0: the nibbles after 4 bytes of fifth bits), or
// nibble | fifth bit << 4 (Q5_1: after d, m and the fifth bits; 0..31).
template <DType DT>
inline __m256i block_int8(const unsigned char* b) {
  if constexpr (DT == DType::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
  } else {
    constexpr bool fifth_bits = DT == DType::Q5_0 || DT == DType::Q5_1;
    constexpr int64_t qh = DT == DType::Q5_1 ? 4 : 2, qs = fifth_bits ? qh + 4 : 2;
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + qs));
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low), _mm_and_si128(packed, low));
    if constexpr (fifth_bits) {
      uint32_t high;
      std::memcpy(&high, b + qh, 4);
      const __m256i q = _mm256_or_si256(nibbles, _mm256_and_si256(bits_to_bytes(high), _mm256_set1_epi8(0x10)));
      return DT == DType::Q5_0 ? _mm256_sub_epi8(q, _mm256_set1_epi8(16)) : q;
    }
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
}

// Eight int32 partial sums of |x| * (sign(x) * w).
inline __m256i dot_int8(__m256i abs_x, __m256i signed_w) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_x, signed_w), _mm256_set1_epi16(1));
}

// LLM.int8's row dot (llm_int8.h): sum a[i] * b[i] in int32, 32 pairs a step with the sign trick
// on b, the weights, which a file may hold as -128 (|b| <= 128 fits u8; a, the activations, is in
// [-127, 127], so pair sums stay below 2 * 128 * 127 and never saturate).
inline int32_t llm_int8_dot(const int8_t* a, const int8_t* b, int64_t n) {
  __m256i acc = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
    acc = _mm256_add_epi32(acc, dot_int8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; i < n; ++i) sum += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return sum;
}

void llm_int8_gemm_tier(const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
                        float* y, int64_t ldy) {
  llm_int8_gemm_with(llm_int8_dot, x, M, K, ldx, w, n0, n1, y, ldy);
}

inline WeightKernels llm_int8_tier_kernels() {
  WeightKernels k = llm_int8_weight_kernels();
  k.gemm = llm_int8_gemm_tier;
  return k;
}

// The f16 scales d of 8 consecutive weight blocks (bb bytes apart) as 8 floats: one gather of
// 32-bit words (each d with the block's next two bytes, inside the block), narrowed to 16. With
// `at` 2, Q5_1's mins m (the f16 after d) the same way.
template <int64_t bb, int at = 0>
inline __m256 block_scales8(const unsigned char* w) {
  const __m256i offsets = _mm256_setr_epi32(0, bb, 2 * bb, 3 * bb, 4 * bb, 5 * bb, 6 * bb, 7 * bb);
  const __m256i words = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(w + at), offsets, 1),
                                         _mm256_set1_epi32(0xffff));
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

constexpr int64_t kQuantPrefetchBytes = 2048;

// out[r] = row r of W (R consecutive rows, row_bytes apart) · one activation row. Scales come
// 8 blocks at a time (a gather, a multiply by the 8 activation scales) and are broadcast per
// block with one permute, instead of a scalar f16 load, convert, multiply and broadcast per block.
template <DType DT, int R>
inline void qdot_rows(const int8_t* xq, const float* xd, const unsigned char* w, int64_t row_bytes, int64_t nb,
                      float* out, int64_t ld_out) {
  constexpr int64_t bb = qblock_bytes<DT>();
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  auto block = [&](int64_t b, int r, __m256i x, __m256i ax, __m256 scale) {
    const __m256i p = dot_int8(ax, _mm256_sign_epi8(block_int8<DT>(w + r * row_bytes + b * bb), x));
    acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[r]);
  };
  // Q5_1: m_w * d_x times the block's sum of q_x (8 partial sums: |x| against sign(x)).
  auto block_min = [&](int r, __m256 x_sums, __m256 min_scale) {
    if constexpr (kBlockMin<DT>) acc[r] = _mm256_fmadd_ps(x_sums, min_scale, acc[r]);
  };
  auto x_sums = [](__m256i x, __m256i ax) {
    return _mm256_cvtepi32_ps(dot_int8(ax, _mm256_sign_epi8(_mm256_set1_epi8(1), x)));
  };
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    // The weight rows stream from memory: prefetched ahead with the non-temporal hint, as the
    // float gemv does (the hardware prefetcher alone left R concurrent row streams short).
    for (int r = 0; r < R; ++r)
      for (int64_t line = 0; line < 8 * bb; line += 64) prefetch_nta(w + r * row_bytes + b * bb + kQuantPrefetchBytes + line);
    const __m256 dx = _mm256_loadu_ps(xd + b);
    __m256 scales[R], mins[R];
    for (int r = 0; r < R; ++r) {
      scales[r] = _mm256_mul_ps(block_scales8<bb>(w + r * row_bytes + b * bb), dx);
      if constexpr (kBlockMin<DT>) mins[r] = _mm256_mul_ps(block_scales8<bb, 2>(w + r * row_bytes + b * bb), dx);
    }
    for (int j = 0; j < 8; ++j) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + (b + j) * kQBlock));
      const __m256i ax = _mm256_sign_epi8(x, x);
      const __m256i lane = _mm256_set1_epi32(j);
      for (int r = 0; r < R; ++r) block(b + j, r, x, ax, _mm256_permutevar8x32_ps(scales[r], lane));
      if constexpr (kBlockMin<DT>) {
        const __m256 sums = x_sums(x, ax);
        for (int r = 0; r < R; ++r) block_min(r, sums, _mm256_permutevar8x32_ps(mins[r], lane));
      }
    }
  }
  for (; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQBlock));
    const __m256i ax = _mm256_sign_epi8(x, x);
    for (int r = 0; r < R; ++r) {
      const unsigned char* blk = w + r * row_bytes + b * bb;
      block(b, r, x, ax, _mm256_set1_ps(block_scale(blk) * xd[b]));
      if constexpr (kBlockMin<DT>) block_min(r, x_sums(x, ax), _mm256_set1_ps(block_scale(blk + 2) * xd[b]));
    }
  }
  for (int r = 0; r < R; ++r) out[r * ld_out] = hsum256(acc[r]);
}

// Activation rows per pass over a tile of W rows: 64 rows of x (at K = 4864, 350 KB) stay in L2
// while each 4-row tile of W (20 KB) stays in L1.
constexpr int64_t kQuantRowsPerPass = 64;

// y[m, n] for n in [n0, n1): gemv (M = 1) and prompt GEMMs alike. y is written transposed per
// tile (ld_out = 1 within a row of y).
template <DType DT>
void qgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* wv, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kQBlock, row_bytes = nb * qblock_bytes<DT>();
  const int64_t x_row_bytes = ldx + ldx / kQBlock * static_cast<int64_t>(sizeof(float));  // quant_blocks.h
  const auto* w = static_cast<const unsigned char*>(wv);
  // Decode reads one W row at a time, a single sequential stream per thread (Qwen2.5-0.5B on the
  // AVX2 tier, alternated runs: q8_0-all 41.4 -> 46.7, q4_0-all 47.6 -> 51.7 tokens/s); prompts
  // take tiles of 4 rows sharing x's vectors.
  const int64_t tile = M < kLinearGemmMinRows ? 1 : 4;
  for (int64_t m0 = 0; m0 < M; m0 += kQuantRowsPerPass) {
    const int64_t m1 = std::min(M, m0 + kQuantRowsPerPass);
    for (int64_t n = n0; n < n1; n += tile) {
      const int64_t rows = std::min<int64_t>(tile, n1 - n);
      const unsigned char* wn = w + n * row_bytes;
      for (int64_t m = m0; m < m1; ++m) {
        const auto* row = static_cast<const unsigned char*>(xv) + m * x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(row);
        const auto* xd = reinterpret_cast<const float*>(row + ldx);
        float* out = y + m * ldy + n;
        switch (rows) {
          case 4: qdot_rows<DT, 4>(xq, xd, wn, row_bytes, nb, out, 1); break;
          case 3: qdot_rows<DT, 3>(xq, xd, wn, row_bytes, nb, out, 1); break;
          case 2: qdot_rows<DT, 2>(xq, xd, wn, row_bytes, nb, out, 1); break;
          default: qdot_rows<DT, 1>(xq, xd, wn, row_bytes, nb, out, 1); break;
        }
      }
    }
  }
}

#if TCPP_TIER_VNNI
// ---------------------------------------------------------------------------------------------
// The int8 product on a CPU with AVX-512 VNNI: 64 products per VPDPBUSD. The weights are its
// unsigned operand, offset to be non-negative: Q4_0's nibbles u = q as stored (w = u - 8), Q8_0's
// u = q + 128 (the sign bit flipped). Then sum w x = sum u x - offset * sum x, and the second sum
// belongs to the activation block alone: computed once per call (xs below), it leaves per step
// of blocks one or two VPDPBUSD, one conversion and one FMA, without the sign flips of the path
// above. Partial sums are exact in int32 (|sum u x| <= 32 * 255 * 127 < 2^24, so exact in f32 too).
//
// A step is the blocks one product covers, and x is copied once per call into each format's
// order for it (order_x), so that dword lane l of the product belongs to block l / kLanesPerBlock
// of the step:
//   Q8_0, 2 blocks: [q_b (32), q_b+1 (32)]: one VPDPBUSD.
//   Q4_0, 4 blocks: the 16 bytes of block b + i in 128-bit lane i (four loads), their low nibbles
//     (elements 0-15) against x's first 64 bytes, their high nibbles (16-31) against the next 64:
//     two VPDPBUSD into one sum, 128 weights per step (the 2-block layout this replaced took a
//     conversion, a permute and an FMA per 64 weights).
//   Q5_0, 4 blocks: as Q4_0, each byte's fifth bit added as 16 by two masked adds (u = the 5-bit
//     value as stored, w = u - 16).
//   Q5_1, 4 blocks: as Q5_0 with offset 0 (w = d u + m): its min adds m * d_x * sum q_x per block,
//     the block sums' second use.
template <DType DT>
struct VnniSteps;
template <>
struct VnniSteps<DType::Q8_0> {
  static constexpr int64_t kBytes = kQ8_0Bytes;
  static constexpr float kOffset = 128.0f;
  static constexpr int kBlocks = 2;
  static constexpr int kLanesPerBlock = 8;
  struct GroupBits {};  // what a group of 16 blocks needs beyond the steps' bytes: nothing here
  static GroupBits group_bits(const unsigned char*, __mmask16, __m512i, __m512i) { return {}; }
  // valid: the step's blocks inside the row (the others are zeros, never read).
  static __m512i dot(const unsigned char* b, int valid, const int8_t* x, const GroupBits&, int) {
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
    const __m256i q1 = _mm256_maskz_loadu_epi8(valid == 2 ? ~0u : 0u, b + kBytes + 2);
    const __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1), _mm512_set1_epi8(-128));
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x));
  }
  static void order_x(const int8_t* x, int valid, int8_t* out) {
    std::memset(out, 0, kBlocks * kQBlock);
    std::memcpy(out, x, valid * kQBlock);
  }
};
// Q4_0, Q5_0 and Q5_1, whose blocks hold their 32 values as 16 bytes of nibbles (Q5_0 and Q5_1
// after 4 bytes of fifth bits qh: bit i belongs to element i; Q5_1's after its min m).
template <DType DT>
struct NibbleVnniSteps {
  static constexpr bool kFifthBits = DT != DType::Q4_0;
  static constexpr int64_t kBytes = qblock_bytes<DT>();
  static constexpr int64_t kFifthAt = DT == DType::Q5_1 ? 4 : 2;   // qh's offset in a block
  static constexpr int64_t kNibbles = kFifthBits ? kFifthAt + 4 : 2;  // the nibbles' offset
  static constexpr float kOffset = DT == DType::Q4_0 ? 8.0f : DT == DType::Q5_0 ? 16.0f : 0.0f;
  static constexpr int kBlocks = 4;
  static constexpr int kLanesPerBlock = 4;
  // Q5_0 / Q5_1: the fifth bits of a group's blocks as byte masks, 64 bits (a step's 4 blocks)
  // each: lo[s] for elements 0-15 of blocks 4s..4s+3, hi[s] for 16-31, block 4s + i at bits 16i..
  // of both, matching byte j of lane i of the step. One gather of the 16 blocks' qh words.
  struct FifthBits {
    alignas(32) uint64_t lo[4], hi[4];
  };
  struct NoBits {};
  using GroupBits = std::conditional_t<kFifthBits, FifthBits, NoBits>;
  static GroupBits group_bits(const unsigned char* wg, __mmask16 mask, __m512i words, __m512i offsets) {
    GroupBits bits;
    (void)words;
    if constexpr (kFifthBits) {
      const __m512i qh = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, offsets, wg + kFifthAt, 1);
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits.lo), _mm512_cvtepi32_epi16(qh));
      _mm256_store_si256(reinterpret_cast<__m256i*>(bits.hi), _mm512_cvtepi32_epi16(_mm512_srli_epi32(qh, 16)));
    } else {
      (void)wg, (void)mask, (void)offsets;
    }
    return bits;
  }
  static __m512i dot(const unsigned char* b, int valid, const int8_t* x, const GroupBits& bits, int step) {
    __m512i packed;
    if (valid == 4) {
      packed = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kNibbles)));
      packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + kBytes + kNibbles)), 1);
      packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * kBytes + kNibbles)), 2);
      packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 3 * kBytes + kNibbles)), 3);
    } else {  // the row's last step: blocks past its end are zeros
      alignas(64) unsigned char q[64] = {};
      for (int i = 0; i < valid; ++i) std::memcpy(q + 16 * i, b + i * kBytes + kNibbles, 16);
      packed = _mm512_load_si512(q);
    }
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i lo = _mm512_and_si512(packed, low), hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
    if constexpr (kFifthBits) {
      const __m512i sixteen = _mm512_set1_epi8(16);
      lo = _mm512_mask_add_epi8(lo, bits.lo[step], lo, sixteen);
      hi = _mm512_mask_add_epi8(hi, bits.hi[step], hi, sixteen);
    } else {
      (void)bits, (void)step;
    }
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(x)), hi,
                               _mm512_loadu_si512(x + 64));
  }
  static void order_x(const int8_t* x, int valid, int8_t* out) {
    std::memset(out, 0, kBlocks * kQBlock);
    for (int i = 0; i < valid; ++i) {
      std::memcpy(out + 16 * i, x + i * kQBlock, 16);
      std::memcpy(out + 64 + 16 * i, x + i * kQBlock + 16, 16);
    }
  }
};
template <>
struct VnniSteps<DType::Q4_0> : NibbleVnniSteps<DType::Q4_0> {};
template <>
struct VnniSteps<DType::Q5_0> : NibbleVnniSteps<DType::Q5_0> {};
template <>
struct VnniSteps<DType::Q5_1> : NibbleVnniSteps<DType::Q5_1> {};

// out[r] = row r of W (R rows, row_bytes apart) · one activation row given as xo (steps of
// blocks in the format's order), xd (its block scales) and xs (d_x * sum q_x per block: times the
// offset, or Q5_1's m, a correction per block). Scales
// come 16 blocks at a time (a masked gather of the f16 d's); a permute hands each step's lanes
// their blocks' scales.
template <DType DT, int R>
inline void qdot_rows_vnni(const int8_t* xo, const float* xd, const float* xs, const unsigned char* w,
                           int64_t row_bytes, int64_t nb, float* out, int64_t ld_out, int64_t ahead_bytes) {
  using P = VnniSteps<DT>;
  constexpr int64_t bb = P::kBytes;
  static_assert(16 % P::kBlocks == 0, "a group of 16 blocks is whole steps");
  __m512 acc[R], corr[R];
  for (int r = 0; r < R; ++r) acc[r] = corr[r] = _mm512_setzero_ps();
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i offsets = _mm512_mullo_epi32(iota, _mm512_set1_epi32(static_cast<int>(bb)));
  // The block of the group each lane of the group's first step belongs to.
  const __m512i first_step = _mm512_srli_epi32(iota, P::kLanesPerBlock == 8 ? 3 : 2);
  for (int64_t g = 0; g < nb; g += 16) {
    const int64_t n = std::min<int64_t>(16, nb - g);
    const __mmask16 mask = static_cast<__mmask16>(n == 16 ? 0xffff : (1u << n) - 1);
    const __m512 dx = _mm512_maskz_loadu_ps(mask, xd + g), sx = _mm512_maskz_loadu_ps(mask, xs + g);
    __m512 s[R];
    typename P::GroupBits bits[R];
    for (int r = 0; r < R; ++r) {
      const unsigned char* wg = w + r * row_bytes + g * bb;
      // The same blocks of a row some tiles on into L2 (ahead_bytes: whole tiles, a few KiB): the
      // gather below stalls on each line's first touch from DRAM otherwise (half the kernel's time;
      // one tile ahead was too close for short rows, 504 bytes at K = 896 in Q4_0).
      for (int64_t line = 0; line < 16 * bb; line += 64) _mm_prefetch(reinterpret_cast<const char*>(wg + ahead_bytes + line), _MM_HINT_T1);
      const __m512i words = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, offsets, wg, 1);
      const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(words));  // each block's f16 d
      bits[r] = P::group_bits(wg, mask, words, offsets);
      s[r] = _mm512_mul_ps(dw, dx);
      if constexpr (kBlockMin<DT>) {  // m, the f16 after d: its term m * d_x * sum q_x
        corr[r] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(words, 16))), sx, corr[r]);
      } else {  // the offset's term: offset * d_w * d_x * sum q_x, subtracted at the end
        corr[r] = _mm512_fmadd_ps(dw, sx, corr[r]);
      }
    }
    __m512i lanes = first_step;
    for (int64_t p = 0; p < n; p += P::kBlocks) {
      const int valid = static_cast<int>(std::min<int64_t>(P::kBlocks, n - p));
      for (int r = 0; r < R; ++r) {
        const __m512i dot =
            P::dot(w + r * row_bytes + (g + p) * bb, valid, xo + (g + p) * kQBlock, bits[r], static_cast<int>(p / P::kBlocks));
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(lanes, s[r]), acc[r]);
      }
      lanes = _mm512_add_epi32(lanes, _mm512_set1_epi32(P::kBlocks));
    }
  }
  constexpr float kCorrection = kBlockMin<DT> ? 1.0f : -P::kOffset;
  for (int r = 0; r < R; ++r)
    out[r * ld_out] = _mm512_reduce_add_ps(acc[r]) + kCorrection * _mm512_reduce_add_ps(corr[r]);
}

// W rows per tile of the VNNI kernel for prompt-sized M: 2 (4 measured slower: its accumulators,
// scales and constants spilled to the stack). Decode (M < kLinearGemmMinRows) takes one row at a
// time, a single sequential stream per thread, as the float gemv does: Qwen2.5-0.5B q8_0-all
// decode 49.6 -> 56.0 tokens/s (five alternated runs, each faster), q4_0-all within the noise.
constexpr int kVnniTileRows = 2;
// How far ahead of a tile its rows' blocks are prefetched, at least: rounded up to whole tiles
// (W's rows are consecutive, so the next tiles are what the task reads next).
constexpr int64_t kVnniPrefetchBytes = 6144;

// x in the VNNI kernels' format (Int8Pairs; quant_blocks.h): quantized as quantize_activations
// does, copied into the format's step order and summed per block, once per call for every task.
template <DType DT>
void quantize_activations_vnni(const float* x, int64_t M, int64_t K, int64_t ldx, void* out) {
  using P = VnniSteps<DT>;
  const int64_t nb = K / kQBlock, padded = (nb + 3) / 4 * 4;
  thread_local std::vector<unsigned char> row;
  row.resize(static_cast<size_t>(activation_row_bytes(K)));
  const auto* xq = reinterpret_cast<const int8_t*>(row.data());
  const auto* xd = reinterpret_cast<const float*>(row.data() + K);
  for (int64_t m = 0; m < M; ++m) {
    quantize_activations(x + m * ldx, 1, K, ldx, row.data());
    auto* o = static_cast<unsigned char*>(out) + m * vnni_activation_row_bytes(K);
    auto* d = reinterpret_cast<float*>(o + padded * kQBlock);
    float* sums = d + nb;
    for (int64_t b = 0; b < padded; b += P::kBlocks)
      P::order_x(xq + b * kQBlock, static_cast<int>(std::clamp<int64_t>(nb - b, 0, P::kBlocks)),
                 reinterpret_cast<int8_t*>(o) + b * kQBlock);
    for (int64_t b = 0; b < nb; ++b) {
      int sum = 0;
      for (int64_t k = 0; k < kQBlock; ++k) sum += xq[b * kQBlock + k];
      d[b] = xd[b];
      sums[b] = xd[b] * static_cast<float>(sum);
    }
  }
}

// qgemm's contract on VNNI, x made by quantize_activations_vnni: tiles of one (decode) or
// kVnniTileRows rows of W, each against a pass of up to kQuantRowsPerPass rows of x.
template <DType DT>
void qgemm_vnni(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* wv, int64_t n0, int64_t n1, float* y,
                int64_t ldy) {
  using P = VnniSteps<DT>;
  const int64_t nb = K / kQBlock, row_bytes = nb * P::kBytes, padded = (nb + 3) / 4 * 4;
  const int64_t x_row_bytes = vnni_activation_row_bytes(ldx);
  const int64_t tile = M < kLinearGemmMinRows ? 1 : kVnniTileRows;
  const int64_t tile_bytes = tile * row_bytes;
  const int64_t ahead = (kVnniPrefetchBytes + tile_bytes - 1) / tile_bytes * tile_bytes;
  const auto* w = static_cast<const unsigned char*>(wv);
  for (int64_t m0 = 0; m0 < M; m0 += kQuantRowsPerPass) {
    const int64_t m1 = std::min(M, m0 + kQuantRowsPerPass);
    for (int64_t n = n0; n < n1; n += tile) {
      const int64_t rows = std::min<int64_t>(tile, n1 - n);
      const unsigned char* wn = w + n * row_bytes;
      for (int64_t m = m0; m < m1; ++m) {
        const auto* row = static_cast<const unsigned char*>(xv) + m * x_row_bytes;
        const auto* o = reinterpret_cast<const int8_t*>(row);
        const auto* xd = reinterpret_cast<const float*>(row + padded * kQBlock);
        const float* s = xd + nb;
        float* out = y + m * ldy + n;
        if (rows == kVnniTileRows)
          qdot_rows_vnni<DT, kVnniTileRows>(o, xd, s, wn, row_bytes, nb, out, 1, ahead);
        else
          for (int64_t r = 0; r < rows; ++r)
            qdot_rows_vnni<DT, 1>(o, xd, s, wn + r * row_bytes, row_bytes, nb, out + r, 1, ahead);
      }
    }
  }
}
#endif

#if TCPP_TIER_BF16_DOT
// Rows of W as bf16 panels for prompt-sized products (WeightKernels::dequant_rows_bf16): each
// block's d * q is exact in f32 (an f16 scale times an integer below 128), then rounded to
// nearest even by the same instruction the BF16 kernels round x with.
template <DType DT>
void qdequant_rows_bf16(const void* wv, int64_t K, int64_t row0, int64_t rows, uint16_t* out) {
  constexpr int64_t bb = qblock_bytes<DT>();
  const int64_t blocks = rows * (K / kQBlock);
  const auto* b = static_cast<const unsigned char*>(wv) + row0 * (K / kQBlock) * bb;
  for (int64_t i = 0; i < blocks; ++i, b += bb) {
    const __m256i q = block_int8<DT>(b);
    const __m512 d = _mm512_set1_ps(block_scale(b));
    __m512 lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))), d);
    __m512 hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))), d);
    if constexpr (kBlockMin<DT>) {  // then + m, rounded apart, as the codec (baseline code, no FMA) does
      const __m512 m = _mm512_set1_ps(block_scale(b + 2));
      lo = _mm512_add_ps(lo, m);
      hi = _mm512_add_ps(hi, m);
    }
    _mm512_storeu_si512(out + i * kQBlock, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
}
#endif

template <DType DT>
WeightKernels quantized_weight_kernels() {
  WeightKernels k{nullptr, qgemm<DT>, format_dequant_rows<DT>, WeightFormat::ActivationFormat::Int8Blocks,
                  quantize_activations};
#if TCPP_TIER_VNNI
  if (cpu_has_avx512_vnni()) {
    k.gemm = qgemm_vnni<DT>;
    k.gemm_activation = WeightFormat::ActivationFormat::Int8Pairs;
    k.convert_x = quantize_activations_vnni<DT>;
  }
#endif
#if TCPP_TIER_BF16_DOT
  if (bf16_dot_products_enabled()) k.dequant_rows_bf16 = qdequant_rows_bf16<DT>;
#endif
  return k;
}

// ---------------------------------------------------------------------------------------------
// 4-bit formats whose weights are entries of a 16-value code book times a block scale, decoded by
// lookups (vlookup16: one permute per 16 weights on AVX-512, two and a blend per 8 on AVX2):
//   NF4 / FP4 (bitsandbytes, bnb_blocks.h): 64 per block, f32 absmax, then 32 bytes whose high
//     nibble is the even element; the NF4 or FP4 book.
//   MXFP4 (prequant_blocks.h): 32 per block, an e8m0 scale, then 16 bytes whose low nibble is the
//     even element; the book of e2m1 values.
//   Q4_Z (GPTQ / AWQ): 32 per block, f16 d, zero z, a pad byte, then Q4_0's order (low nibbles are
//     elements 0-15); the book q - z, the block's own.
// Each value is the book's entry times the scale: the codec's one f32 product, so decoded rows
// are the codec's bit for bit.

// A block's nibbles, one per byte in element order, 16 per part (2 or 4 parts).
struct Nibbles4 {
  __m128i part[4];
  // The kLanes indices of elements e .. e + kLanes (e a multiple of kLanes).
  __m128i lanes(int64_t e) const {
    const __m128i p = part[e / 16];
    return kLanes == 16 || e % 16 == 0 ? p : _mm_srli_si128(p, 8);
  }
};

inline void split_nibbles(__m128i packed, __m128i* lo, __m128i* hi) {
  const __m128i nibble = _mm_set1_epi8(0x0f);
  *lo = _mm_and_si128(packed, nibble);
  *hi = _mm_and_si128(_mm_srli_epi16(packed, 4), nibble);
}

template <DType DT>
struct CodeBook4;
template <DType DT>
struct BnbCodeBook4 {
  static constexpr int64_t kBlock = kBnbBlock, kBytes = kBnbBlockBytes;
  static const float* book() { return DT == DType::NF4 ? nf4_code_book() : fp4_code_book(); }
  static float scale(const unsigned char* b) {
    float a;
    std::memcpy(&a, b, 4);
    return a;
  }
  static vbook16 block_book(const vbook16& book, const unsigned char*) { return book; }
  static Nibbles4 nibbles(const unsigned char* b) {
    Nibbles4 n;
    for (int half = 0; half < 2; ++half) {  // bytes 0-15 are elements 0-31, bytes 16-31 the rest
      __m128i lo, hi;
      split_nibbles(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 4 + 16 * half)), &lo, &hi);
      n.part[2 * half] = _mm_unpacklo_epi8(hi, lo);
      n.part[2 * half + 1] = _mm_unpackhi_epi8(hi, lo);
    }
    return n;
  }
};
template <>
struct CodeBook4<DType::NF4> : BnbCodeBook4<DType::NF4> {};
template <>
struct CodeBook4<DType::FP4> : BnbCodeBook4<DType::FP4> {};
template <>
struct CodeBook4<DType::MXFP4> {
  static constexpr int64_t kBlock = 32, kBytes = kMxfp4Bytes;
  static const float* book() {
    static const std::array<float, 16> values = [] {
      std::array<float, 16> v{};
      for (int i = 0; i < 16; ++i) v[static_cast<size_t>(i)] = e2m1_to_f32(static_cast<uint8_t>(i));
      return v;
    }();
    return values.data();
  }
  // e8m0_to_f32 without its ldexp (the kernel's cost per block): 2^(e - 127) as float bits, the
  // subnormal 2^-127 for e = 0, NaN for 255.
  static float scale(const unsigned char* b) {
    const uint32_t e = b[0];
    const uint32_t bits = e == 0 ? 0x00400000u : e == 0xff ? 0x7fc00000u : e << 23;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  static vbook16 block_book(const vbook16& book, const unsigned char*) { return book; }
  static Nibbles4 nibbles(const unsigned char* b) {
    __m128i lo, hi;
    split_nibbles(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 1)), &lo, &hi);
    return {{_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi), _mm_setzero_si128(), _mm_setzero_si128()}};
  }
};
template <>
struct CodeBook4<DType::Q4_Z> {
  static constexpr int64_t kBlock = 32, kBytes = kQ4ZBytes;
  static const float* book() {  // 0..15, from which each block's book subtracts its zero
    static const std::array<float, 16> values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return values.data();
  }
  static float scale(const unsigned char* b) { return block_scale(b); }
  static vbook16 block_book(const vbook16& book, const unsigned char* b) {
    return vbook16_sub(book, static_cast<float>(b[2]));
  }
  static Nibbles4 nibbles(const unsigned char* b) {
    __m128i lo, hi;
    split_nibbles(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 4)), &lo, &hi);
    return {{lo, hi, _mm_setzero_si128(), _mm_setzero_si128()}};
  }
};

// One block of a code-book format, ready to hand out its values kLanes at a time.
template <DType DT>
struct CodeBook4Block {
  vbook16 book;
  Nibbles4 nibbles;
  vf values(int64_t e) const { return vlookup16(book, nibbles.lanes(e)); }
};

// FP8 blocks (F8_B128: an f32 scale, then 128 e4m3 codes; prequant_blocks.h), decoded exactly by
// vload_e4m3 (through f16).
struct F8Block {
  const uint8_t* codes;
  vf values(int64_t e) const { return vload_e4m3(codes + e); }
};

// The formats decoded here (LookupFormat<DT>): the block's size, bytes, scale, and its values
// before the scale (block(): the decoder of one block; `shared` what every block starts from).
template <DType DT>
struct LookupFormat : CodeBook4<DT> {
  using F = CodeBook4<DT>;
  using Shared = vbook16;
  static Shared shared() { return vbook16_load(F::book()); }
  static CodeBook4Block<DT> block(const Shared& s, const unsigned char* b) { return {F::block_book(s, b), F::nibbles(b)}; }
};
template <>
struct LookupFormat<DType::F8_B128> {
  static constexpr int64_t kBlock = kF8Block, kBytes = kF8B128Bytes;
  struct Shared {};
  static Shared shared() { return {}; }
  static float scale(const unsigned char* b) {
    float s;
    std::memcpy(&s, b, 4);
    return s;
  }
  static F8Block block(const Shared&, const unsigned char* b) { return {b + 4}; }
};

// Blocks to f32: each value times the scale, the codec's one f32 product (the values are exact),
// so the rows are the codec's bit for bit.
template <DType DT>
void lookup_decode(const void* in, float* out, int64_t n) {
  using F = LookupFormat<DT>;
  const auto shared = F::shared();
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / F::kBlock; ++i, b += F::kBytes, out += F::kBlock) {
    const vf scale = vset1(F::scale(b));
    const auto block = F::block(shared, b);
    for (int64_t e = 0; e < F::kBlock; e += kLanes) vstore(out + e, vmul(block.values(e), scale));
  }
}

// How far ahead of a block the lookup gemv prefetches its row (a few rows of 504 bytes at
// K = 896 in NF4): the weights stream from DRAM, and the loads of the nibbles stalled the kernel
// at 1 KiB.
constexpr int64_t kLookupPrefetchBytes = 4096;

// out[m * ldy] = W row · x row m for R rows of x, the block's values multiplied against x as they
// are decoded (no decoded row in memory) and each block's sum scaled once.
template <DType DT, int R>
inline void lookup_row(const typename LookupFormat<DT>::Shared& shared, const unsigned char* row, int64_t nb,
                       const float* x, int64_t ldx, float* out, int64_t ldy) {
  using F = LookupFormat<DT>;
  vf acc[R];
  for (int m = 0; m < R; ++m) acc[m] = vzero();
  for (int64_t i = 0; i < nb; ++i) {
    const unsigned char* b = row + i * F::kBytes;
    for (int64_t line = 0; line < F::kBytes; line += 64) prefetch_nta(b + kLookupPrefetchBytes + line);
    const auto values = F::block(shared, b);
    vf block[R];
    for (int m = 0; m < R; ++m) block[m] = vzero();
    for (int64_t e = 0; e < F::kBlock; e += kLanes) {
      const vf v = values.values(e);
      for (int m = 0; m < R; ++m) block[m] = vfmadd(v, vload(x + m * ldx + i * F::kBlock + e), block[m]);
    }
    const vf scale = vset1(F::scale(b));
    for (int m = 0; m < R; ++m) acc[m] = vfmadd(block[m], scale, acc[m]);
  }
  for (int m = 0; m < R; ++m) out[m * ldy] = vhsum(acc[m]);
}

// y[m, n] for W in a lookup format (decode: M < kLinearGemmMinRows), up to 4 rows of x per pass
// over a row of W.
template <DType DT>
void lookup_gemv(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1, float* y,
                 int64_t ldy) {
  using F = LookupFormat<DT>;
  const auto shared = F::shared();
  const int64_t nb = K / F::kBlock, row_bytes = nb * F::kBytes;
  for (int64_t n = n0; n < n1; ++n) {
    const auto* row = static_cast<const unsigned char*>(w) + n * row_bytes;
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
      const float* xm = x + m0 * ldx;
      float* out = y + m0 * ldy + n;
      switch (std::min<int64_t>(4, M - m0)) {
        case 4: lookup_row<DT, 4>(shared, row, nb, xm, ldx, out, ldy); break;
        case 3: lookup_row<DT, 3>(shared, row, nb, xm, ldx, out, ldy); break;
        case 2: lookup_row<DT, 2>(shared, row, nb, xm, ldx, out, ldy); break;
        default: lookup_row<DT, 1>(shared, row, nb, xm, ldx, out, ldy); break;
      }
    }
  }
}

template <DType DT>
constexpr bool kLookupFormat =
    DT == DType::NF4 || DT == DType::FP4 || DT == DType::MXFP4 || DT == DType::Q4_Z || DT == DType::F8_B128;

template <DType DT>
void decode_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  lookup_decode<DT>(static_cast<const char*>(w) + dtype_nbytes(DT, row0 * K), out, rows * K);
}

// The formats without integer kernels (pre-quantized, bitsandbytes; kernels.h): decode by
// lookup_gemv, prompts on rows decoded by the same code (the driver's BLAS or bf16 path).
template <DType DT>
WeightKernels lookup_weight_kernels() {
  static_assert(kLookupFormat<DT>, "a format without integer kernels needs a LookupFormat");
  return {lookup_gemv<DT>, nullptr, decode_rows<DT>, WeightFormat::ActivationFormat::F32, nullptr};
}
