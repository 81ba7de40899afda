#include "transformers/tokenization/fast_byte_level.h"

#include <algorithm>
#include <cstring>

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

// True when a quick look shows that NFC leaves `text` as it is (false: it may change it).
bool nfc_surely_identity(std::string_view text) {
  bool below = true;
  for (unsigned char c : text)
    if (c >= 0xCC) {  // lead bytes of U+0300 and above
      below = false;
      break;
    }
  return below || is_nfc_quick(text);
}

// True when NFC leaves `text` as it is (then offsets need no alignment bookkeeping).
bool nfc_is_identity(std::string_view text) {
  if (nfc_surely_identity(text)) return true;
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

}  // namespace

// Types that the class's private members name (see fast_byte_level.h).
namespace fast_byte_level_detail {

// One call's byte-level text, piece after piece: a buffer grown by doubling and never shrunk,
// with its own length, so that appending a piece is a plain copy (std::string::resize per piece
// zero-filled and re-checked the capacity twice per piece).
class TextArena {
 public:
  void clear() { used_ = 0; }
  size_t size() const { return used_; }
  std::string_view view() const { return {buffer_.data(), used_}; }
  void append(std::string_view s) {
    std::memcpy(grow(s.size()), s.data(), s.size());
    used_ += s.size();
  }
  // Appends GPT-2's byte-level char of each byte.
  void append_byte_level(std::string_view bytes) {
    static const ByteLevelChars table;
    char* p = grow(2 * bytes.size());
    char* begin = p;
    for (unsigned char b : bytes) {
      p[0] = table.bytes[b][0];
      p[1] = table.bytes[b][1];
      p += table.size[b];
    }
    used_ += static_cast<size_t>(p - begin);
  }

 private:
  char* grow(size_t n) {
    if (used_ + n > buffer_.size()) buffer_.resize(std::max(2 * buffer_.size(), used_ + n));
    return buffer_.data() + used_;
  }
  std::string buffer_;
  size_t used_ = 0;
};

// Code point indices of byte positions in UTF-8 text, for positions visited mostly in increasing
// order (a token's bytes, then the next token's): a running count instead of a per-byte table.
class CharCursor {
 public:
  // `single_byte_chars`: the caller knows the text is ASCII (then indices are byte offsets).
  CharCursor(std::string_view text, bool single_byte_chars)
      : text_(text), single_byte_(single_byte_chars) {}
  explicit CharCursor(std::string_view text) : CharCursor(text, is_ascii(text)) {}
  // The index of the char holding byte b (b < size).
  size_t index_of(size_t b) { return single_byte_ ? b : chars_before(b + 1) - 1; }
  // The number of chars that start before byte b (b <= size).
  size_t chars_before(size_t b) {
    if (single_byte_) return b;
    if (b == byte_) return chars_;
    size_t pos = byte_, chars = chars_;  // locals: stores through `this` would not stay in registers
    const char* p = text_.data();
    for (; pos + 8 <= b; pos += 8) {  // 8 bytes at a time: count the continuation bytes (10xxxxxx)
      uint64_t x;
      std::memcpy(&x, p + pos, 8);
      uint64_t continuation = (x & ~(x << 1) & 0x8080808080808080ULL) >> 7;
      chars += 8 - ((continuation * 0x0101010101010101ULL) >> 56);
    }
    while (pos < b) chars += is_lead(p[pos++]);
    while (pos > b) chars -= is_lead(p[--pos]);
    byte_ = pos;
    chars_ = chars;
    return chars;
  }
  // Byte offsets -> code point offsets with the Rust BytesToCharOffsetConverter's rules (as
  // tokenizer_json.cpp's converter): an end at the input's end maps past the last char, a start
  // past the end leaves the offsets as they are.
  Offsets convert(size_t start, size_t end) {
    if (start >= text_.size()) return {start, end};
    size_t s = index_of(start);
    if (end < text_.size()) return {s, index_of(end)};
    return {s, end == text_.size() ? index_of(end - 1) + 1 : s + 1};
  }
  // Tells the cursor that `chars` chars start before byte b (the caller counted them).
  void sync(size_t b, size_t chars) {
    byte_ = b;
    chars_ = chars;
  }

 private:
  static bool is_ascii(std::string_view text) {
    unsigned char any = 0;
    for (unsigned char c : text) any |= c;
    return any < 0x80;
  }
  static bool is_lead(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }
  std::string_view text_;
  bool single_byte_;
  size_t byte_ = 0, chars_ = 0;
};

// A full encoding's tokens gathered in reused buffers, then copied into an Encoding whose
// vectors are allocated once at their final size (growing them token by token reallocated and
// moved every token string several times per call).
class CollectedEncoding {
 public:
  void clear() { tokens_.clear(); }
  size_t size() const { return tokens_.size(); }
  void truncate(size_t n) { tokens_.resize(n); }
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
    out.ids.reserve(n);
    out.offsets.reserve(n);
    out.word_ids.reserve(n);
    out.tokens.reserve(n);
    for (const Record& r : tokens_) {
      out.ids.push_back(r.id);
      out.offsets.push_back(r.offsets);
      out.word_ids.push_back(r.word);
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

}  // namespace fast_byte_level_detail

using fast_byte_level_detail::CharCursor;
using fast_byte_level_detail::CollectedEncoding;
using fast_byte_level_detail::TextArena;

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
      add_prefix_space_(add_prefix_space) {
  spans_.resize(model.vocab_size());
  for (uint32_t id = 0; id < spans_.size(); ++id) {
    auto token = model.id_to_token(id);
    if (!token) continue;
    TokenSpan span;
    bool usable = true;
    for (size_t i = 0; i < token->size() && usable;) {
      auto byte = char_to_byte(next_code_point(*token, i));
      usable = byte && span.bytes < UINT8_MAX;
      if (!usable) break;
      bool continuation = (*byte & 0xC0) == 0x80;
      if (span.bytes == 0) span.starts_inside_char = continuation;
      ++span.bytes;
      span.leads += !continuation;
    }
    if (usable) spans_[id] = span;
  }
}


// What one encode call builds up: the byte-level text of its pieces one after the other (token
// strings are views into it until `collected` copies them out), the tokens of a full encoding,
// and the word index. Thread-local buffers, reused from call to call.
struct FastByteLevelPath::EncodeRun {
  TextArena byte_level;
  CollectedEncoding collected;
  std::vector<Token> tokens;
  uint32_t word = 0;
  void clear() {
    byte_level.clear();
    collected.clear();
    word = 0;
  }
};

bool FastByteLevelPath::collect_by_spans(std::string_view piece, size_t piece_begin, size_t start,
                                         CharCursor& text_chars, EncodeRun& run) const {
  // chars: the input chars that start before the token's first byte. The token covers the char
  // holding its first byte (one back when that byte continues a char) to the one holding its last.
  size_t chars = text_chars.chars_before(start);
  size_t first = run.collected.size();
  uint32_t at = 0;
  size_t bytes = 0;
  for (const Token& t : run.tokens) {
    if (!t.value_from_text || t.start != at || t.id >= spans_.size() || spans_[t.id].bytes == 0) {
      run.collected.truncate(first);
      return false;
    }
    at = t.end;
    const TokenSpan& span = spans_[t.id];
    Offsets offsets{chars - span.starts_inside_char, chars + span.leads};
    chars += span.leads;
    bytes += span.bytes;
    run.collected.add_arena(t.id, piece_begin + t.start, t.end - t.start, offsets, run.word);
  }
  if (at == piece.size()) {
    text_chars.sync(start + bytes, chars);  // where the next piece starts
    return true;
  }
  run.collected.truncate(first);
  return false;
}

namespace {

// Offsets for text that is its own normalized form: a byte-level char stands for one input
// byte, and a token covers the input chars holding its first and last byte.
struct IdentityOffsets {
  static constexpr bool kInputIsText = true;  // norm is the input text
  CharCursor& text_chars;
  Offsets chars(size_t first, size_t last) const {
    return {text_chars.index_of(first), text_chars.index_of(last) + 1};
  }
  Offsets empty_at(size_t pos) const { return text_chars.convert(pos, pos); }
};

// Offsets through the alignments of a normalized segment that starts at byte `shift` of the
// input, as the general pipeline reads them (NormalizedString::normalized_to_original).
struct AlignedOffsets {
  static constexpr bool kInputIsText = false;
  CharCursor& text_chars;
  const NormalizedString& normalized;
  size_t shift;
  Offsets chars(size_t first, size_t last) const {
    auto r = normalized.normalized_to_original(first, last + 1);
    return text_chars.convert(shift + r->first, shift + r->second);
  }
  Offsets empty_at(size_t pos) const { return text_chars.convert(shift + pos, shift + pos); }
};

}  // namespace

template <typename OffsetMap>
void FastByteLevelPath::encode_text(std::string_view norm, size_t begin, size_t end, bool full,
                                    const OffsetMap& offsets, EncodeRun& run, Encoding& out) const {
  encode_segment(norm, begin, end, [&](size_t start, size_t stop) {
    size_t piece_begin = run.byte_level.size();
    run.byte_level.append_byte_level(norm.substr(start, stop - start));
    std::string_view piece = run.byte_level.view().substr(piece_begin);
    run.tokens.clear();
    model_.tokenize(piece, run.tokens);
    if (!full) {
      for (const Token& t : run.tokens) out.ids.push_back(t.id);
      return;
    }
    if constexpr (OffsetMap::kInputIsText) {
      if (collect_by_spans(piece, piece_begin, start, offsets.text_chars, run)) {
        ++run.word;
        return;
      }
    }
    // A char of the piece per byte of norm (one byte each when none is above '~' or a space).
    CharCursor piece_chars(piece, piece.size() == stop - start);
    for (const Token& t : run.tokens) {
      Offsets o = t.end <= t.start || t.end > piece.size()
                      ? offsets.empty_at(start)
                      : offsets.chars(start + piece_chars.index_of(t.start),
                                      start + piece_chars.index_of(t.end - 1));
      if (t.value_from_text)
        run.collected.add_arena(t.id, piece_begin + t.start, t.end - t.start, o, run.word);
      else
        run.collected.add(t.id, model_.id_to_token(t.id).value_or(std::string_view()), o, run.word);
    }
    ++run.word;
  });
}

void FastByteLevelPath::add_token(size_t index, std::string_view value, Offsets offsets, bool full,
                                  EncodeRun& run, Encoding& out) const {
  uint32_t id = added_.id_at(index);
  if (!full) {
    out.ids.push_back(id);
    return;
  }
  // The value may be a temporary: keep it in the run's text.
  size_t pos = run.byte_level.size();
  run.byte_level.append(value);
  run.collected.add_arena(id, pos, value.size(), offsets, run.word++);
}

void FastByteLevelPath::encode_normalizing(std::string_view text, bool full, EncodeRun& run,
                                           Encoding& out) const {
  CharCursor text_chars(text);
  for (const auto& [index, r] : added_.split_raw(text)) {
    if (index >= 0) {
      add_token(static_cast<size_t>(index), text.substr(r.first, r.second - r.first),
                text_chars.convert(r.first, r.second), full, run, out);
      continue;
    }
    // NFC on each text between raw added tokens, as the general pipeline normalizes each split;
    // the alignments only for offsets.
    std::string_view segment = text.substr(r.first, r.second - r.first);
    NormalizedString normalized;
    std::string plain;
    if (full) {
      normalized = NormalizedString(std::string(segment));
      normalized.transform(normalize_with_changes(segment, NormalizationForm::kNFC), 0);
    } else {
      for (auto [c, change] : normalize_with_changes(segment, NormalizationForm::kNFC))
        append_utf8(plain, c);
    }
    std::string_view norm = full ? std::string_view(normalized.get()) : std::string_view(plain);
    AlignedOffsets offsets{text_chars, normalized, r.first};  // read only when `full`
    for (const auto& [index2, r2] : added_.split_normalized(norm)) {
      if (index2 >= 0) {
        add_token(static_cast<size_t>(index2), norm.substr(r2.first, r2.second - r2.first),
                  full ? offsets.chars(r2.first, r2.second - 1) : Offsets{}, full, run, out);
        continue;
      }
      encode_text(norm, r2.first, r2.second, full, offsets, run, out);
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
  // With add_prefix_space the general pipeline prepends a space to each text between added
  // tokens that lacks one, and that space takes the first char's alignment; leave those to it.
  auto needs_prefix_space = [&](std::string_view piece) {
    return add_prefix_space_ && !piece.empty() && piece[0] != ' ';
  };
  thread_local EncodeRun run;
  run.clear();
  // Text the quick check is unsure of goes straight to the normalizing pass (exact whether or
  // not NFC changes it: normalizing it once to decide and again to encode cost more than the
  // alignments). With add_prefix_space only unchanged text may stay on the fast path.
  bool normalize = nfc_ && (add_prefix_space_ ? !nfc_is_identity(text) : !nfc_surely_identity(text));
  if (normalize) {
    if (add_prefix_space_) return false;
    encode_normalizing(text, full, run, out);
  } else {
    auto segments = added_.split_plain(text);
    for (const auto& [index, r] : segments)
      if (index < 0 && needs_prefix_space(text.substr(r.first, r.second - r.first))) return false;
    CharCursor text_chars(text);
    IdentityOffsets offsets{text_chars};
    for (const auto& [index, r] : segments) {
      if (r.first == r.second) continue;
      if (index >= 0)
        add_token(static_cast<size_t>(index), text.substr(r.first, r.second - r.first),
                  text_chars.convert(r.first, r.second), full, run, out);
      else
        encode_text(text, r.first, r.second, full, offsets, run, out);
    }
  }
  if (full) run.collected.move_into(out, run.byte_level.view());
  return true;
}

}  // namespace transformers::tokenization
