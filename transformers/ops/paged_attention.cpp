// The op API of the paged KV cache: writing a ragged batch's keys/values into pages and attention
// over them. Checks every block id a sequence's table hands to the kernels (a bad table must be
// an error, never a read outside the pool); the CPU implementation is
// ops/cpu/paged_attention_op.cpp.
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

namespace {

void check_rows(const char* op, const char* name, const Tensor& x, int64_t heads, int64_t D) {
  TCPP_CHECK(x.dtype() == DType::F32 && x.dim() == 3 && x.stride(2) == 1 && x.size(2) == D &&
                 (heads == 0 || x.size(1) == heads),
             ShapeError, op, ": ", name, " must be f32 [T, ", heads, ", ", D, "] with contiguous rows, got ",
             x.describe());
}

// The pages of `s` holding positions [begin, end) must be live blocks of the pool.
void check_pages(const char* op, const PagedKV& kv, const RaggedSequence& s, int64_t begin, int64_t end) {
  const int64_t need = kv.layer_offset + 2 * kv.num_kv_heads * kPageTokens * kv.head_dim;
  for (int64_t page = begin / kPageTokens; page * kPageTokens < end; ++page) {
    TCPP_CHECK(page < static_cast<int64_t>(s.block_table.size()), ValueError, op, ": position ", page * kPageTokens,
               " has no page (block table of ", s.block_table.size(), " pages)");
    const int32_t id = s.block_table[static_cast<size_t>(page)];
    TCPP_CHECK(id >= 0 && id < static_cast<int64_t>(kv.blocks->size()), ValueError, op, ": page ", page,
               " names block ", id, ", outside the pool of ", kv.blocks->size());
    const Tensor& b = (*kv.blocks)[static_cast<size_t>(id)];
    TCPP_CHECK(b.defined() && b.dtype() == DType::F32 && b.is_contiguous() && b.numel() >= need, ShapeError, op,
               ": block ", id, " is not an f32 block of ", need, " floats");
  }
}

void check_layout(const char* op, const PagedKV& kv, const std::vector<RaggedSequence>& sequences, int64_t T) {
  TCPP_CHECK(kv.blocks && kv.num_kv_heads > 0 && kv.head_dim > 0 && kv.layer_offset >= 0, ValueError, op,
             ": empty paged KV layout");
  for (const RaggedSequence& s : sequences)
    TCPP_CHECK(s.tokens >= 0 && s.token_begin >= 0 && s.token_begin + s.tokens <= T && s.position >= 0, ValueError,
               op, ": sequence rows [", s.token_begin, ", ", s.token_begin + s.tokens, ") at position ", s.position,
               " do not fit ", T, " packed tokens");
}

}  // namespace

void paged_kv_write(const PagedKV& kv, const Tensor& k, const Tensor& v, const std::vector<RaggedSequence>& sequences) {
  check_rows("paged_kv_write", "k", k, kv.num_kv_heads, kv.head_dim);
  check_rows("paged_kv_write", "v", v, kv.num_kv_heads, kv.head_dim);
  TCPP_CHECK(k.size(0) == v.size(0), ShapeError, "paged_kv_write: k ", k.describe(), " and v ", v.describe());
  checks::require_one_device("paged_kv_write", {&k, &v});
  check_layout("paged_kv_write", kv, sequences, k.size(0));
  for (const RaggedSequence& s : sequences) check_pages("paged_kv_write", kv, s, s.position, s.position + s.tokens);
  on_device("paged_kv_write", k.device(), [&] { cpu_impl::paged_kv_write(kv, k, v, sequences); });
}

Tensor paged_attention(const Tensor& q, const PagedKV& kv, const std::vector<RaggedSequence>& sequences,
                       const AttentionParams& params) {
  recorded::refuse("paged_attention", {&q});
  check_rows("paged_attention", "q", q, 0, kv.head_dim);
  TCPP_CHECK(q.size(1) % kv.num_kv_heads == 0, ShapeError, "paged_attention: ", q.size(1),
             " query heads for ", kv.num_kv_heads, " KV heads");
  check_layout("paged_attention", kv, sequences, q.size(0));
  AttentionParams p = params;
  p.key_position = 0;
  for (const RaggedSequence& s : sequences)
    if (s.tokens > 0) {
      // The pages any of its queries can see (a sliding window may have freed older ones).
      const int64_t keys = s.position + s.tokens;
      check_pages("paged_attention", kv, s, visible_keys(p, s.position, keys).first, keys);
    }
  Tensor out = Tensor::zeros({q.size(0), q.size(1) * kv.head_dim}, DType::F32, q.device());
  on_device("paged_attention", q.device(), [&] { cpu_impl::paged_attention(q, kv, sequences, params, out); });
  return out;
}

}  // namespace transformers::ops
