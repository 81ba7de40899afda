// The key-tile loop of blocked attention (flash-attention's online softmax), shared by the dense
// op (attention_op.cpp: keys of one batch row in a [B, Hkv, T, D] tensor) and the paged op
// (paged_attention_op.cpp: keys of one sequence in 64-token pages reached through its block
// table). Both describe a task the same way: a group of query rows that share one KV head, the
// keys they may see, and where those keys live.
#pragma once

#include <cstdint>
#include <vector>

#include "transformers/ops/ops.h"

namespace transformers::ops::cpu_impl {

constexpr int64_t kKeyBlock = 64;  // keys per tile; a page of the paged cache is one tile

// Per-thread scratch of one task.
struct AttentionScratch {
  std::vector<float> q;          // [rows, D] query rows, pre-scaled
  std::vector<float> s;          // [rows, kKeyBlock] scores, then probabilities
  std::vector<float> o;          // [rows, Dv] unnormalised output
  std::vector<float> m, l;       // running max and sum per row
  std::vector<int64_t> lo, hi;   // visible key range [lo, hi) per row (indices into the keys)
  std::vector<uint8_t> allowed;  // padding mask over the keys of the tile
};

// Where the keys and values of one KV head live: either dense rows (k + j * k_stride), or pages
// of kKeyBlock rows of stride `row` (page j / kKeyBlock of `table` is block id b, whose memory
// starts at blocks[b]; this head's K and V at k_offset / v_offset floats in it).
struct KeyRows {
  const float *k = nullptr, *v = nullptr;
  int64_t k_stride = 0, v_stride = 0;
  const int32_t* table = nullptr;
  const Tensor* blocks = nullptr;
  int64_t k_offset = 0, v_offset = 0, row = 0;

  // Rows [j, j + n) are contiguous from k_at(j) / v_at(j) for n <= run(j).
  int64_t run(int64_t j) const { return table ? kKeyBlock - j % kKeyBlock : INT64_MAX; }
  const float* k_at(int64_t j) const {
    return table ? page(j) + k_offset + (j % kKeyBlock) * row : k + j * k_stride;
  }
  const float* v_at(int64_t j) const {
    return table ? page(j) + v_offset + (j % kKeyBlock) * row : v + j * v_stride;
  }
  int64_t k_row_stride() const { return table ? row : k_stride; }
  int64_t v_row_stride() const { return table ? row : v_stride; }

 private:
  const float* page(int64_t j) const { return blocks[table[j / kKeyBlock]].data<float>(); }
};

// One task: `group` query heads x `np` consecutive positions sharing one KV head. Row
// r = g * np + ii is query head g of the group at position ii, read from
// q + g * q_head_stride + ii * q_pos_stride. Position ii has cache position query_position + ii
// and sees the keys visible_keys(p, ...) allows among T keys starting at p.key_position.
struct AttentionTask {
  const float* q = nullptr;
  int64_t q_head_stride = 0, q_pos_stride = 0;
  int64_t group = 1, np = 1, D = 0, Dv = 0;
  int64_t query_position = 0, T = 0;
  const AttentionParams* p = nullptr;
  KeyRows keys;
  int64_t batch_row = 0;  // row of p->key_padding_mask, when there is one

  int64_t rows() const { return group * np; }
};

// The online softmax of task `t` over keys [key_begin, key_end): leaves each row's running max,
// sum and unnormalised output in sc.m, sc.l, sc.o.
void attend(const AttentionTask& t, int64_t key_begin, int64_t key_end, AttentionScratch& sc);

}  // namespace transformers::ops::cpu_impl
