// The paged KV cache of continuous batching (vLLM's PagedAttention, laid out for the CPU tile
// kernels): memory is a pool of blocks of ops::kPageTokens (64) token slots, and each sequence has
// a block table mapping its page i (positions [64 i, 64 i + 64)) to a block. Blocks are taken on
// demand within a byte budget and given back when a sequence ends, so sequences of any lengths
// share one bound of memory without copying or growing anything.
//
// Layers with the same sliding window form a group with block tables of their own (a Gemma-2
// model has two): a block of a group holds K and V of every layer of the group, and a sliding
// group frees the pages that fell out of its window. Full-attention groups keep every page.
//
// Prefix caching (models without sliding windows): a full block is named by its 64 token ids and
// its predecessor's name; a new sequence whose first full blocks match named ones takes those
// blocks (reference counted) instead of computing them. Shared blocks are full and never written:
// a sequence writes only positions past its matched prefix, in blocks of its own. A named block
// no sequence holds stays cached until its memory is needed (least recently released first).
//
// The cache only does bookkeeping: the model writes and reads the pages through a RaggedBatch
// (ops::paged_kv_write, ops::paged_attention).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "transformers/ops/ops.h"

namespace transformers {

// What one decoder layer stores per token: K and V of num_kv_heads x head_dim, and its window.
struct PagedLayerSpec {
  int64_t num_kv_heads = 0, head_dim = 0;
  std::optional<int64_t> window;
};

class PagedKVCache {
 public:
  using SequenceId = int64_t;
  // ValueError for an empty layout or a budget that cannot hold one block of every group.
  PagedKVCache(const std::vector<PagedLayerSpec>& layers, int64_t budget_bytes);

  // Gives `seq` pages for positions [0, tokens) in every group (a sliding group: from its first
  // page still kept). Returns false, keeping what it took, when the budget has no room left.
  bool reserve(SequenceId seq, int64_t tokens);
  // Frees the pages of sliding groups that no query at position >= next_position can see.
  void trim_to_window(SequenceId seq, int64_t next_position);
  // Every block of `seq` back to the pool (unknown ids: nothing).
  void release(SequenceId seq);

  // Whether prefix caching applies (no sliding-window layers).
  bool prefix_caching() const { return groups_.size() == 1 && !groups_[0].window; }
  // For a sequence without pages yet: takes the cached blocks that hold its leading full blocks
  // of `tokens` (leaving at least one token to compute) and returns how many tokens they cover.
  int64_t match_prefix(SequenceId seq, const std::vector<int64_t>& tokens);
  // Names the full blocks of `seq` among its first `computed` tokens, so later sequences can
  // share them.
  void publish_prefix(SequenceId seq, const std::vector<int64_t>& tokens, int64_t computed);

  // The most bytes one sequence of `tokens` tokens ever holds, fed at most `chunk` tokens per
  // forward (a sliding group keeps only its window and the chunk).
  int64_t bytes_for(int64_t tokens, int64_t chunk) const;
  int64_t budget_bytes() const { return budget_; }
  int64_t used_blocks() const;       // held by sequences, all groups
  int64_t free_blocks() const;       // allocated and idle (cached prefix blocks included), all groups
  int64_t allocated_bytes() const { return allocated_; }

  size_t num_layers() const { return layer_group_.size(); }
  size_t num_groups() const { return groups_.size(); }
  size_t group_of_layer(size_t layer) const { return layer_group_.at(layer); }
  ops::PagedKV layer_view(size_t layer) const;
  // The block table of `seq` in `group` (empty for an unknown sequence).
  const std::vector<int32_t>& block_table(SequenceId seq, size_t group) const;

 private:
  struct Group {
    std::optional<int64_t> window;
    int64_t block_floats = 0;
    std::vector<Tensor> blocks = {};  // by block id; undefined: memory given back to the budget
    std::vector<int32_t> refs = {};   // by block id: sequences holding it
    std::vector<int32_t> idle = {};  // allocated blocks no sequence holds
    std::vector<int32_t> vacant = {};  // ids whose memory was given back
  };
  // A named full block: its tokens and its predecessor's name (checked on a hit, so a hash
  // collision is a miss, never wrong keys).
  struct Named {
    int32_t block = -1;
    uint64_t parent = 0;
    std::vector<int64_t> tokens;
  };
  std::optional<int32_t> take_block(size_t group);
  void give_back(size_t group, int32_t id);
  void evict_one();

  std::map<uint64_t, Named> named_;                   // name -> block
  std::map<int32_t, uint64_t> name_of_;               // block -> its name
  std::map<uint64_t, int32_t> cached_;                // release tick -> unheld named block
  std::map<int32_t, uint64_t> cached_tick_;           // block -> its tick in cached_
  std::map<SequenceId, std::vector<uint64_t>> seq_names_;  // names of each sequence's full blocks
  uint64_t tick_ = 0;

  std::vector<Group> groups_;
  std::vector<size_t> layer_group_;
  std::vector<int64_t> layer_offset_;  // floats from a block's start to the layer's K
  std::vector<PagedLayerSpec> layers_;
  std::map<SequenceId, std::vector<std::vector<int32_t>>> tables_;  // per sequence, per group
  int64_t budget_ = 0, allocated_ = 0;
};

// One layer's part of a ragged batch: its pages and the sequences in packed order.
struct RaggedLayer {
  ops::PagedKV kv;
  const std::vector<ops::RaggedSequence>* sequences = nullptr;
};

// One forward over the packed tokens of many sequences (input [1, T]): each sequence's new tokens,
// at its own positions, attending over its own pages. Built by make_ragged_batch.
struct RaggedBatch {
  const PagedKVCache* cache = nullptr;
  std::vector<std::vector<ops::RaggedSequence>> groups;  // per layer group
  Tensor input_ids, position_ids;                        // I64 [1, T]
  // Rows of the packed tokens whose logits forward returns ([1, rows, V]); empty: every row.
  std::vector<int64_t> logit_rows;

  RaggedLayer layer(size_t i) const;
};

struct RaggedEntry {
  PagedKVCache::SequenceId seq = 0;
  int64_t position = 0;         // tokens of this sequence already in the cache
  std::vector<int64_t> tokens;  // the new ones
};
// Packs `entries` in order; their pages must have been reserved. logit_rows: each entry's last row.
RaggedBatch make_ragged_batch(const PagedKVCache& cache, const std::vector<RaggedEntry>& entries);

}  // namespace transformers
