#include "transformers/tokenization/fast_byte_level.h"

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

bool is_type(const Json& j, const char* type) {
  return j.is_object() && j.contains("type") && j["type"].is_string() && j["type"] == type;
}

bool bool_or(const Json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// True when NFC leaves `text` as it is (then offsets need no alignment bookkeeping).
bool nfc_is_identity(std::string_view text) {
  bool below = true;
  for (unsigned char c : text)
    if (c >= 0xCC) {  // lead bytes of U+0300 and above
      below = false;
      break;
    }
  if (below || is_nfc_quick(text)) return true;
  auto changes = normalize_with_changes(text, NormalizationForm::kNFC);
  size_t i = 0;
  for (const auto& [c, change] : changes) {
    if (change != 0 || i >= text.size() || next_code_point(text, i) != c) return false;
  }
  return i == text.size();
}

}  // namespace

std::unique_ptr<FastByteLevelPath> FastByteLevelPath::detect(const Json& config, const Model& model,
                                                             const AddedVocabulary& added) {
  auto norm = config.find("normalizer");
  bool nfc = false;
  if (norm != config.end() && !norm->is_null()) {
    if (!is_type(*norm, "NFC")) return nullptr;
    nfc = true;
  }
  auto pre = config.find("pre_tokenizer");
  if (pre == config.end()) return nullptr;
  std::string pattern;
  const Json* byte_level = nullptr;
  if (is_type(*pre, "ByteLevel") && bool_or(*pre, "use_regex", true)) {
    pattern = std::string(kGpt2Pattern);
    byte_level = &*pre;
  } else if (is_type(*pre, "Sequence") && pre->contains("pretokenizers")) {
    const Json& list = (*pre)["pretokenizers"];
    if (!list.is_array() || list.size() != 2) return nullptr;
    const Json& split = list[0];
    if (!is_type(split, "Split") || !split.contains("pattern") || !split["pattern"].is_object() ||
        !split["pattern"].contains("Regex") || !split["pattern"]["Regex"].is_string() ||
        split.value("behavior", "") != "Isolated" || bool_or(split, "invert", false))
      return nullptr;
    if (!is_type(list[1], "ByteLevel") || bool_or(list[1], "use_regex", true)) return nullptr;
    pattern = split["pattern"]["Regex"].get<std::string>();
    byte_level = &list[1];
  } else {
    return nullptr;
  }
  bool add_prefix_space = bool_or(*byte_level, "add_prefix_space", true);
  return std::unique_ptr<FastByteLevelPath>(
      new FastByteLevelPath(model, added, std::move(pattern), nfc, add_prefix_space));
}

FastByteLevelPath::FastByteLevelPath(const Model& model, const AddedVocabulary& added,
                                     std::string pattern, bool nfc, bool add_prefix_space)
    : model_(model), added_(added), regex_(pattern, "pre_tokenizer"), nfc_(nfc),
      add_prefix_space_(add_prefix_space) {}

void FastByteLevelPath::encode_ids_normalizing(std::string_view text, Encoding& out) const {
  thread_local std::vector<Token> tokens;
  thread_local std::string piece;
  auto encode_piece = [&](std::string_view norm, size_t start, size_t end) {
    piece.clear();
    for (size_t b = start; b < end; ++b) piece.append(byte_to_utf8(static_cast<unsigned char>(norm[b])));
    tokens.clear();
    model_.tokenize(piece, tokens);
    for (const Token& t : tokens) out.ids.push_back(t.id);
  };
  for (const auto& [index, r] : added_.split_raw(text)) {
    if (index >= 0) {
      out.ids.push_back(added_.id_at(static_cast<size_t>(index)));
      continue;
    }
    std::string norm;
    for (auto [c, change] : normalize_with_changes(text.substr(r.first, r.second - r.first),
                                                   NormalizationForm::kNFC))
      append_utf8(norm, c);
    for (const auto& [index2, r2] : added_.split_normalized(norm)) {
      if (index2 >= 0) {
        out.ids.push_back(added_.id_at(static_cast<size_t>(index2)));
        continue;
      }
      encode_segment(norm, r2.first, r2.second,
                     [&](size_t s, size_t e) { encode_piece(norm, s, e); });
    }
  }
}

template <typename Emit>
void FastByteLevelPath::encode_segment(std::string_view text, size_t begin, size_t end,
                                       Emit&& emit_piece) const {
  if (begin >= end) return;
  thread_local std::vector<ByteRange> matches;
  matches.clear();
  std::string_view segment = text.substr(begin, end - begin);
  regex_.find_all(segment, matches);
  size_t prev = 0;
  for (auto [s, e] : matches) {
    if (prev < s) emit_piece(begin + prev, begin + s);
    if (s < e) emit_piece(begin + s, begin + e);
    prev = e;
  }
  if (prev < segment.size()) emit_piece(begin + prev, end);
}

bool FastByteLevelPath::encode(std::string_view text, bool full, Encoding& out) const {
  if (nfc_ && !nfc_is_identity(text)) {
    if (full || add_prefix_space_) return false;  // offsets need the general pipeline
    encode_ids_normalizing(text, out);
    return true;
  }
  auto segments = added_.split_plain(text);
  // With add_prefix_space the general pipeline prepends a space that takes the first char's
  // alignment; leave those texts to it.
  if (add_prefix_space_)
    for (const auto& [index, r] : segments)
      if (index < 0 && text[r.first] != ' ') return false;

  // Start of the input char holding each byte (offsets cover whole chars).
  thread_local std::vector<Token> tokens;
  thread_local std::string piece;
  thread_local std::vector<uint32_t> piece_byte;  // byte-level byte -> input byte in the piece
  auto char_start = [&](size_t b) {
    while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
    return b;
  };
  auto char_end = [&](size_t b) {  // end of the char holding byte b
    size_t s = char_start(b);
    return s + std::min(utf8_sequence_length(static_cast<unsigned char>(text[s])), text.size() - s);
  };
  uint32_t word = 0;
  auto emit = [&](uint32_t id, size_t start, size_t end) {
    out.ids.push_back(id);
    if (!full) return;
    out.offsets.emplace_back(start, end);  // bytes for now
    out.tokens.emplace_back(model_.id_to_token(id).value_or(std::string_view()));
    out.word_ids.push_back(word);
  };
  auto encode_piece = [&](size_t start, size_t end) {
    piece.clear();
    piece_byte.clear();
    for (size_t b = start; b < end; ++b) {
      std::string_view bl = byte_to_utf8(static_cast<unsigned char>(text[b]));
      piece.append(bl);
      piece_byte.insert(piece_byte.end(), bl.size(), static_cast<uint32_t>(b));
    }
    tokens.clear();
    model_.tokenize(piece, tokens);
    for (const Token& t : tokens) {
      if (t.end <= t.start || t.end > piece_byte.size()) {
        emit(t.id, start, start);
        continue;
      }
      emit(t.id, char_start(piece_byte[t.start]), char_end(piece_byte[t.end - 1]));
    }
    ++word;
  };
  for (const auto& [index, r] : segments) {
    if (r.first == r.second) continue;
    if (index >= 0) {
      uint32_t id = added_.id_at(static_cast<size_t>(index));
      out.ids.push_back(id);
      if (full) {
        out.offsets.emplace_back(r.first, r.second);
        out.tokens.emplace_back(text.substr(r.first, r.second - r.first));
        out.word_ids.push_back(word);
      }
      ++word;
      continue;
    }
    encode_segment(text, r.first, r.second, [&](size_t s, size_t e) { encode_piece(s, e); });
  }
  return true;
}

}  // namespace transformers::tokenization
