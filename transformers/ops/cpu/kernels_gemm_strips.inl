// The f32 GEMM of prompts as outer products (part of kernels_simd.inl: one source, compiled per
// tier). x comes packed once per call (convert_x = pack_strips, ActivationFormat::F32Strips): rows
// in strips of kLanes, each strip k-major, so that one vector load gives one column of x for
// kLanes rows. A tile of MS strips by NR rows of W then does, per k, MS vector loads of x, NR
// broadcasts of a weight and MS x NR FMAs: its accumulators are finished sums of y, with none of
// the horizontal reductions of FloatTile (kernels_simd.inl), and any K works without a tail.
// The accumulators run down y's columns, so the tiles write yᵀ into a block of the calling
// thread, transposed into y once that block is complete (1 / K of the work).
//
// Needs: kLanes, vf and its operations (the tier's simd header), prefetch_l1, kGemmMBlock,
// transpose (kernels_simd.inl), TCPP_STRIP_MS and TCPP_STRIP_NR (the tier's tile).

#ifndef TCPP_STRIP_MS
#error "the tier's kernel source defines the strip GEMM tile (TCPP_STRIP_MS x TCPP_STRIP_NR)"
#endif
constexpr int kStripMS = TCPP_STRIP_MS, kStripNR = TCPP_STRIP_NR;
static_assert(kActivationRowGroup % kLanes == 0, "a conversion chunk must hold whole strips");
static_assert(kGemmMBlock % kLanes == 0, "an M block must hold whole strips");
// K per block: the W rows of a panel (NR x kStripKBlock x 4 B, 24 KiB at NR = 6) stay in L1 while
// the tiles walk down M, and an M block of packed x (128 x 1024 x 4 B) in L2.
constexpr int64_t kStripKBlock = 1024;
// W rows per block of yᵀ (256 x 128 x 4 B = 128 KiB, in L2 beside the x block).
constexpr int64_t kStripChunkRows = 256;

// x rows [0, M) (leading dimension ldx) packed into strips: strip s holds rows [s * kLanes,
// s * kLanes + r) with r = min(kLanes, M - s * kLanes), element (row s * kLanes + i, k) at
// out[s * kLanes * K + k * r + i]. M * K floats in all.
void pack_strips(const float* x, int64_t M, int64_t K, int64_t ldx, void* out) {
  float* o = static_cast<float*>(out);
  for (int64_t s0 = 0; s0 < M; s0 += kLanes) {
    const int64_t r = std::min<int64_t>(kLanes, M - s0);
    transpose(x + s0 * ldx, r, K, ldx, o + s0 * K, r);
  }
}

// One tile over K [k0, k0 + kb): MS strips (full ones, or one strip of `rows` < kLanes when
// kPartial) by NR rows of W. xs: the first strip's element (its first row, k = 0); strips lie
// kLanes * K floats apart. yt: yᵀ at (row n, the first strip's first row), ldyt floats per row.
// next: the next panel's row 0 at its own first k, prefetched one cache line of each row per 16
// steps of k (nullptr: none).
template <int MS, int NR, bool kPartial>
struct StripTile {
  static void run(const float* xs, int rows, const float* w, int64_t K, int64_t k0, int64_t kb, float* yt,
                  int64_t ldyt, bool accumulate, const float* next) {
    static_assert(!kPartial || MS == 1, "only the last strip is partial");
    constexpr int64_t kLineFloats = 16;
    const int64_t xk = kPartial ? rows : kLanes;  // floats per k in a strip
    const float* xp = xs + k0 * xk;
    const float* wp = w + k0;
    vf acc[MS][NR];
    for (int s = 0; s < MS; ++s)
      for (int j = 0; j < NR; ++j) acc[s][j] = vzero();
    for (int64_t kl = 0; kl < kb; kl += kLineFloats) {
      if (next)
        for (int j = 0; j < NR; ++j) prefetch_l1(next + j * K + kl);
      const int64_t kend = std::min(kb, kl + kLineFloats);
      for (int64_t k = kl; k < kend; ++k) {
        vf xv[MS];
        for (int s = 0; s < MS; ++s)
          xv[s] = kPartial ? vload_first(xp + k * xk, rows) : vload(xp + s * kLanes * K + k * kLanes);
        for (int j = 0; j < NR; ++j) {
          const vf wv = vset1(wp[j * K + k]);
          for (int s = 0; s < MS; ++s) acc[s][j] = vfmadd(xv[s], wv, acc[s][j]);
        }
      }
    }
#pragma GCC unroll 16
    for (int s = 0; s < MS; ++s)
      for (int j = 0; j < NR; ++j) {
        float* out = yt + j * ldyt + s * kLanes;
        vstore(out, accumulate ? vadd(vload(out), acc[s][j]) : acc[s][j]);
      }
  }
};

using StripTileFn = void (*)(const float*, int, const float*, int64_t, int64_t, int64_t, float*, int64_t, bool,
                             const float*);
template <int MS, int... NRs>
constexpr std::array<StripTileFn, sizeof...(NRs)> strip_tile_row(std::integer_sequence<int, NRs...>) {
  return {&StripTile<MS, NRs + 1, false>::run...};
}
template <int... MSs>
constexpr std::array<std::array<StripTileFn, kStripNR>, sizeof...(MSs)> strip_tiles(std::integer_sequence<int, MSs...>) {
  return {strip_tile_row<MSs + 1>(std::make_integer_sequence<int, kStripNR>{})...};
}
template <int... NRs>
constexpr std::array<StripTileFn, sizeof...(NRs)> partial_strip_tiles(std::integer_sequence<int, NRs...>) {
  return {&StripTile<1, NRs + 1, true>::run...};
}
// kFullStripTiles[ms - 1][nr - 1]: ms full strips by nr W rows; kPartialStripTiles[nr - 1]: the last,
// narrower strip.
constexpr auto kFullStripTiles = strip_tiles(std::make_integer_sequence<int, kStripMS>{});
constexpr auto kPartialStripTiles = partial_strip_tiles(std::make_integer_sequence<int, kStripNR>{});

// y[m * ldy + n] = sum_k x[m, k] * W[n, k] for m < M, n in [n0, n1), x packed by pack_strips.
// Blocks: M in kGemmMBlock rows; W rows in chunks of kStripChunkRows, whose yᵀ block is
// complete after every K block and then transposed into y; K in equal blocks of at most
// kStripKBlock; W rows in panels of kStripNR, each walked down the M block by tiles of kStripMS
// strips. The first tile of each panel prefetches the next panel.
void gemm_strips(const void* xv, int64_t M, int64_t K, int64_t /*ldx: packed*/, const void* wv, int64_t n0,
                 int64_t n1, float* y, int64_t ldy) {
  const auto* xs = static_cast<const float*>(xv);
  const auto* w = static_cast<const float*>(wv);
  const int64_t k_blocks = (K + kStripKBlock - 1) / kStripKBlock;
  const int64_t kc = (K + k_blocks - 1) / k_blocks;
  const int64_t ldyt = (std::min(M, kGemmMBlock) + kLanes - 1) / kLanes * kLanes;
  thread_local std::vector<float> ytb;
  ytb.resize(static_cast<size_t>(std::min(kStripChunkRows, n1 - n0) * ldyt));
  float* yt = ytb.data();
  for (int64_t m0 = 0; m0 < M; m0 += kGemmMBlock) {
    const int64_t mb = std::min(kGemmMBlock, M - m0);
    const int64_t full = mb / kLanes;
    const int partial = static_cast<int>(mb % kLanes);
    const float* xm = xs + m0 * K;
    for (int64_t nc = n0; nc < n1; nc += kStripChunkRows) {
      const int64_t nb = std::min(kStripChunkRows, n1 - nc);
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kb = std::min(kc, K - k0);
        for (int64_t n = nc; n < nc + nb; n += kStripNR) {
          const int nr = static_cast<int>(std::min<int64_t>(kStripNR, nc + nb - n));
          const float* wn = w + n * K;
          const float* next = n + kStripNR < nc + nb ? wn + kStripNR * K + k0
                              : k0 + kc < K          ? w + nc * K + k0 + kc
                              : nc + nb < n1         ? w + (nc + nb) * K
                                                     : nullptr;
          float* ytn = yt + (n - nc) * ldyt;
          bool first = true;
          for (int64_t s = 0; s < full; s += kStripMS) {
            const int ms = static_cast<int>(std::min<int64_t>(kStripMS, full - s));
            kFullStripTiles[ms - 1][nr - 1](xm + s * kLanes * K, kLanes, wn, K, k0, kb, ytn + s * kLanes, ldyt, k0 > 0,
                                            first ? next : nullptr);
            first = false;
          }
          if (partial)
            kPartialStripTiles[nr - 1](xm + full * kLanes * K, partial, wn, K, k0, kb, ytn + full * kLanes, ldyt,
                                       k0 > 0, first ? next : nullptr);
        }
      }
      transpose(yt, nb, mb, ldyt, y + m0 * ldy + nc, ldy);
    }
  }
}
