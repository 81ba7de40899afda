// Per key tile: S = Q Kᵀ (dot_tile), masking, an online softmax update (running max and sum per
// query row, exp_shift_sum) and O += P V (matmul_acc_tile). Memory per task is O(rows x tile),
// whatever the context length. A tile never crosses a page, so paged keys are read in place.
#include "transformers/ops/cpu/attention_tiles.h"

#include <algorithm>
#include <cmath>

#include "transformers/ops/cpu/kernels.h"
#include "transformers/ops/cpu/padding_mask.h"

namespace transformers::ops::cpu_impl {

void attend(const AttentionTask& t, int64_t key_begin, int64_t key_end, AttentionScratch& sc) {
  const auto& K = cpu::kernels();
  const AttentionParams& p = *t.p;
  const int64_t rows = t.rows(), D = t.D, Dv = t.Dv;
  sc.q.resize(rows * D);
  sc.s.resize(rows * kKeyBlock);
  sc.o.assign(rows * Dv, 0.0f);
  sc.m.assign(rows, -INFINITY);
  sc.l.assign(rows, 0.0f);
  sc.lo.resize(rows);
  sc.hi.resize(rows);
  int64_t lo_all = key_end, hi_all = key_begin;
  for (int64_t g = 0; g < t.group; ++g)
    for (int64_t ii = 0; ii < t.np; ++ii) {
      const int64_t r = g * t.np + ii;
      K.scale(t.q + g * t.q_head_stride + ii * t.q_pos_stride, p.scale, sc.q.data() + r * D, D);
      auto [lo, hi] = visible_keys(p, t.query_position + ii, t.T);
      sc.lo[r] = lo;
      sc.hi[r] = hi;
      lo = std::max(lo, key_begin);
      hi = std::min(hi, key_end);
      if (lo < hi) {
        lo_all = std::min(lo_all, lo);
        hi_all = std::max(hi_all, hi);
      }
    }
  for (int64_t j0 = lo_all; j0 < hi_all;) {
    const int64_t nj = std::min({kKeyBlock, hi_all - j0, t.keys.run(j0)});
    if (p.key_padding_mask) {
      sc.allowed.resize(nj);
      for (int64_t j = 0; j < nj; ++j) sc.allowed[j] = key_allowed(*p.key_padding_mask, t.batch_row, p.key_position + j0 + j);
    }
    K.dot_tile(sc.q.data(), D, rows, t.keys.k_at(j0), t.keys.k_row_stride(), nj, D, sc.s.data(), kKeyBlock);
    for (int64_t r = 0; r < rows; ++r) {
      float* s = sc.s.data() + r * kKeyBlock;
      // Keys of the tile this row may not see (outside [lo, hi) or padding) get -inf.
      const int64_t vis_lo = std::clamp<int64_t>(sc.lo[r] - j0, 0, nj), vis_hi = std::clamp<int64_t>(sc.hi[r] - j0, 0, nj);
      std::fill(s, s + vis_lo, -INFINITY);
      std::fill(s + std::max(vis_lo, vis_hi), s + nj, -INFINITY);
      if (p.softcap > 0.0f)
        for (int64_t j = vis_lo; j < vis_hi; ++j) s[j] = p.softcap * std::tanh(s[j] / p.softcap);
      if (p.key_padding_mask)
        for (int64_t j = vis_lo; j < vis_hi; ++j)
          if (!sc.allowed[j]) s[j] = -INFINITY;
      float mx = -INFINITY;
      for (int64_t j = vis_lo; j < vis_hi; ++j) mx = std::max(mx, s[j]);
      if (mx == -INFINITY) {  // nothing visible in this tile: contributes zeros
        std::fill(s, s + nj, 0.0f);
        continue;
      }
      const float m_new = std::max(sc.m[r], mx);
      const float correction = std::exp(sc.m[r] - m_new);  // 0 on the first visible tile
      sc.l[r] = sc.l[r] * correction + K.exp_shift_sum(s, m_new, nj);
      if (correction != 1.0f) K.scale(sc.o.data() + r * Dv, correction, sc.o.data() + r * Dv, Dv);
      sc.m[r] = m_new;
    }
    K.matmul_acc_tile(sc.s.data(), kKeyBlock, rows, nj, t.keys.v_at(j0), t.keys.v_row_stride(), sc.o.data(), Dv, Dv);
    j0 += nj;
  }
}

}  // namespace transformers::ops::cpu_impl
