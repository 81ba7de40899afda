// K-quant weights (Q4_K, Q5_K, Q6_K; quant_kblocks.h) times int8 super-block activations
// (Int8KBlocks: int8 x with an f32 scale per 256 and int16 sums per 16, made once per call by
// quantize_activations_k), part of the shared tier source (included by kernels_simd.inl after
// kernels_quant.inl, inside the tier's namespace). Decode only (WeightKernels::gemm_rows_below):
// prompts keep the driver's BLAS path on dequantized rows.
//
// Every format is x_e = d * sc[e / 16] * q_e - dmin * m[e / 16] with unsigned q (4, 5 or 6 bits;
// Q6_K's offset of 32 is its "min", m = 32 sc under dmin = d), so
//   sum_e x_e x'_e = d_x * (d * sum_g sc_g sum_{e in g} q_e q_x,e  -  dmin * sum_g m_g s_x,g)
// with s_x,g the activation sums per 16. The first sum: maddubs (q unsigned, q_x signed; pair sums
// at most 2 * 63 * 127, no saturation), then madd by the scales; the second is one madd of the
// mins against the sums. Both stay in int32 (at most ~2^25 per lane) until one conversion and
// FMA per super-block. 256-bit vectors on both tiers.

constexpr int64_t kKTileRows = 2;  // W rows per tile: x's vectors are shared by both

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

// The per-row state of one super-block: its integer sums (8 int32 lanes each) and the two factors.
struct KBlockSums {
  __m256i scaled, mins;  // sum sc q q_x; sum m s_x (zero for Q6_K, whose offset is in `scaled`)
  float d, dmin;
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
  static KBlockSums sums(const unsigned char* blk, const int8_t* x, __m256i xsums) {
    const __m128i sm = kblock_scales_mins(blk + 4);
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
    // m_j twice (one per 16 of the sub-block) against the 16 sums.
    const __m256i mins = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)), xsums);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i qh;
    if constexpr (kFive) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    __m256i scaled = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kNibbles + 32 * c));
      __m256i lo = _mm256_and_si256(packed, low), hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low);
      if constexpr (kFive) {  // bit j of qh[l] is the fifth bit of sub-block j's element l
        const __m256i one = _mm256_set1_epi8(1);
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
      }
      const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 64 * c));
      const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 64 * c + 32));
      scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(lo, x0), broadcast_i16(scales, 2 * c)));
      scaled =
          _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(hi, x1), broadcast_i16(scales, 2 * c + 1)));
    }
    return {scaled, mins, block_scale(blk), block_scale(blk + 2)};
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
  static KBlockSums sums(const unsigned char* blk, const int8_t* x, __m256i xsums) {
    const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    // The offset: 32 * sum_g sc_g s_x,g, subtracted in int32.
    __m256i scaled = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc, xsums), 5));
    const __m256i low = _mm256_set1_epi8(0x0f), two = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      const __m256i half_sc = _mm256_permute2x128_si256(sc, sc, h ? 0x11 : 0x00);
      for (int t = 0; t < 4; ++t) {
        const __m256i ql = t % 2 ? ql1 : ql0;
        const __m256i lo = t < 2 ? _mm256_and_si256(ql, low) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low);
        const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * t), two), 4);
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 128 * h + 32 * t));
        // Scales of the quarter's two groups of 16: sc[8h + 2t] in the low half, the next in the high.
        const __m256i scales = _mm256_shuffle_epi8(
            half_sc, _mm256_setr_m128i(_mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * t))),
                                       _mm_set1_epi16(static_cast<short>(0x0100 + 0x0202 * (2 * t + 1)))));
        scaled = _mm256_add_epi32(scaled, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_or_si256(lo, hi), xv), scales));
      }
    }
    const float d = block_scale(blk + 208);
    return {scaled, _mm256_setzero_si256(), d, d};
  }
};

// out[r] = row r of W (R rows, row_bytes apart) · one activation row (xq, its scales xd and its
// sums per 16 xs), over nb super-blocks.
template <DType DT, int R>
inline void kdot_rows(const int8_t* xq, const float* xd, const int16_t* xs, const unsigned char* w, int64_t row_bytes,
                      int64_t nb, float* out) {
  using F = KFormat<DT>;
  __m256 acc[R], acc_min[R];
  for (int r = 0; r < R; ++r) acc[r] = acc_min[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i xsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + b * (kKBlock / kKSumGroup)));
    for (int r = 0; r < R; ++r) {
      const unsigned char* blk = w + r * row_bytes + b * F::kBytes;
      for (int64_t line = 0; line < F::kBytes; line += 64) prefetch_nta(blk + kQuantPrefetchBytes + line);
      const KBlockSums s = F::sums(blk, xq + b * kKBlock, xsums);
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s.scaled), _mm256_set1_ps(s.d * xd[b]), acc[r]);
      acc_min[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s.mins), _mm256_set1_ps(s.dmin * xd[b]), acc_min[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum256(acc[r]) - hsum256(acc_min[r]);
}

// y[m, n] for n in [n0, n1), M < kLinearGemmMinRows: each tile of W rows is read from memory
// once, for every row of x (from L1 after the first).
template <DType DT>
void kgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* wv, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kKBlock, row_bytes = nb * KFormat<DT>::kBytes;
  const int64_t x_nb = ldx / kKBlock;  // the activation row's layout (quant_kblocks.h)
  const int64_t x_row_bytes = ldx + x_nb * 4 + ldx / kKSumGroup * 2;
  const auto* w = static_cast<const unsigned char*>(wv);
  for (int64_t n = n0; n < n1; n += kKTileRows) {
    const int64_t rows = std::min<int64_t>(kKTileRows, n1 - n);
    for (int64_t m = 0; m < M; ++m) {
      const auto* row = static_cast<const unsigned char*>(xv) + m * x_row_bytes;
      const auto* xq = reinterpret_cast<const int8_t*>(row);
      const auto* xd = reinterpret_cast<const float*>(row + ldx);
      const auto* xs = reinterpret_cast<const int16_t*>(row + ldx + x_nb * 4);
      float* out = y + m * ldy + n;
      if (rows == kKTileRows)
        kdot_rows<DT, kKTileRows>(xq, xd, xs, w + n * row_bytes, row_bytes, nb, out);
      else
        kdot_rows<DT, 1>(xq, xd, xs, w + n * row_bytes, row_bytes, nb, out);
    }
  }
}

template <DType DT>
WeightKernels kquant_weight_kernels() {
  WeightKernels k{nullptr, kgemm<DT>, format_dequant_rows<DT>, WeightFormat::ActivationFormat::Int8KBlocks,
                  quantize_activations_k};
  k.gemm_rows_below = kLinearGemmMinRows;
  return k;
}
