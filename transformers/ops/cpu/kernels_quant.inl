// Quantized weights (Q8_0, Q4_0) times int8 activations (quant_blocks.h), part of the shared tier
// source (included by kernels_simd.inl inside the tier's namespace). One 32-element block is one
// 256-bit vector of int8 on both tiers. The integer dot uses the sign trick of llama.cpp:
// |x| (u8) times sign(x) * w (s8), so one instruction multiplies unsigned by signed bytes:
// maddubs + madd on AVX2 (pair sums stay below 2 * 127 * 127, no saturation), VPDPBUSD on an
// AVX-512 CPU with VNNI. |x| is shared by the 4 weight rows of a tile; each block's int32 sums
// become floats scaled by d_w * d_x.
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

// The 32 signed values of a weight block: q (Q8_0) or nibble - 8 (Q4_0, low nibbles first).
template <DType DT>
inline __m256i block_int8(const unsigned char* b) {
  if constexpr (DT == DType::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
  } else {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low), _mm_and_si128(packed, low));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
  }
}

// Eight int32 partial sums of |x| * (sign(x) * w).
template <bool Vnni>
inline __m256i dot_int8(__m256i abs_x, __m256i signed_w) {
#if TCPP_TIER_VNNI
  if constexpr (Vnni) return _mm256_dpbusd_epi32(_mm256_setzero_si256(), abs_x, signed_w);
#endif
  return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_x, signed_w), _mm256_set1_epi16(1));
}

// The f16 scales d of 8 consecutive weight blocks (bb bytes apart) as 8 floats: one gather of
// 32-bit words (each d with the block's first two bytes of q, inside the block), narrowed to 16.
template <int64_t bb>
inline __m256 block_scales8(const unsigned char* w) {
  const __m256i offsets = _mm256_setr_epi32(0, bb, 2 * bb, 3 * bb, 4 * bb, 5 * bb, 6 * bb, 7 * bb);
  const __m256i words = _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(w), offsets, 1),
                                         _mm256_set1_epi32(0xffff));
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08);
  return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

constexpr int64_t kQuantPrefetchBytes = 2048;

// out[r] = row r of W (R consecutive rows, row_bytes apart) · one activation row. Scales come
// 8 blocks at a time (a gather, a multiply by the 8 activation scales) and are broadcast per
// block with one permute, instead of a scalar f16 load, convert, multiply and broadcast per block.
template <DType DT, bool Vnni, int R>
inline void qdot_rows(const int8_t* xq, const float* xd, const unsigned char* w, int64_t row_bytes, int64_t nb,
                      float* out, int64_t ld_out) {
  constexpr int64_t bb = DT == DType::Q8_0 ? kQ8_0Bytes : kQ4_0Bytes;
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  auto block = [&](int64_t b, int r, __m256i x, __m256i ax, __m256 scale) {
    const __m256i p = dot_int8<Vnni>(ax, _mm256_sign_epi8(block_int8<DT>(w + r * row_bytes + b * bb), x));
    acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[r]);
  };
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    // The weight rows stream from memory: prefetched ahead with the non-temporal hint, as the
    // float gemv does (the hardware prefetcher alone left R concurrent row streams short).
    for (int r = 0; r < R; ++r)
      for (int64_t line = 0; line < 8 * bb; line += 64) prefetch_nta(w + r * row_bytes + b * bb + kQuantPrefetchBytes + line);
    const __m256 dx = _mm256_loadu_ps(xd + b);
    __m256 scales[R];
    for (int r = 0; r < R; ++r) scales[r] = _mm256_mul_ps(block_scales8<bb>(w + r * row_bytes + b * bb), dx);
    for (int j = 0; j < 8; ++j) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + (b + j) * kQBlock));
      const __m256i ax = _mm256_sign_epi8(x, x);
      const __m256i lane = _mm256_set1_epi32(j);
      for (int r = 0; r < R; ++r) block(b + j, r, x, ax, _mm256_permutevar8x32_ps(scales[r], lane));
    }
  }
  for (; b < nb; ++b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQBlock));
    const __m256i ax = _mm256_sign_epi8(x, x);
    for (int r = 0; r < R; ++r)
      block(b, r, x, ax, _mm256_set1_ps(block_scale(w + r * row_bytes + b * bb) * xd[b]));
  }
  for (int r = 0; r < R; ++r) out[r * ld_out] = hsum256(acc[r]);
}

// Activation rows per pass over a tile of W rows: 64 rows of x (at K = 4864, 350 KB) stay in L2
// while each 4-row tile of W (20 KB) stays in L1.
constexpr int64_t kQuantRowsPerPass = 64;

// y[m, n] for n in [n0, n1): gemv (M = 1) and prompt GEMMs alike. y is written transposed per
// tile (ld_out = 1 within a row of y).
template <DType DT, bool Vnni>
void qgemm(const void* xv, int64_t M, int64_t K, int64_t ldx, const void* wv, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  const int64_t nb = K / kQBlock, row_bytes = nb * (DT == DType::Q8_0 ? kQ8_0Bytes : kQ4_0Bytes);
  const int64_t x_row_bytes = ldx + ldx / kQBlock * static_cast<int64_t>(sizeof(float));  // quant_blocks.h
  const auto* w = static_cast<const unsigned char*>(wv);
  for (int64_t m0 = 0; m0 < M; m0 += kQuantRowsPerPass) {
    const int64_t m1 = std::min(M, m0 + kQuantRowsPerPass);
    for (int64_t n = n0; n < n1; n += 4) {
      const int64_t rows = std::min<int64_t>(4, n1 - n);
      const unsigned char* wn = w + n * row_bytes;
      for (int64_t m = m0; m < m1; ++m) {
        const auto* row = static_cast<const unsigned char*>(xv) + m * x_row_bytes;
        const auto* xq = reinterpret_cast<const int8_t*>(row);
        const auto* xd = reinterpret_cast<const float*>(row + ldx);
        float* out = y + m * ldy + n;
        switch (rows) {
          case 4: qdot_rows<DT, Vnni, 4>(xq, xd, wn, row_bytes, nb, out, 1); break;
          case 3: qdot_rows<DT, Vnni, 3>(xq, xd, wn, row_bytes, nb, out, 1); break;
          case 2: qdot_rows<DT, Vnni, 2>(xq, xd, wn, row_bytes, nb, out, 1); break;
          default: qdot_rows<DT, Vnni, 1>(xq, xd, wn, row_bytes, nb, out, 1); break;
        }
      }
    }
  }
}

template <DType DT>
void qdequant_rows(const void* w, int64_t K, int64_t row0, int64_t rows, float* out) {
  weight_format(DT).dequantize(static_cast<const char*>(w) + dtype_nbytes(DT, row0 * K), out, rows * K);
}

template <DType DT>
WeightKernels quantized_weight_kernels() {
  WeightKernels k{nullptr, qgemm<DT, false>, qdequant_rows<DT>, WeightFormat::ActivationFormat::Int8Blocks,
                  quantize_activations};
#if TCPP_TIER_VNNI
  if (cpu_has_avx512_vnni()) k.gemm = qgemm<DT, true>;
#endif
  return k;
}

// The K-quant super-block formats (Q4_K, Q5_K, Q6_K; quant_kblocks.h), correct before fast: gemv
// dequantizes each row of W with the scalar codec into a buffer of the thread and takes the tier's
// f32 dot with each row of x; many rows go to the driver's BLAS path on dequantized panels.
template <DType DT>
void dequantizing_gemv(const float* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t n0, int64_t n1,
                       float* y, int64_t ldy) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(K));
  const int64_t row_bytes = static_cast<int64_t>(dtype_nbytes(DT, K));
  for (int64_t n = n0; n < n1; ++n) {
    weight_format(DT).dequantize(static_cast<const char*>(w) + n * row_bytes, row.data(), K);
    for (int64_t m = 0; m < M; ++m) y[m * ldy + n] = dot(x + m * ldx, row.data(), K);
  }
}

template <DType DT>
WeightKernels dequantizing_weight_kernels() {
  return {dequantizing_gemv<DT>, nullptr, qdequant_rows<DT>, WeightFormat::ActivationFormat::F32, nullptr};
}
