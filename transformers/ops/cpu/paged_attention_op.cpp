// Paged attention on the CPU: tasks are (sequence, KV head, block of query positions), each run
// by the shared key-tile loop (attention_tiles.cpp) reading keys page by page through the
// sequence's block table. Many sequences give many tasks, so keys are not split across tasks
// (the dense op's flash-decoding) here.
#include <algorithm>

#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/attention_tiles.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

namespace {

// This layer's K (or V, value = true) page of KV head hk, from a block's start.
int64_t head_offset(const PagedKV& kv, int64_t hk, bool value) {
  return kv.layer_offset + ((value ? kv.num_kv_heads : 0) + hk) * kPageTokens * kv.head_dim;
}

}  // namespace

void paged_kv_write(const PagedKV& kv, const Tensor& k, const Tensor& v, const std::vector<RaggedSequence>& sequences) {
  const int64_t Hkv = kv.num_kv_heads, D = kv.head_dim;
  for (const RaggedSequence& s : sequences)
    for (int64_t i = 0; i < s.tokens; ++i) {
      const int64_t pos = s.position + i, row = s.token_begin + i;
      float* block = (*kv.blocks)[static_cast<size_t>(s.block_table[static_cast<size_t>(pos / kPageTokens)])].data<float>();
      for (int64_t hk = 0; hk < Hkv; ++hk) {
        const int64_t slot = (pos % kPageTokens) * D;
        const float* ks = k.data<float>() + row * k.stride(0) + hk * k.stride(1);
        const float* vs = v.data<float>() + row * v.stride(0) + hk * v.stride(1);
        std::copy(ks, ks + D, block + head_offset(kv, hk, false) + slot);
        std::copy(vs, vs + D, block + head_offset(kv, hk, true) + slot);
      }
    }
}

void paged_attention(const Tensor& q, const PagedKV& kv, const std::vector<RaggedSequence>& sequences,
                     const AttentionParams& params, Tensor& out) {
  const int64_t Hq = q.size(1), D = kv.head_dim, Hkv = kv.num_kv_heads, group = Hq / Hkv;
  // Query positions per task: enough that heads x positions fill 64 rows, as the dense op.
  const int64_t positions = std::max<int64_t>(1, kKeyBlock / group);
  struct Unit {
    size_t seq;
    int64_t hk, i0, np;
  };
  std::vector<Unit> units;
  for (size_t si = 0; si < sequences.size(); ++si)
    for (int64_t hk = 0; hk < Hkv; ++hk)
      for (int64_t i0 = 0; i0 < sequences[si].tokens; i0 += positions)
        units.push_back({si, hk, i0, std::min(positions, sequences[si].tokens - i0)});
  AttentionParams p = params;
  p.key_position = 0;
  p.key_padding_mask = nullptr;
  const auto& K = cpu::kernels();
  float* od = out.data<float>();
  ThreadPool::global().run(static_cast<int64_t>(units.size()), [&](int64_t u) {
    thread_local AttentionScratch sc;
    const Unit& un = units[static_cast<size_t>(u)];
    const RaggedSequence& s = sequences[un.seq];
    AttentionTask t;
    t.q = q.data<float>() + (s.token_begin + un.i0) * q.stride(0) + un.hk * group * q.stride(1);
    t.q_head_stride = q.stride(1);
    t.q_pos_stride = q.stride(0);
    t.group = group;
    t.np = un.np;
    t.D = t.Dv = D;
    t.query_position = s.position + un.i0;
    t.T = s.position + s.tokens;
    t.p = &p;
    t.keys.table = s.block_table.data();
    t.keys.blocks = kv.blocks->data();
    t.keys.k_offset = head_offset(kv, un.hk, false);
    t.keys.v_offset = head_offset(kv, un.hk, true);
    t.keys.row = D;
    attend(t, 0, t.T, sc);
    for (int64_t r = 0; r < t.rows(); ++r) {
      const int64_t g = r / un.np, ii = r % un.np;
      const float inv = sc.l[r] > 0.0f ? 1.0f / sc.l[r] : 0.0f;  // a row that saw nothing: zeros
      K.scale(sc.o.data() + r * D, inv, od + (s.token_begin + un.i0 + ii) * Hq * D + (un.hk * group + g) * D, D);
    }
  });
}

}  // namespace transformers::ops::cpu_impl
