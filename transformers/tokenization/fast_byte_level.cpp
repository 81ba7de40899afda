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


// GPT-2's byte-level chars as a flat table (byte_to_utf8 without the call per byte).
struct ByteLevelChars {
  uint8_t size[256];
  char bytes[256][2];
  ByteLevelChars() {
    for (int b = 0; b < 256; ++b) {
      std::string_view u = byte_to_utf8(static_cast<unsigned char>(b));
      size[b] = static_cast<uint8_t>(u.size());
      bytes[b][0] = u[0];
      bytes[b][1] = u.size() > 1 ? u[1] : 0;
    }
  }
};

void append_byte_level(std::string& out, std::string_view bytes) {
  static const ByteLevelChars table;
  size_t pos = out.size();
  out.resize(pos + 2 * bytes.size());
  char* p = out.data() + pos;
  for (unsigned char b : bytes) {
    p[0] = table.bytes[b][0];
    p[1] = table.bytes[b][1];
    p += table.size[b];
  }
  out.resize(static_cast<size_t>(p - out.data()));
}

// Code point indices of byte positions in UTF-8 text, for positions visited mostly in increasing
// order (a token's bytes, then the next token's): a running count instead of a per-byte table.
class CharCursor {
 public:
  explicit CharCursor(std::string_view text) : text_(text) {}
  // The index of the char holding byte b (b < size).
  size_t index_of(size_t b) { return chars_before(b + 1) - 1; }
  // Byte offsets -> code point offsets with the Rust BytesToCharOffsetConverter's rules (as
  // tokenizer_json.cpp's converter): an end at the input's end maps past the last char, a start
  // past the end leaves the offsets as they are.
  Offsets convert(size_t start, size_t end) {
    if (start >= text_.size()) return {start, end};
    size_t s = index_of(start);
    if (end < text_.size()) return {s, index_of(end)};
    return {s, end == text_.size() ? index_of(end - 1) + 1 : s + 1};
  }

 private:
  size_t chars_before(size_t b) {
    while (byte_ < b) chars_ += is_lead(text_[byte_++]);
    while (byte_ > b) chars_ -= is_lead(text_[--byte_]);
    return chars_;
  }
  static bool is_lead(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }
  std::string_view text_;
  size_t byte_ = 0, chars_ = 0;
};

// A full encoding's tokens gathered in reused buffers, then copied into an Encoding whose
// vectors are allocated once at their final size (growing them token by token reallocated and
// moved every token string several times per call).
class CollectedEncoding {
 public:
  void clear() { tokens_.clear(); }
  // A token whose string is `value` (storage that outlives move_into).
  void add(uint32_t id, std::string_view value, Offsets offsets, uint32_t word) {
    tokens_.push_back({id, word, offsets, value.data(), 0, value.size()});
  }
  // A token whose string is arena[pos, pos + size) (the arena grows meanwhile).
  void add_arena(uint32_t id, size_t pos, size_t size, Offsets offsets, uint32_t word) {
    tokens_.push_back({id, word, offsets, nullptr, pos, size});
  }
  void move_into(Encoding& out, std::string_view arena) const {
    size_t n = tokens_.size();
    out.ids.resize(n);
    out.offsets.resize(n);
    out.word_ids.resize(n);
    out.tokens.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const Record& r = tokens_[i];
      out.ids[i] = r.id;
      out.offsets[i] = r.offsets;
      out.word_ids[i] = r.word;
      out.tokens.emplace_back(r.data ? std::string_view(r.data, r.size) : arena.substr(r.pos, r.size));
    }
  }

 private:
  struct Record {
    uint32_t id, word;
    Offsets offsets;
    const char* data;  // the string, or null for arena[pos, pos + size)
    size_t pos, size;
  };
  std::vector<Record> tokens_;
};

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
    append_byte_level(piece, norm.substr(start, end - start));
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

  thread_local std::vector<Token> tokens;
  // The byte-level text of every piece of this call, one after the other: token strings are
  // views into it until `collected` copies them out.
  thread_local std::string byte_level;
  thread_local CollectedEncoding collected;
  byte_level.clear();
  collected.clear();
  CharCursor text_chars(text);
  uint32_t word = 0;
  auto encode_piece = [&](size_t start, size_t end) {
    size_t piece_begin = byte_level.size();
    append_byte_level(byte_level, text.substr(start, end - start));
    std::string_view piece = std::string_view(byte_level).substr(piece_begin);
    tokens.clear();
    model_.tokenize(piece, tokens);
    if (!full) {
      for (const Token& t : tokens) out.ids.push_back(t.id);
      return;
    }
    // A byte-level char stands for one input byte; a token's offsets cover the input chars
    // holding its first and last byte.
    CharCursor piece_chars(piece);
    for (const Token& t : tokens) {
      Offsets offsets;
      if (t.end <= t.start || t.end > piece.size()) {
        offsets = text_chars.convert(start, start);
      } else {
        size_t first = start + piece_chars.index_of(t.start);
        size_t last = start + piece_chars.index_of(t.end - 1);
        offsets = {text_chars.index_of(first), text_chars.index_of(last) + 1};
      }
      if (t.value_from_text)
        collected.add_arena(t.id, piece_begin + t.start, t.end - t.start, offsets, word);
      else
        collected.add(t.id, model_.id_to_token(t.id).value_or(std::string_view()), offsets, word);
    }
    ++word;
  };
  for (const auto& [index, r] : segments) {
    if (r.first == r.second) continue;
    if (index >= 0) {
      uint32_t id = added_.id_at(static_cast<size_t>(index));
      if (full)
        collected.add(id, text.substr(r.first, r.second - r.first),
                      text_chars.convert(r.first, r.second), word);
      else
        out.ids.push_back(id);
      ++word;
      continue;
    }
    encode_segment(text, r.first, r.second, [&](size_t s, size_t e) { encode_piece(s, e); });
  }
  if (full) collected.move_into(out, byte_level);
  return true;
}

}  // namespace transformers::tokenization
