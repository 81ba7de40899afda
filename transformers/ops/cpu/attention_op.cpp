// Scaled dot-product attention, blocked (the flash-attention schedule on a CPU): one task takes
// a KV head of one batch row and a block of query positions, with all the query heads that share
// that KV head (GQA), so each K/V row is loaded once for the whole group instead of once per
// query head. The key-tile loop is attention_tiles.cpp (shared with the paged op). Decode with
// few KV heads also splits the keys across tasks (see key_splits).
//
// Rounding differs from a two-pass softmax (the running max rescales partial sums), by a few
// ulp of the output.
#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/attention_tiles.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {
namespace {

constexpr int64_t kRowsPerTask = 64;  // query rows (heads x positions) that share one K/V pass

using Scratch = AttentionScratch;

// One attention problem, split into units: (batch row, KV head, block of query positions).
// A unit's rows are r = g * np + ii: query head hk * group + g at position i0 + ii.
struct Problem {
  const Tensor &q, &k, &v;
  const AttentionParams& p;
  int64_t B, Hq, L, D, Hkv, T, Dv, group, positions, blocks_per_head;

  Problem(const Tensor& q_, const Tensor& k_, const Tensor& v_, const AttentionParams& p_)
      : q(q_),
        k(k_),
        v(v_),
        p(p_),
        B(q.size(0)),
        Hq(q.size(1)),
        L(q.size(2)),
        D(q.size(3)),
        Hkv(k.size(1)),
        T(k.size(2)),
        Dv(v.size(3)),
        group(Hq / Hkv),
        // Query positions per unit: enough that heads x positions fill kRowsPerTask rows.
        positions(std::clamp<int64_t>(kRowsPerTask / group, 1, L)),
        blocks_per_head((L + positions - 1) / positions) {}

  int64_t units() const { return B * Hkv * blocks_per_head; }
  int64_t max_rows() const { return positions * group; }

  struct Unit {
    int64_t b, hk, i0, np;
    int64_t rows(int64_t group) const { return np * group; }
  };
  Unit unit(int64_t u) const {
    const int64_t blk = u % blocks_per_head, hk = (u / blocks_per_head) % Hkv,
                  b = u / (blocks_per_head * Hkv);
    return {b, hk, blk * positions, std::min(positions, L - blk * positions)};
  }

  void attend(const Unit& un, int64_t key_begin, int64_t key_end, Scratch& sc) const {
    AttentionTask t;
    t.q = q.data<float>() + un.b * q.stride(0) + un.hk * group * q.stride(1) + un.i0 * q.stride(2);
    t.q_head_stride = q.stride(1);
    t.q_pos_stride = q.stride(2);
    t.group = group;
    t.np = un.np;
    t.D = D;
    t.Dv = Dv;
    t.query_position = p.query_position + un.i0;
    t.T = T;
    t.p = &p;
    t.keys.k = k.data<float>() + un.b * k.stride(0) + un.hk * k.stride(1);
    t.keys.v = v.data<float>() + un.b * v.stride(0) + un.hk * v.stride(1);
    t.keys.k_stride = k.stride(2);
    t.keys.v_stride = v.stride(2);
    t.batch_row = un.b;
    cpu_impl::attend(t, key_begin, key_end, sc);
  }

  // Where row r of unit `un` goes in the [B, L, Hq * Dv] output.
  float* out_row(float* out, const Unit& un, int64_t r) const {
    const int64_t g = r / un.np, ii = r % un.np;
    return out + (un.b * L + un.i0 + ii) * Hq * Dv + (un.hk * group + g) * Dv;
  }
};

// Decode (one query, few KV heads) gives fewer units than threads, and a long context makes each
// unit long: then the keys of a unit are split too (flash-decoding), each split keeping its own
// running max/sum/output, merged afterwards. Splits are whole key blocks, at least 4 of them.
int64_t key_splits(int64_t units, int64_t T, int threads) {
  const int64_t wanted = (2 * static_cast<int64_t>(threads) + units - 1) / units;
  return std::clamp<int64_t>(std::min(wanted, T / (4 * kKeyBlock)), 1, 64);
}

}  // namespace

void attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
               Tensor& out) {
  const Problem pr(q, k, v, p);
  float* od = out.data<float>();
  const auto& K = cpu::kernels();
  ThreadPool& pool = ThreadPool::global();
  const int64_t units = pr.units(), splits = key_splits(units, pr.T, pool.size());

  if (splits == 1) {
    pool.run(units, [&](int64_t u) {
      thread_local Scratch sc;
      const auto un = pr.unit(u);
      pr.attend(un, 0, pr.T, sc);
      for (int64_t r = 0; r < un.rows(pr.group); ++r) {
        // A row that saw no key at all (fully masked) gives zeros, as documented in ops.h.
        const float inv = sc.l[r] > 0.0f ? 1.0f / sc.l[r] : 0.0f;
        K.scale(sc.o.data() + r * pr.Dv, inv, pr.out_row(od, un, r), pr.Dv);
      }
    });
    return;
  }

  // Split keys: partial (max, sum, output) per (unit, split, row), then one merge per unit.
  const int64_t chunk = (pr.T + splits * kKeyBlock - 1) / (splits * kKeyBlock) * kKeyBlock;
  const int64_t R = pr.max_rows(), parts = units * splits;
  std::vector<float> part_o(parts * R * pr.Dv), part_m(parts * R), part_l(parts * R);
  pool.run(parts, [&](int64_t t) {
    thread_local Scratch sc;
    const auto un = pr.unit(t / splits);
    const int64_t key_begin = (t % splits) * chunk;
    pr.attend(un, key_begin, std::min(pr.T, key_begin + chunk), sc);
    const int64_t rows = un.rows(pr.group);
    std::copy(sc.o.begin(), sc.o.begin() + rows * pr.Dv, part_o.begin() + t * R * pr.Dv);
    std::copy(sc.m.begin(), sc.m.begin() + rows, part_m.begin() + t * R);
    std::copy(sc.l.begin(), sc.l.begin() + rows, part_l.begin() + t * R);
  });
  pool.run(units, [&](int64_t u) {
    const auto un = pr.unit(u);
    for (int64_t r = 0; r < un.rows(pr.group); ++r) {
      float m = -INFINITY;
      for (int64_t sp = 0; sp < splits; ++sp) m = std::max(m, part_m[(u * splits + sp) * R + r]);
      float* dst = pr.out_row(od, un, r);
      std::fill(dst, dst + pr.Dv, 0.0f);
      if (m == -INFINITY) continue;  // fully masked row: zeros
      float l = 0.0f;
      for (int64_t sp = 0; sp < splits; ++sp) {
        const int64_t idx = (u * splits + sp) * R + r;
        if (part_m[idx] == -INFINITY) continue;
        const float w = std::exp(part_m[idx] - m);
        l += part_l[idx] * w;
        K.axpy(w, part_o.data() + idx * pr.Dv, dst, pr.Dv);
      }
      K.scale(dst, 1.0f / l, dst, pr.Dv);
    }
  });
}

}  // namespace transformers::ops::cpu_impl
