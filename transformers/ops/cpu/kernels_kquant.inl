// K-quant weights (Q4_K, Q5_K, Q6_K; quant_kblocks.h) times int8 super-block activations
// (Int8KBlocks: int8 x with an f32 scale per 256 and int16 sums per 16, made once per call by
// quantize_activations_k), part of the shared tier source (included by kernels_simd.inl after
// kernels_quant.inl, inside the tier's namespace). Decode only (WeightKernels::gemm_rows_below):
// prompts take bf16 panels (AVX512_BF16) or the driver's BLAS path, on rows dequantized by the
// vector code at the end of this file.
//
// Every format is x_e = d * sc[e / 16] * q_e - dmin * m[e / 16] with unsigned q (4, 5 or 6 bits;
// Q6_K's offset of 32 is its "min", m = 32 sc under dmin = d), so
//   sum_e x_e x'_e = d_x * (d * sum_g sc_g sum_{e in g} q_e q_x,e  -  dmin * sum_g m_g s_x,g)
// with s_x,g the activation sums per 16. The first sum: maddubs (q unsigned, q_x signed; pair sums
// at most 2 * 63 * 127, no saturation), then madd by the scales; the second is one madd of the
// mins against the sums. Both stay in int32 (at most ~2^25 per lane) until one conversion and
// FMA per super-block. 256-bit vectors on AVX2 (and AVX-512 without VNNI); AVX-512 CPUs with VNNI
// take 512-bit VPDPBUSD kernels of the same math (KFormatVnni below).

// Q4_K / Q5_K's 12 packed scale bytes as 16 bytes: the 8 six-bit scales, then the 8 mins.
inline __m128i kblock_scales_mins(const unsigned char* s) {
  uint32_t a[3];
  std::memcpy(a, s, 12);
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kTop2 = 0x03030303;
  const uint32_t sc_hi = (a[2] & kLow4) | ((a[0] >> 6) & kTop2) << 4;
  const uint32_t m_hi = ((a[2] >> 4) & kLow4) | ((a[1] >> 6) & kTop2) << 4;
  return _mm_setr_epi32(static_cast<int>(a[0] & kLow6), static_cast<int>(sc_hi), static_cast<int>(a[1] & kLow6),
                        static_cast<int>(m_hi));
}

// 16 int16 lanes all equal to int16 lane j of v's low 128 bits (v holds them in both halves).
inline __m256i broadcast_i16(__m256i v, int j) { return _mm256_shuffle_epi8(v, _mm256_set1_epi16(0x0100 + 0x0202 * j)); }

// The integer sums of one super-block and one weight row: `scaled` (8 or 16 int32 lanes) sums to
// sum_e sc q q_x, `mins` (8 lanes) to sum_g m_g s_x,g; d and dmin their factors.
struct KBlockSums {
  using Acc = __m256;  // the f32 accumulator of `scaled`
  __m256i scaled, mins;
  float d, dmin;
};

// Q4_K / Q5_K's min term: m_j twice (once per 16 of sub-block j) against the activation's 16 sums.
inline __m256i kblock_min_sums(__m128i scales_mins, __m256i xsums) {
  return _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins)), xsums);
}
// Q6_K's offset as a min term: sum_g sc_g s_x,g, under dmin = 32 d.
inline __m256i q6_offset_sums(__m128i sc, __m256i xsums) { return _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), xsums); }

// One activation super-block as the 256-bit kernels read it: its q (loaded by each row's sums,
// the same addresses, so shared) and its 16 sums.
struct KXBlock {
  const int8_t* q;
  __m256i sums;
};
inline KXBlock load_kx(const int8_t* q, const int16_t* sums) {
  return {q, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))};
}

// A super-block for dequantizing (unpack below): its q in element order and, per 16 elements g,
// x_e = mul[g] * (q_e - offset) - sub[g], the scalar codec's factors (quant_kblocks.cpp) in its
// order of operations, so the floats come out equal bit for bit.
struct KBlockUnpacked {
  alignas(32) uint8_t q[kKBlock];
  float mul[16], sub[16];
  float offset;
};

template <DType DT>
struct KFormat;

// Q4_K (Q5_K: with its fifth bits at byte 16): header d, dmin, 12 bytes of scales and mins; then
// 32-byte chunks c of nibbles, sub-block 2c low and 2c + 1 high: x's bytes 64c .. 64c + 63.
template <DType DT>
struct KFormatMins {
  static constexpr bool kFive = DT == DType::Q5_K;
  static constexpr int64_t kBytes = kFive ? kQ5_KBytes : kQ4_KBytes;
  static constexpr int64_t kNibbles = kFive ? 48 : 16;
  using X = KXBlock;
  static X load_x(const int8_t* q, const int16_t* sums) { return load_kx(q, sums); }
  static __m256i fifth_bits(const unsigned char* blk) {
    if constexpr (kFive) return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    return _mm256_setzero_si256();
  }
  // The q of chunk c (qh: fifth_bits): sub-block 2c in lo, 2c + 1 in hi, 32 bytes each.
  static void chunk(const unsigned char* blk, __m256i qh, int c, __m256i& lo, __m256i& hi) {
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kNibbles + 32 * c));
    lo = _mm256_and_si256(packed, low);
    hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low);
    if constexpr (kFive) {  // bit j of qh[l] is the fifth bit of sub-block j's element l
      const __m256i one = _mm256_set1_epi8(1);
      lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
      hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
    }
  }
  static void unpack(const unsigned char* blk, KBlockUnpacked& u) {
    const __m256i qh = fifth_bits(blk);
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      chunk(blk, qh, c, lo, hi);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c), lo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 64 * c + 32), hi);
    }
    alignas(16) uint8_t sm[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(sm), kblock_scales_mins(blk + 4));
    const float d = block_scale(blk), dmin = block_scale(blk + 2);
    for (int g = 0; g < 16; ++g) {
      u.mul[g] = d * sm[g / 2];
      u.sub[g] = dmin * sm[8 + g / 2];
    }
    u.offset = 0;
  }
  static KBlockSums sums(const unsigned char* blk, const X& x) {
    const __m128i sm = kblock_scales_mins(blk + 4);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    const __m256i qh = fifth_bits(blk);
    __m256i scaled = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      chunk(blk, qh, c, lo, hi);
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + 64 * c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + 64 * c + 32));
      scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), broadcast_i16(scales, 2 * c)));
      scaled =
          _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), broadcast_i16(scales, 2 * c + 1)));
    }
    return {scaled, kblock_min_sums(sm, x.sums), block_scale(blk), block_scale(blk + 2)};
  }
};
template <>
struct KFormat<DType::Q4_K> : KFormatMins<DType::Q4_K> {};
template <>
struct KFormat<DType::Q5_K> : KFormatMins<DType::Q5_K> {};

// Q6_K: ql (128 bytes), qh (64), 16 int8 scales, f16 d. Half h (128 elements) has ql bytes
// 64h .. 64h + 63 and qh bytes 32h .. 32h + 31; its quarter t (x's bytes 128h + 32t, 32 of them,
// scale groups 8h + 2t and 8h + 2t + 1) is the low (t < 2) or high nibble of ql's 32 bytes
// 64h + 32 (t % 2), with bits 2t, 2t + 1 of qh above it.
template <>
struct KFormat<DType::Q6_K> {
  static constexpr int64_t kBytes = kQ6_KBytes;
  using X = KXBlock;
  static X load_x(const int8_t* q, const int16_t* sums) { return load_kx(q, sums); }
  struct Half {
    __m256i ql0, ql1, qh;
  };
  static Half load_half(const unsigned char* blk, int h) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h))};
  }
  // The 32 six-bit q of quarter t of a half (its elements 32t .. 32t + 31).
  static __m256i quarter(const Half& half, int t) {
    const __m256i low = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
    const __m256i ql = t % 2 ? half.ql1 : half.ql0;
    const __m256i lo = t < 2 ? _mm256_and_si256(ql, low) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low);
    return _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(half.qh, 2 * t), two), 4));
  }
  static void unpack(const unsigned char* blk, KBlockUnpacked& u) {
    for (int h = 0; h < 2; ++h) {
      const Half half = load_half(blk, h);
      for (int t = 0; t < 4; ++t) _mm256_store_si256(reinterpret_cast<__m256i*>(u.q + 128 * h + 32 * t), quarter(half, t));
    }
    const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
    const float d = block_scale(blk + 208);
    for (int g = 0; g < 16; ++g) {
      u.mul[g] = d * sc[g];
      u.sub[g] = 0;
    }
    u.offset = 32;
  }
  static KBlockSums sums(const unsigned char* blk, const X& x) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    const __m256i sc = _mm256_cvtepi8_epi16(sc8);
    __m256i scaled = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const Half half = load_half(blk, h);
      // Two spelled-out immediates: below -O2 (the ASan build) h is not folded into one.
      const __m256i half_sc = h ? _mm256_permute2x128_si256(sc, sc, 0x11) : _mm256_permute2x128_si256(sc, sc, 0x00);
      for (int t = 0; t < 4; ++t) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q + 128 * h + 32 * t));
        // Scales of the quarter's two groups of 16: sc[8h + 2t] in the low half, the next in the high.
        const __m256i scales = _mm256_shuffle_epi8(
            half_sc, _mm256_setr_m128i(_mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * t))),
                                       _mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * t + 1)))));
        scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(quarter(half, t), xv), scales));
      }
    }
    const float d = block_scale(blk + 208);
    return {scaled, q6_offset_sums(sc8, x.sums), d, 32 * d};
  }
};

#if TCPP_TIER_VNNI
// ---------------------------------------------------------------------------------------------
// The same products with AVX-512 VNNI, 64 weights per instruction: VPDPBUSD (q unsigned, q_x
// signed) gives 16 int32 lanes of 4 products each (|lane| <= 4 * 63 * 127 < 2^15), then VPDPWSSD
// multiplies each lane's low int16 by its group's scale (held as an int32 lane with a zero high
// half, so the lane's high int16, its sign, adds nothing) and accumulates. x needs no layout of
// its own: Q6_K's quarters are in x's order; Q4_K / Q5_K's 64-byte loads hold sub-blocks j and
// j + 2 in their low nibbles (j + 1 and j + 3 in the high), so x's 32-byte halves are swapped
// into that order once per super-block, for every row of the tile.

// Lanes 0-7 of scales (int32) to lanes 0-7 of the result at index a, lanes 8-15 at index b.
inline __m512i two_lanes(__m512i scales, int a, int b) {
  return _mm512_permutexvar_epi32(_mm512_inserti64x4(_mm512_set1_epi32(a), _mm256_set1_epi32(b), 1), scales);
}
// Shift counts for VPSRLVW: a in the low 256 bits, b in the high.
inline __m512i two_shifts(int a, int b) { return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(a)), _mm256_set1_epi16(static_cast<short>(b)), 1); }
// 16 unsigned 6-bit-or-less values of a group as the u8 operand of VPDPBUSD against 64 x bytes,
// scaled per lane: acc + sum over lanes of scale[lane] * dot(q, x) of the lane.
inline __m512i dot_scaled(__m512i acc, __m512i q, __m512i x, __m512i scales) {
  return _mm512_dpwssd_epi32(acc, _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, x), scales);
}

struct KBlockSumsVnni {
  using Acc = __m512;
  __m512i scaled;
  __m256i mins;
  float d, dmin;
};

struct KXBlockVnni {
  __m512i x[4];
  __m256i sums;
};

template <DType DT>
struct KFormatVnni;

template <DType DT>
struct KFormatVnniMins {
  using Base = KFormatMins<DT>;
  static constexpr int64_t kBytes = Base::kBytes;
  using X = KXBlockVnni;
  // x[2p] = sub-blocks 4p, 4p + 2; x[2p + 1] = 4p + 1, 4p + 3 (32 bytes each).
  static X load_x(const int8_t* q, const int16_t* sums) {
    const __m512i a = _mm512_loadu_si512(q), b = _mm512_loadu_si512(q + 64);
    const __m512i c = _mm512_loadu_si512(q + 128), d = _mm512_loadu_si512(q + 192);
    return {{_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xee), _mm512_shuffle_i64x2(c, d, 0x44),
             _mm512_shuffle_i64x2(c, d, 0xee)},
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))};
  }
  static KBlockSumsVnni sums(const unsigned char* blk, const X& x) {
    const __m128i sm = kblock_scales_mins(blk + 4);
    const __m512i scales = _mm512_cvtepu8_epi32(sm);  // lanes 0-7; the mins (8-15) unused here
    const __m512i low = _mm512_set1_epi8(0x0f);
    __m512i qh;
    if constexpr (Base::kFive) qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16)));
    __m512i scaled = _mm512_setzero_si512();
    for (int p = 0; p < 2; ++p) {
      const int j = 4 * p;
      const __m512i v = _mm512_loadu_si512(blk + Base::kNibbles + 64 * p);
      __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      if constexpr (Base::kFive) {
        const __m512i one = _mm512_set1_epi8(1);
        lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, two_shifts(j, j + 2)), one), 4));
        hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, two_shifts(j + 1, j + 3)), one), 4));
      }
      scaled = dot_scaled(scaled, lo, x.x[2 * p], two_lanes(scales, j, j + 2));
      scaled = dot_scaled(scaled, hi, x.x[2 * p + 1], two_lanes(scales, j + 1, j + 3));
    }
    return {scaled, kblock_min_sums(sm, x.sums), block_scale(blk), block_scale(blk + 2)};
  }
};
template <>
struct KFormatVnni<DType::Q4_K> : KFormatVnniMins<DType::Q4_K> {};
template <>
struct KFormatVnni<DType::Q5_K> : KFormatVnniMins<DType::Q5_K> {};

// Q6_K: half h's 64 ql bytes hold quarters 0, 1 (low nibbles) and 2, 3 (high), x's 128 bytes in
// order; qh's 32 bytes, in both halves of a vector, give each quarter its bits 2t, 2t + 1.
template <>
struct KFormatVnni<DType::Q6_K> {
  static constexpr int64_t kBytes = kQ6_KBytes;
  using X = KXBlockVnni;
  static X load_x(const int8_t* q, const int16_t* sums) {
    return {{_mm512_loadu_si512(q), _mm512_loadu_si512(q + 64), _mm512_loadu_si512(q + 128),
             _mm512_loadu_si512(q + 192)},
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))};
  }
  static KBlockSumsVnni sums(const unsigned char* blk, const X& x) {
    const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    // Each group's signed scale in the low int16 of an int32 lane, the high int16 zero.
    const __m512i sc = _mm512_and_si512(_mm512_cvtepi8_epi32(sc8), _mm512_set1_epi32(0xffff));
    const __m512i low = _mm512_set1_epi8(0x0f), three = _mm512_set1_epi8(3);
    const __m512i group_of_lane = _mm512_srli_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 2);  // 64 elements: 4 groups
    __m512i scaled = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i v = _mm512_loadu_si512(blk + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h)));
      auto high_bits = [&](int t) {
        return _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, two_shifts(2 * t, 2 * t + 2)), three), 4);
      };
      const __m512i q01 = _mm512_or_si512(_mm512_and_si512(v, low), high_bits(0));
      const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v, 4), low), high_bits(2));
      const __m512i g = _mm512_add_epi32(group_of_lane, _mm512_set1_epi32(8 * h));
      scaled = dot_scaled(scaled, q01, x.x[2 * h], _mm512_permutexvar_epi32(g, sc));
      scaled = dot_scaled(scaled, q23, x.x[2 * h + 1], _mm512_permutexvar_epi32(_mm512_add_epi32(g, _mm512_set1_epi32(4)), sc));
    }
    const float d = block_scale(blk + 208);
    return {scaled, q6_offset_sums(sc8, x.sums), d, 32 * d};
  }
};

inline __m512 fma_sums(__m512i v, float f, __m512 acc) { return _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_set1_ps(f), acc); }
inline float hsum_ps(__m512 v) { return _mm512_reduce_add_ps(v); }
#endif

inline __m256 fma_sums(__m256i v, float f, __m256 acc) { return _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(f), acc); }
inline float hsum_ps(__m256 v) { return hsum256(v); }

// Row w of W · one activation row (xq, its scales xd and its sums per 16 xs), over nb
// super-blocks, with format P (KFormat or KFormatVnni).
template <class P>
inline float kdot_row(const int8_t* xq, const float* xd, const int16_t* xs, const unsigned char* w, int64_t nb) {
  using Sums = decltype(P::sums(w, std::declval<typename P::X>()));
  typename Sums::Acc acc{};  // zeros
  __m256 acc_min = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const typename P::X x = P::load_x(xq + b * kKBlock, xs + b * (kKBlock / kKSumGroup));
    const unsigned char* blk = w + b * P::kBytes;
    for (int64_t line = 0; line < P::kBytes; line += 64) prefetch_nta(blk + kQuantPrefetchBytes + line);
    const Sums s = P::sums(blk, x);
    acc = fma_sums(s.scaled, s.d * xd[b], acc);
    acc_min = fma_sums(s.mins, s.dmin * xd[b], acc_min);
  }
  return hsum_ps(acc) - hsum256(acc_min);
}

// y[m, n] for n in [n0, n1), M < kLinearGemmMinRows: one row of W at a time, a single sequential
// stream per thread, read from memory once for every row of x (from L1 after the first). Tiles of
// 4 rows sharing x's vectors measured slower in whole decodes of Llama-3.2-1B q4_k_m: 31.8 -> 36.0
// tokens/s with AVX-512 VNNI (six alternated runs, five faster, one level), 23.2 -> 30.9 on the
// AVX2 tier (two runs).
template <class P>
void kgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* wv, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kKBlock, row_bytes = nb * P::kBytes;
  const int64_t x_nb = ldx / kKBlock;  // the activation row's layout (quant_kblocks.h)
  const int64_t x_row_bytes = ldx + x_nb * 4 + ldx / kKSumGroup * 2;
  const auto* w = static_cast<const unsigned char*>(wv);
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const auto* row = static_cast<const unsigned char*>(xv) + m * x_row_bytes;
      const auto* xq = reinterpret_cast<const int8_t*>(row);
      const auto* xd = reinterpret_cast<const float*>(row + ldx);
      const auto* xs = reinterpret_cast<const int16_t*>(row + ldx + x_nb * 4);
      y[m * ldy + n] = kdot_row<P>(xq, xd, xs, w + n * row_bytes, nb);
    }
}

// ---------------------------------------------------------------------------------------------
// Rows of W dequantized for prompt-sized products: to f32 (WeightKernels::dequant_rows: the
// driver's BLAS path) or to bf16 panels (dequant_rows_bf16, on CPUs with AVX512_BF16: the BF16
// gemm's VDPBF16PS). The scalar codec took ~4 ns a weight, so a 128-token prompt of a 1B model in
// q4_k_m spent longer dequantizing than multiplying.

// One super-block's 256 elements into out, a vector at a time through store(pointer, vector): the
// q unpacked by the dot products' code, then one multiply and one subtract per vector, as the
// scalar codec computes each element.
template <DType DT, class Out, class Store>
inline void kdequant_block(const unsigned char* blk, Out* out, Store store) {
  KBlockUnpacked u;
  KFormat<DT>::unpack(blk, u);
  const vf offset = vset1(u.offset);
  for (int g = 0; g < 16; ++g) {
    const vf mul = vset1(u.mul[g]), sub = vset1(u.sub[g]);
    for (int l = 0; l < 16; l += kLanes)
      store(out + 16 * g + l, vsub(vmul(mul, vsub(vload_u8(u.q + 16 * g + l), offset)), sub));
  }
}

// Rows [row0, row0 + rows) of W into out (f32 or bf16, as store writes a vector).
template <DType DT, class Out, class Store>
void kdequant_rows_with(const void* w, int64_t K, int64_t row0, int64_t rows, Out* out, Store store) {
  const int64_t blocks = rows * (K / kKBlock);
  const auto* b = static_cast<const unsigned char*>(w) + row0 * (K / kKBlock) * KFormat<DT>::kBytes;
  for (int64_t i = 0; i < blocks; ++i) kdequant_block<DT>(b + i * KFormat<DT>::kBytes, out + i * kKBlock, store);
}

template <DType DT>
void kdequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  kdequant_rows_with<DT>(w, K, row0, rows, out, [](float* p, vf v) { vstore(p, v); });
}

#if TCPP_TIER_BF16_DOT
// Rounded to nearest even by the instruction that rounds x for the BF16 gemm.
template <DType DT>
void kdequant_rows_bf16(const void* w, int64_t K, int64_t row0, int64_t rows, uint16_t* out) {
  kdequant_rows_with<DT>(w, K, row0, rows, out, [](uint16_t* p, vf v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  });
}
#endif

// AVX-512 CPUs with VNNI take the VPDPBUSD kernels; the same activation rows either way.
template <DType DT>
WeightKernels kquant_weight_kernels() {
  WeightKernels k{nullptr, kgemm<KFormat<DT>>, kdequant_rows<DT>, WeightFormat::ActivationFormat::Int8KBlocks,
                  quantize_activations_k};
#if TCPP_TIER_VNNI
  if (cpu_has_avx512_vnni()) k.gemm = kgemm<KFormatVnni<DT>>;
#endif
#if TCPP_TIER_BF16_DOT
  if (bf16_dot_products_enabled()) k.dequant_rows_bf16 = kdequant_rows_bf16<DT>;
#endif
  k.gemm_rows_below = kLinearGemmMinRows;
  return k;
}
