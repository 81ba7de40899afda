#include "transformers/cache/paged_cache.h"

#include <algorithm>

namespace transformers {

namespace {

int64_t pages(int64_t tokens) { return (tokens + ops::kPageTokens - 1) / ops::kPageTokens; }

// The name of the full block of `tokens` at [begin, begin + 64) after the block named `parent`
// (FNV-1a over the ids, seeded with the parent's name).
uint64_t block_name(uint64_t parent, const std::vector<int64_t>& tokens, int64_t begin) {
  uint64_t h = parent ^ 0xcbf29ce484222325ull;
  for (int64_t i = begin; i < begin + ops::kPageTokens; ++i) {
    h ^= static_cast<uint64_t>(tokens[static_cast<size_t>(i)]);
    h *= 0x100000001b3ull;
  }
  return h ^ (h >> 29);
}

}  // namespace

PagedKVCache::PagedKVCache(const std::vector<PagedLayerSpec>& layers, int64_t budget_bytes)
    : layers_(layers), budget_(budget_bytes) {
  TCPP_CHECK(!layers.empty(), ValueError, "paged KV cache: the model has no layers");
  for (const PagedLayerSpec& l : layers) {
    TCPP_CHECK(l.num_kv_heads > 0 && l.head_dim > 0 && (!l.window || *l.window >= 1), ValueError,
               "paged KV cache: layer with ", l.num_kv_heads, " KV heads of ", l.head_dim, " and window ",
               l.window.value_or(0));
    size_t g = 0;
    while (g < groups_.size() && groups_[g].window != l.window) ++g;
    if (g == groups_.size()) groups_.push_back({.window = l.window});
    layer_group_.push_back(g);
    layer_offset_.push_back(groups_[g].block_floats);
    groups_[g].block_floats += 2 * l.num_kv_heads * ops::kPageTokens * l.head_dim;
  }
  int64_t one_each = 0;
  for (const Group& g : groups_) one_each += g.block_floats * 4;
  TCPP_CHECK(budget_ >= one_each, ValueError, "paged KV cache: a budget of ", budget_,
             " bytes (kv_cache_bytes) does not hold one block of ", ops::kPageTokens, " tokens (", one_each,
             " bytes for this model)");
}

std::optional<int32_t> PagedKVCache::take_block(size_t g) {
  Group& group = groups_[g];
  const auto held = [&](int32_t id) {
    group.refs[static_cast<size_t>(id)] = 1;
    return id;
  };
  if (!group.idle.empty()) {
    const int32_t id = group.idle.back();
    group.idle.pop_back();
    return held(id);
  }
  const int64_t bytes = group.block_floats * 4;
  // Memory idle in another group goes back to the budget before this group gives up.
  for (size_t o = 0; allocated_ + bytes > budget_ && o < groups_.size(); ++o)
    while (o != g && !groups_[o].idle.empty() && allocated_ + bytes > budget_) {
      const int32_t id = groups_[o].idle.back();
      groups_[o].idle.pop_back();
      groups_[o].blocks[static_cast<size_t>(id)] = Tensor();
      groups_[o].vacant.push_back(id);
      allocated_ -= groups_[o].block_floats * 4;
    }
  if (allocated_ + bytes > budget_) {
    if (cached_.empty()) return std::nullopt;
    evict_one();  // the least recently released cached prefix block
    return take_block(g);
  }
  int32_t id = 0;
  if (!group.vacant.empty()) {
    id = group.vacant.back();
    group.vacant.pop_back();
  } else {
    id = static_cast<int32_t>(group.blocks.size());
    group.blocks.emplace_back();
    group.refs.push_back(0);
  }
  group.blocks[static_cast<size_t>(id)] = Tensor::empty({group.block_floats}, DType::F32);
  allocated_ += bytes;
  return held(id);
}

void PagedKVCache::give_back(size_t g, int32_t id) {
  if (id < 0 || --groups_[g].refs[static_cast<size_t>(id)] > 0) return;
  if (g == 0 && name_of_.contains(id)) {  // keeps its keys for a later prefix hit
    cached_[tick_] = id;
    cached_tick_[id] = tick_++;
  } else {
    groups_[g].idle.push_back(id);
  }
}

void PagedKVCache::evict_one() {
  const int32_t id = cached_.begin()->second;
  cached_.erase(cached_.begin());
  cached_tick_.erase(id);
  named_.erase(name_of_.at(id));
  name_of_.erase(id);
  groups_[0].idle.push_back(id);
}

int64_t PagedKVCache::match_prefix(SequenceId seq, const std::vector<int64_t>& tokens) {
  if (!prefix_caching()) return 0;
  auto& tables = tables_[seq];
  tables.resize(groups_.size());
  if (!tables[0].empty()) return 0;
  auto& names = seq_names_[seq];
  uint64_t parent = 0;
  // At least the last token stays to compute: its logits pick the next token.
  for (int64_t begin = 0; begin + ops::kPageTokens < static_cast<int64_t>(tokens.size()); begin += ops::kPageTokens) {
    const uint64_t name = block_name(parent, tokens, begin);
    auto it = named_.find(name);
    if (it == named_.end() || it->second.parent != parent ||
        !std::equal(it->second.tokens.begin(), it->second.tokens.end(), tokens.begin() + begin))
      break;
    const int32_t id = it->second.block;
    if (auto c = cached_tick_.find(id); c != cached_tick_.end()) {
      cached_.erase(c->second);
      cached_tick_.erase(c);
    }
    ++groups_[0].refs[static_cast<size_t>(id)];
    tables[0].push_back(id);
    names.push_back(name);
    parent = name;
  }
  return static_cast<int64_t>(tables[0].size()) * ops::kPageTokens;
}

void PagedKVCache::publish_prefix(SequenceId seq, const std::vector<int64_t>& tokens, int64_t computed) {
  if (!prefix_caching() || !tables_.contains(seq)) return;
  const std::vector<int32_t>& table = tables_[seq][0];
  auto& names = seq_names_[seq];
  for (size_t i = names.size(); static_cast<int64_t>(i + 1) * ops::kPageTokens <= computed && i < table.size(); ++i) {
    const uint64_t parent = names.empty() ? 0 : names.back();
    const int64_t begin = static_cast<int64_t>(i) * ops::kPageTokens;
    const uint64_t name = block_name(parent, tokens, begin);
    names.push_back(name);
    if (named_.contains(name) || name_of_.contains(table[i])) continue;  // the first block named so wins
    named_[name] = {table[i], parent, {tokens.begin() + begin, tokens.begin() + begin + ops::kPageTokens}};
    name_of_[table[i]] = name;
  }
}

bool PagedKVCache::reserve(SequenceId seq, int64_t tokens) {
  auto& tables = tables_[seq];
  tables.resize(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g)
    while (static_cast<int64_t>(tables[g].size()) < pages(tokens)) {
      const std::optional<int32_t> id = take_block(g);
      if (!id) return false;
      tables[g].push_back(*id);
    }
  return true;
}

void PagedKVCache::trim_to_window(SequenceId seq, int64_t next_position) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g].window) continue;
    // A query at position p sees keys >= p - window + 1: pages ending at or before that are dead.
    const int64_t first_seen = next_position - *groups_[g].window + 1;
    auto& table = it->second[g];
    for (int64_t page = 0; page < static_cast<int64_t>(table.size()) && (page + 1) * ops::kPageTokens <= first_seen;
         ++page) {
      give_back(g, table[static_cast<size_t>(page)]);
      table[static_cast<size_t>(page)] = -1;
    }
  }
}

void PagedKVCache::release(SequenceId seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  for (size_t g = 0; g < it->second.size(); ++g)
    for (int32_t id : it->second[g]) give_back(g, id);
  tables_.erase(it);
  seq_names_.erase(seq);
}

int64_t PagedKVCache::bytes_for(int64_t tokens, int64_t chunk) const {
  int64_t bytes = 0;
  for (const Group& g : groups_) {
    int64_t n = pages(tokens);
    if (g.window) n = std::min(n, pages(*g.window + chunk) + 1);
    bytes += n * g.block_floats * 4;
  }
  return bytes;
}

int64_t PagedKVCache::used_blocks() const {
  int64_t n = 0;
  for (const Group& g : groups_) n += static_cast<int64_t>(std::count_if(g.refs.begin(), g.refs.end(), [](int32_t r) { return r > 0; }));
  return n;
}

int64_t PagedKVCache::free_blocks() const {
  int64_t n = static_cast<int64_t>(cached_.size());
  for (const Group& g : groups_) n += static_cast<int64_t>(g.idle.size());
  return n;
}

ops::PagedKV PagedKVCache::layer_view(size_t layer) const {
  const Group& g = groups_[group_of_layer(layer)];
  return {.blocks = &g.blocks,
          .layer_offset = layer_offset_[layer],
          .num_kv_heads = layers_[layer].num_kv_heads,
          .head_dim = layers_[layer].head_dim};
}

const std::vector<int32_t>& PagedKVCache::block_table(SequenceId seq, size_t group) const {
  static const std::vector<int32_t> none;
  auto it = tables_.find(seq);
  if (it == tables_.end() || group >= it->second.size()) return none;
  return it->second[group];
}

RaggedLayer RaggedBatch::layer(size_t i) const {
  TCPP_CHECK(cache && i < cache->num_layers(), ValueError, "ragged batch: layer ", i, " is not in the paged cache (",
             cache ? cache->num_layers() : 0, " layers)");
  return {cache->layer_view(i), &groups.at(cache->group_of_layer(i))};
}

RaggedBatch make_ragged_batch(const PagedKVCache& cache, const std::vector<RaggedEntry>& entries) {
  RaggedBatch b;
  b.cache = &cache;
  b.groups.resize(cache.num_groups());
  std::vector<int64_t> ids, positions;
  for (const RaggedEntry& e : entries) {
    const int64_t begin = static_cast<int64_t>(ids.size()), n = static_cast<int64_t>(e.tokens.size());
    TCPP_CHECK(n > 0, ValueError, "ragged batch: sequence ", e.seq, " has no tokens");
    ids.insert(ids.end(), e.tokens.begin(), e.tokens.end());
    for (int64_t i = 0; i < n; ++i) positions.push_back(e.position + i);
    for (size_t g = 0; g < cache.num_groups(); ++g)
      b.groups[g].push_back({.token_begin = begin, .tokens = n, .position = e.position,
                             .block_table = cache.block_table(e.seq, g)});
    b.logit_rows.push_back(begin + n - 1);
  }
  const int64_t T = static_cast<int64_t>(ids.size());
  b.input_ids = Tensor::from_values(ids, {1, T});
  b.position_ids = Tensor::from_values(positions, {1, T});
  return b;
}

}  // namespace transformers
