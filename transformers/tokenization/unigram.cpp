// Unigram language model tokenization: Viterbi over all vocabulary pieces that prefix each
// position (found with a byte trie), unknown chars scored min_score - 10 and fused, as the
// Rust library's encode_optimized (itself sentencepiece's).
#include <algorithm>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "transformers/tokenization/models.h"
#include "transformers/tokenization/unicode.h"
#include "transformers/tokenization/vocab.h"
#include "transformers/tokenization/word_cache.h"

namespace transformers::tokenization {

namespace {

constexpr double kUnkPenalty = 10.0;

// A byte trie: node -> children by (node, byte) hash, and the piece id ending at a node.
class ByteTrie {
 public:
  ByteTrie() { ends_.push_back(-1); }
  void insert(std::string_view key, int32_t id) {
    uint32_t node = 0;
    for (unsigned char c : key) {
      auto [it, added] = children_.try_emplace(edge(node, c), static_cast<uint32_t>(ends_.size()));
      if (added) ends_.push_back(-1);
      node = it->second;
    }
    ends_[node] = id;
  }
  // Calls fn(length, id) for every key that prefixes text, shortest first; returns the number of
  // trie nodes walked.
  template <typename Fn>
  size_t for_each_prefix(std::string_view text, Fn fn) const {
    uint32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      auto it = children_.find(edge(node, static_cast<unsigned char>(text[i])));
      if (it == children_.end()) return i + 1;
      node = it->second;
      if (ends_[node] >= 0) fn(i + 1, static_cast<uint32_t>(ends_[node]));
    }
    return text.size();
  }

 private:
  static uint64_t edge(uint32_t node, unsigned char c) { return (uint64_t{node} << 8) | c; }
  std::unordered_map<uint64_t, uint32_t> children_;
  std::vector<int32_t> ends_;
};

class UnigramModel final : public Model {
 public:
  UnigramModel(const Json& json, const ModelBulk& bulk, const std::string& where) : where_(where) {
    TCPP_CHECK(bulk.has_vocab_list, ConfigError, where,
               ": 'vocab' must be an array of [piece, score]");
    const auto& vocab = bulk.vocab_scores;
    if (auto unk = json_get_optional<int64_t>(json, "unk_id", where)) {
      TCPP_CHECK(*unk >= 0 && static_cast<size_t>(*unk) < vocab.size(), ConfigError, where,
                 ": unk_id ", *unk, " is outside the vocabulary (", vocab.size(), " pieces)");
      unk_id_ = static_cast<uint32_t>(*unk);
    }
    byte_fallback_ = json_get_or(json, "byte_fallback", false, where);
    pieces_.reserve(vocab.size());
    scores_.reserve(vocab.size());
    vocab_.reserve(vocab.size());
    min_score_ = std::numeric_limits<double>::infinity();
    for (size_t id = 0; id < vocab.size(); ++id) {
      auto [piece, score] = vocab[id];
      min_score_ = std::min(min_score_, score);
      vocab_.add(std::string(piece), static_cast<uint32_t>(id));
      pieces_.emplace_back(piece);
      scores_.push_back(score);
    }
    // The trie must report the id that the piece string maps to (the last duplicate).
    for (size_t id = 0; id < pieces_.size(); ++id)
      trie_.insert(pieces_[id], static_cast<int32_t>(*vocab_.find(pieces_[id])));
    if (byte_fallback_) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        byte_ids_[b] = vocab_.find(name).value_or(UINT32_MAX);
      }
    }
  }

  void tokenize(std::string_view text, std::vector<Token>& out) const override {
    if (text.empty()) return;
    if (cache_.lookup(text, out)) return;
    size_t first = out.size();
    viterbi(text, out);
    cache_.store(text, out.data() + first, out.data() + out.size());
  }

  void viterbi(std::string_view text, std::vector<Token>& out) const {
    // 16 bytes per byte of the word (a word is < 4 GiB: offsets are 32-bit).
    struct Node {
      double score = 0;
      uint32_t id = 0;
      uint32_t starts_at = kNone;
    };
    const size_t size = text.size();
    thread_local std::vector<Node> best;
    best.assign(size + 1, Node{});
    WorkBudget budget(size, where_);
    const double unk_score = min_score_ - kUnkPenalty;
    for (size_t start = 0; start < size;) {
      double base = best[start].score;
      size_t char_len = utf8_sequence_length(static_cast<unsigned char>(text[start]));
      char_len = std::min(char_len, size - start);
      bool has_single = false;
      budget.spend(trie_.for_each_prefix(text.substr(start), [&](size_t len, uint32_t id) {
        Node& target = best[start + len];
        double candidate = scores_[id] + base;
        if (target.starts_at == kNone || candidate > target.score) {
          target = {candidate, id, static_cast<uint32_t>(start)};
        }
        if (len == char_len) has_single = true;
      }));
      if (!has_single) {
        TCPP_CHECK(unk_id_, ValueError, "Unigram: the text needs an unknown piece but the model has no unk_id");
        Node& target = best[start + char_len];
        double candidate = unk_score + base;
        if (target.starts_at == kNone || candidate > target.score)
          target = {candidate, *unk_id_, static_cast<uint32_t>(start)};
      }
      start += char_len;
    }
    // Backtrack (emitting the pieces last to first, then reversing them; a piece's own tokens,
    // several with byte fallback, are reversed as they come so that they end up in order).
    // Consecutive unknown pieces are fused into one.
    size_t first = out.size();
    auto emit_reversed = [&](size_t start, size_t end) {
      size_t group = out.size();
      emit(text, start, end, out);
      std::reverse(out.begin() + static_cast<ptrdiff_t>(group), out.end());
    };
    size_t end = size;
    size_t unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& node = best[end];
      size_t start = static_cast<size_t>(node.starts_at);
      if (unk_id_ && node.id == *unk_id_) {
        if (!in_unk) unk_end = end;
        in_unk = true;
      } else {
        if (in_unk) emit_reversed(end, unk_end);
        in_unk = false;
        emit_reversed(start, end);
      }
      end = start;
    }
    if (in_unk) emit_reversed(0, unk_end);
    std::reverse(out.begin() + static_cast<ptrdiff_t>(first), out.end());
    // The per-thread buffer is reused across words; do not keep a huge word's alive.
    release_if_large(best);
  }

  template <typename T>
  static void release_if_large(std::vector<T>& v) {
    if (v.capacity() * sizeof(T) > kKeptBufferBytes) std::vector<T>().swap(v);
  }

  std::optional<uint32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  std::optional<std::string_view> id_to_token(uint32_t id) const override {
    if (id >= pieces_.size()) return std::nullopt;
    return std::string_view(pieces_[id]);
  }
  size_t vocab_size() const override { return pieces_.size(); }

 private:
  void emit(std::string_view text, size_t start, size_t end, std::vector<Token>& out) const {
    std::string_view piece = text.substr(start, end - start);
    uint32_t s = static_cast<uint32_t>(start), e = static_cast<uint32_t>(end);
    if (auto id = vocab_.find(piece)) {
      out.push_back({*id, s, e});
      return;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : piece) all &= byte_ids_[b] != UINT32_MAX;
      if (all) {
        for (unsigned char b : piece) out.push_back({byte_ids_[b], s, e});
        return;
      }
    }
    TCPP_CHECK(unk_id_, ValueError, "Unigram: unknown piece and no unk_id");
    out.push_back({*unk_id_, s, e, /*value_from_text=*/true});
  }

  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr size_t kKeptBufferBytes = size_t{16} << 20;
  std::string where_;

  std::vector<std::string> pieces_;
  std::vector<double> scores_;
  Vocab vocab_;
  ByteTrie trie_;
  WordCache cache_;
  std::optional<uint32_t> unk_id_;
  bool byte_fallback_ = false;
  double min_score_ = 0;
  uint32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Model> make_unigram_model(const Json& json, const ModelBulk& bulk,
                                          const std::string& where) {
  return std::make_unique<UnigramModel>(json, bulk, where);
}

}  // namespace transformers::tokenization
