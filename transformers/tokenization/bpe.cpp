// Byte-pair encoding: split a word into chars (or byte-fallback tokens), then apply merges by
// rank, lowest first and leftmost on ties, exactly as the Rust library's Word::merge_all.
#include <cstdio>
#include <cstdlib>
#include <queue>

#include "transformers/tokenization/json_access.h"
#include "transformers/tokenization/models.h"
#include "transformers/tokenization/unicode.h"
#include "transformers/tokenization/vocab.h"
#include "transformers/tokenization/word_cache.h"

namespace transformers::tokenization {

namespace {

struct MergeResult {
  uint32_t rank;
  uint32_t new_id;
};

inline uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

struct Symbol {
  uint32_t id;
  int32_t prev, next;
  uint32_t byte_len;
  // The token's string is the word's text it covers (a vocabulary char, or a merge of two such
  // symbols): then the encoding takes it from the text, without a vocabulary lookup.
  bool from_text;
};

struct MergeCandidate {
  uint32_t rank;
  uint32_t pos;
  uint32_t new_id;
  // std::priority_queue is a max-heap: the "largest" is the lowest rank, then the lowest pos.
  bool operator<(const MergeCandidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

class BpeModel final : public Model {
 public:
  BpeModel(const Json& json, const ModelBulk& bulk, const std::string& where) {
    fill_vocab(vocab_, bulk, where);
    if (auto unk = json_get_optional<std::string>(json, "unk_token", where)) unk_token_ = *unk;
    continuing_subword_prefix_ = json_get_or<std::string>(json, "continuing_subword_prefix", "", where);
    end_of_word_suffix_ = json_get_or<std::string>(json, "end_of_word_suffix", "", where);
    fuse_unk_ = json_get_or(json, "fuse_unk", false, where);
    byte_fallback_ = json_get_or(json, "byte_fallback", false, where);
    ignore_merges_ = json_get_or(json, "ignore_merges", false, where);
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        byte_ids_[b] = vocab_.find(name).value_or(kMissing);
      }
    }
    load_merges(bulk, where);
    // TCPP_TOKENIZER_NO_WORD_SPLIT turns the optimisation off (tests compare both ways).
    split_at_metaspace_ = !std::getenv("TCPP_TOKENIZER_NO_WORD_SPLIT") && metaspace_boundaries_are_safe();
  }

  void tokenize(std::string_view text, std::vector<Token>& out) const override {
    if (text.empty()) return;
    if (ignore_merges_) {
      if (auto id = vocab_.find(text)) {
        out.push_back({*id, 0, static_cast<uint32_t>(text.size()), /*value_from_text=*/true});
        return;
      }
    }
    if (!split_at_metaspace_ || text.size() < 2 * kMetaspace.size()) {
      tokenize_word(text, out);
      return;
    }
    // Sentencepiece-style text is one long "word"; cut it before each run of U+2581 (see
    // metaspace_boundaries_are_safe) so that merges run per word and hit the word cache.
    size_t start = 0;
    for (size_t p = text.find(kMetaspace, 1); p != std::string_view::npos;
         p = text.find(kMetaspace, p + kMetaspace.size())) {
      if (p >= kMetaspace.size() && text.compare(p - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0)
        continue;  // inside a run of U+2581
      tokenize_piece(text, start, p, out);
      start = p;
    }
    tokenize_piece(text, start, text.size(), out);
  }

  void tokenize_piece(std::string_view text, size_t start, size_t end, std::vector<Token>& out) const {
    if (start >= end) return;
    size_t first = out.size();
    tokenize_word(text.substr(start, end - start), out);
    for (size_t i = first; i < out.size(); ++i) {
      out[i].start += static_cast<uint32_t>(start);
      out[i].end += static_cast<uint32_t>(start);
    }
  }

  void tokenize_word(std::string_view text, std::vector<Token>& out) const {
    if (cache_.lookup(text, out)) return;
    size_t first = out.size();
    thread_local std::vector<Symbol> symbols;
    symbols.clear();
    split_into_symbols(text, symbols);
    merge_all(symbols);
    uint32_t offset = 0;
    for (const auto& s : symbols) {
      if (s.byte_len == 0) continue;
      out.push_back({s.id, offset, offset + s.byte_len, s.from_text});
      offset += s.byte_len;
    }
    cache_.store(text, out.data() + first, out.data() + out.size());
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    return vocab_.token(id);
  }
  size_t vocab_size() const override { return vocab_.size(); }

 private:
  static constexpr uint32_t kMissing = UINT32_MAX;

  static constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581

  // Cutting a word just before a U+2581 that follows another char gives the same tokens when no
  // merge can join across that point: no vocabulary entry holds U+2581 right after a char other
  // than U+2581 (merges only build vocabulary entries), U+2581 itself is a known token (so no
  // unknown-char fusing spans the cut), and no word prefix/suffix depends on where words end.
  bool metaspace_boundaries_are_safe() const {
    if (!continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty()) return false;
    if (!vocab_.find(kMetaspace)) return false;
    for (uint32_t id = 0; id < vocab_.id_bound(); ++id) {
      auto token = vocab_.token(id);
      if (!token) continue;
      for (size_t p = token->find(kMetaspace, 1); p != std::string_view::npos;
           p = token->find(kMetaspace, p + 1)) {
        bool after_metaspace = p >= kMetaspace.size() &&
                               token->compare(p - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0;
        if (!after_metaspace) return false;
      }
    }
    return true;
  }

  void load_merges(const ModelBulk& bulk, const std::string& where) {
    merges_.reserve(bulk.merges.size());
    std::string merged;
    for (size_t rank = 0; rank < bulk.merges.size(); ++rank) {
      auto [a, b] = bulk.merges[rank];
      auto id_a = vocab_.find(a);
      auto id_b = vocab_.find(b);
      TCPP_CHECK(id_a, FormatError, where, ": merges[", rank, "] references unknown token '", a, "'");
      TCPP_CHECK(id_b, FormatError, where, ": merges[", rank, "] references unknown token '", b, "'");
      // With a continuing-subword prefix, "a ##b" merges into "a" + "b".
      size_t skip = 0;
      if (!continuing_subword_prefix_.empty() && b.substr(0, continuing_subword_prefix_.size()) ==
                                                     continuing_subword_prefix_)
        skip = continuing_subword_prefix_.size();
      merged.assign(a).append(b.substr(skip));
      auto id_new = vocab_.find(merged);
      TCPP_CHECK(id_new, FormatError, where, ": merges[", rank, "]: merged token '", merged,
                 "' is not in the vocabulary");
      merges_.try_emplace(pair_key(*id_a, *id_b),
                          MergeResult{static_cast<uint32_t>(rank), *id_new});
    }
  }

  void split_into_symbols(std::string_view w, std::vector<Symbol>& symbols) const {
    bool have_unk = false;
    Symbol unk{};
    auto push = [&](uint32_t id, uint32_t len, bool from_text = false) {
      int32_t index = static_cast<int32_t>(symbols.size());
      symbols.push_back({id, index - 1, index + 1, len, from_text});
    };
    auto unk_id = [&]() -> std::optional<uint32_t> {
      if (!unk_token_) return std::nullopt;
      auto id = vocab_.find(*unk_token_);
      TCPP_CHECK(id, ConfigError, "BPE: unk_token '", *unk_token_, "' is not in the vocabulary");
      return id;
    };
    std::string piece;
    for (size_t i = 0; i < w.size();) {
      size_t start = i;
      next_code_point(w, i);
      uint32_t byte_len = static_cast<uint32_t>(i - start);
      std::string_view ch = w.substr(start, byte_len);
      std::optional<uint32_t> id;
      bool decorated = (start > 0 && !continuing_subword_prefix_.empty()) ||
                       (i == w.size() && !end_of_word_suffix_.empty());
      if (!decorated) {
        id = vocab_.find(ch);
      } else {
        piece.clear();
        if (start > 0) piece += continuing_subword_prefix_;
        piece += ch;
        if (i == w.size()) piece += end_of_word_suffix_;
        id = vocab_.find(piece);
      }
      if (id) {
        if (have_unk) {
          push(unk.id, unk.byte_len);
          have_unk = false;
        }
        push(*id, byte_len, /*from_text=*/!decorated);
        continue;
      }
      if (byte_fallback_) {
        std::string_view bytes = decorated ? std::string_view(piece) : ch;
        bool all = true;
        for (unsigned char b : bytes) all &= byte_ids_[b] != kMissing;
        if (all) {
          // Rust pushes the byte tokens without flushing a pending unk first.
          for (unsigned char b : bytes) push(byte_ids_[b], 1);
          continue;
        }
      }
      if (auto uid = unk_id()) {
        if (have_unk && fuse_unk_) {
          unk.byte_len += byte_len;
        } else {
          if (have_unk) push(unk.id, unk.byte_len);
          unk = {*uid, 0, 0, byte_len, false};
          have_unk = true;
        }
      }
    }
    if (have_unk) push(unk.id, unk.byte_len);
    if (!symbols.empty()) symbols.back().next = -1;
  }

  const MergeResult* find_merge(uint32_t a, uint32_t b) const {
    return merges_.find(pair_key(a, b));
  }

  void merge_all(std::vector<Symbol>& symbols) const {
    if (symbols.size() < 2) return;
    thread_local std::vector<MergeCandidate> heap_storage;
    heap_storage.clear();
    std::priority_queue<MergeCandidate> queue(std::less<MergeCandidate>(), std::move(heap_storage));
    for (size_t i = 0; i + 1 < symbols.size(); ++i)
      if (auto m = find_merge(symbols[i].id, symbols[i + 1].id))
        queue.push({m->rank, static_cast<uint32_t>(i), m->new_id});
    while (!queue.empty()) {
      MergeCandidate top = queue.top();
      queue.pop();
      Symbol& cur = symbols[top.pos];
      if (cur.byte_len == 0 || cur.next == -1) continue;
      size_t next_pos = static_cast<size_t>(cur.next);
      Symbol right = symbols[next_pos];
      auto m = find_merge(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // a stale queue entry
      cur.id = top.new_id;
      cur.byte_len += right.byte_len;
      // The merged string is a + b, unless a continuing-subword prefix was cut from b.
      cur.from_text = cur.from_text && right.from_text && continuing_subword_prefix_.empty();
      cur.next = right.next;
      symbols[next_pos].byte_len = 0;
      if (right.next >= 0 && static_cast<size_t>(right.next) < symbols.size())
        symbols[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0) {
        const Symbol& prev = symbols[static_cast<size_t>(cur.prev)];
        if (auto pm = find_merge(prev.id, cur.id))
          queue.push({pm->rank, static_cast<uint32_t>(cur.prev), pm->new_id});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < symbols.size()) {
        const Symbol& next = symbols[static_cast<size_t>(cur.next)];
        if (auto nm = find_merge(cur.id, next.id)) queue.push({nm->rank, top.pos, nm->new_id});
      }
    }
    heap_storage = std::move(queue_container(queue));
  }

  // Hands the queue's storage back to the thread-local buffer so it is reused.
  static std::vector<MergeCandidate>& queue_container(std::priority_queue<MergeCandidate>& q) {
    struct Access : std::priority_queue<MergeCandidate> {
      static std::vector<MergeCandidate>& of(std::priority_queue<MergeCandidate>& q) {
        return q.*&Access::c;
      }
    };
    return Access::of(q);
  }

  Vocab vocab_;
  U64Map<MergeResult> merges_;
  WordCache cache_;
  std::optional<std::string> unk_token_;
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  bool split_at_metaspace_ = false;
  uint32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_bpe_model(const Json& json, const ModelBulk& bulk,
                                      const std::string& where) {
  return std::make_unique<BpeModel>(json, bulk, where);
}

}  // namespace transformers::tokenization
