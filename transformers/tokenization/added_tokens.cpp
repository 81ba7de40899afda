#include "transformers/tokenization/added_tokens.h"

#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

void PatternTrie::add(std::string_view pattern, uint32_t value) {
  if (pattern.empty()) return;
  uint32_t node = 0;
  for (unsigned char c : pattern) {
    auto [it, added] = children_.try_emplace(edge(node, c), static_cast<uint32_t>(ends_.size()));
    if (added) ends_.push_back(-1);
    node = it->second;
  }
  if (ends_[node] < 0) ends_[node] = value;  // the first of duplicate patterns wins
  first_bytes_[static_cast<unsigned char>(pattern[0])] = true;
}

std::optional<std::pair<size_t, uint32_t>> PatternTrie::longest_at(std::string_view text,
                                                                    size_t pos) const {
  std::optional<std::pair<size_t, uint32_t>> best;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = children_.find(edge(node, static_cast<unsigned char>(text[i])));
    if (it == children_.end()) break;
    node = it->second;
    if (ends_[node] >= 0) best.emplace(i + 1 - pos, static_cast<uint32_t>(ends_[node]));
  }
  return best;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer) {
  tokens_.clear();
  for (auto& t : tokens) {
    if (t.content.empty()) continue;
    if (t.special) special_contents_.insert(t.content);
    content_to_id_[t.content] = t.id;
    id_to_index_[t.id] = tokens_.size();
    tokens_.push_back(std::move(t));
  }
  // Patterns in the Rust order: special tokens first, then the others (each in file order).
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const AddedToken& t = tokens_[i];
      if (t.special != (pass == 0)) continue;
      if (pass == 1 && special_contents_.count(t.content)) continue;
      if (t.normalized) {
        normalized_trie_.add(normalize_text(normalizer, t.content), static_cast<uint32_t>(i));
      } else {
        raw_trie_.add(t.content, static_cast<uint32_t>(i));
      }
    }
  }
}

std::optional<uint32_t> AddedVocabulary::token_to_id(std::string_view content) const {
  auto it = content_to_id_.find(std::string(content));
  if (it == content_to_id_.end()) return std::nullopt;
  return it->second;
}

const AddedToken* AddedVocabulary::by_id(uint32_t id) const {
  auto it = id_to_index_.find(id);
  return it == id_to_index_.end() ? nullptr : &tokens_[it->second];
}

namespace {

char32_t last_code_point(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t k = i;
  return next_code_point(s, k);
}

}  // namespace

std::vector<std::pair<int64_t, ByteRange>> AddedVocabulary::find_matches(
    std::string_view text, const PatternTrie& trie) const {
  std::vector<std::pair<int64_t, ByteRange>> out;
  if (text.empty()) return out;
  size_t start_offset = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!trie.may_start_with(static_cast<unsigned char>(text[pos]))) {
      ++pos;
      continue;
    }
    auto hit = trie.longest_at(text, pos);
    if (!hit) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + hit->first;
    const AddedToken& token = tokens_[hit->second];
    // The next search starts after this match whether or not it is kept (non-overlapping).
    pos = stop;
    if (token.single_word) {
      bool start_ok = start == 0 || !is_word_char(last_code_point(text.substr(0, start)));
      size_t k = stop;
      bool stop_ok = stop == text.size() || !is_word_char(next_code_point(text, k));
      if (!start_ok || !stop_ok) continue;
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t prev = s - 1;
        while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
        size_t k = prev;
        if (!is_whitespace(next_code_point(text, k))) break;
        s = prev;
      }
      start = std::max(s, start_offset);
    }
    if (token.rstrip) {
      size_t k = stop;
      while (k < text.size()) {
        size_t at = k;
        if (!is_whitespace(next_code_point(text, k))) {
          k = at;
          break;
        }
      }
      stop = k;
    }
    if (start_offset < start) out.push_back({-1, {start_offset, start}});
    out.push_back({static_cast<int64_t>(hit->second), {start, stop}});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset != text.size()) out.push_back({-1, {start_offset, text.size()}});
  return out;
}

void AddedVocabulary::split_with(PreTokenizedString& pts, const PatternTrie& trie,
                                 bool normalize_first, const Normalizer* normalizer) const {
  pts.split([&](NormalizedString&& s, std::vector<Split>& out) {
    if (normalize_first && normalizer) normalizer->normalize(s);
    if (trie.empty()) {
      out.push_back({std::move(s)});
      return;
    }
    for (const auto& [index, range] : find_matches(s.get(), trie)) {
      Split piece{s.slice(range.first, range.second)};
      if (index >= 0) {
        piece.tokenized = true;
        piece.tokens.push_back({tokens_[static_cast<size_t>(index)].id, 0,
                                static_cast<uint32_t>(piece.normalized.size()), true});
      }
      out.push_back(std::move(piece));
    }
  });
}

std::vector<std::pair<int64_t, ByteRange>> AddedVocabulary::split_plain(std::string_view text) const {
  std::vector<std::pair<int64_t, ByteRange>> out;
  auto second_pass = [&](size_t start, size_t end) {
    if (normalized_trie_.empty()) {
      out.push_back({-1, {start, end}});
      return;
    }
    for (auto [index, r] : find_matches(text.substr(start, end - start), normalized_trie_))
      out.push_back({index, {start + r.first, start + r.second}});
  };
  if (raw_trie_.empty()) {
    if (!text.empty()) second_pass(0, text.size());
    return out;
  }
  for (auto [index, r] : find_matches(text, raw_trie_)) {
    if (index >= 0) out.push_back({index, r});
    else second_pass(r.first, r.second);
  }
  return out;
}

PreTokenizedString AddedVocabulary::extract_and_normalize(std::string_view text,
                                                          const Normalizer* normalizer) const {
  PreTokenizedString pts(text);
  split_with(pts, raw_trie_, false, nullptr);
  split_with(pts, normalized_trie_, true, normalizer);
  return pts;
}

}  // namespace transformers::tokenization
