#include "transformers/tokenization/pre_tokenizers.h"

#include "transformers/tokenization/json_access.h"

#include <cctype>

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/regex.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

PreTokenizedString::PreTokenizedString(std::string_view original) : original_(original) {
  splits_.push_back({NormalizedString(std::string(original))});
}

SplitBehavior parse_split_behavior(const Json& value, const std::string& where) {
  TCPP_CHECK(value.is_string(), ConfigError, where, ": 'behavior' must be a string");
  auto b = value.get<std::string>();
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw ConfigError(detail::concat(where, ": unknown split behavior '", b, "'"));
}

namespace {

std::vector<PatternSplit> inverted(std::vector<PatternSplit> matches) {
  for (auto& m : matches) m.is_match = !m.is_match;
  return matches;
}

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        regex_(use_regex ? std::make_unique<Regex>(kGpt2Pattern, "ByteLevel") : nullptr) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split([&](NormalizedString&& s, std::vector<Split>& out) {
      if (add_prefix_space_ && s.get().rfind(' ', 0) != 0) s.prepend(" ");
      if (regex_) {
        for (auto& piece : s.split(regex_->find_matches(s.get()), SplitBehavior::kIsolated))
          out.push_back({std::move(piece)});
      } else {
        out.push_back({std::move(s)});
      }
    });
    pts.normalize([](NormalizedString& s) { byte_level_transform(s); });
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(const Json& json, const std::string& where)
      : behavior_(parse_split_behavior(json_member(json, "behavior", where), where)),
        invert_(json_get_or(json, "invert", false, where)) {
    const Json& pattern = json_member(json, "pattern", where);
    TCPP_CHECK(pattern.is_object(), ConfigError, where, ": 'pattern' must be an object");
    if (pattern.contains("String")) {
      literal_ = json_get<std::string>(pattern, "String", where + ".pattern");
    } else {
      regex_ = std::make_unique<Regex>(json_get<std::string>(pattern, "Regex", where + ".pattern"),
                                       where + ".pattern");
    }
  }
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split_by(
        [&](const std::string& text) {
          auto m = regex_ ? regex_->find_matches(text) : find_literal_matches(text, literal_);
          return invert_ ? inverted(std::move(m)) : m;
        },
        behavior_);
  }

 private:
  SplitBehavior behavior_;
  bool invert_;
  std::string literal_;
  std::unique_ptr<Regex> regex_;
};

// Whitespace: the regex \w+|[^\w\s]+ of the Rust library (regex crate, Unicode classes), with
// everything between matches removed; scanned by hand since Oniguruma's \w differs (it has No).
class WhitespacePreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split_by(word_runs, SplitBehavior::kRemoved);
  }

 private:
  static std::vector<PatternSplit> word_runs(const std::string& text) {
    std::vector<PatternSplit> out;
    if (text.empty()) {
      out.push_back({0, 0, false});
      return out;
    }
    size_t last = 0;
    for (size_t i = 0; i < text.size();) {
      size_t start = i;
      char32_t c = next_code_point(text, i);
      if (is_whitespace(c)) continue;
      bool word = is_word_char(c);
      size_t end = i;
      while (end < text.size()) {
        size_t k = end;
        char32_t d = next_code_point(text, k);
        if (word ? !is_word_char(d) : (is_word_char(d) || is_whitespace(d))) break;
        end = k;
      }
      // Matches are kept, the gaps between them removed (Invert + Removed in the Rust code).
      if (last < start) out.push_back({last, start, true});
      out.push_back({start, end, false});
      last = end;
      i = end;
    }
    if (last < text.size()) out.push_back({last, text.size(), true});
    return out;
  }
};

class CharClassPreTokenizer final : public PreTokenizer {
 public:
  using Predicate = bool (*)(char32_t);
  CharClassPreTokenizer(Predicate pred, SplitBehavior behavior) : pred_(pred), behavior_(behavior) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split_by([&](const std::string& text) { return find_char_matches(text, pred_); },
                 behavior_);
  }

 private:
  Predicate pred_;
  SplitBehavior behavior_;
};

bool is_bert_punctuation(char32_t c) {
  return (c < 0x80 && std::ispunct(static_cast<int>(c))) || is_punctuation(c);
}

class BertPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split_by([](const std::string& text) { return find_char_matches(text, is_whitespace); },
                 SplitBehavior::kRemoved);
    pts.split_by(
        [](const std::string& text) { return find_char_matches(text, is_bert_punctuation); },
        SplitBehavior::kIsolated);
  }
};

class DelimiterPreTokenizer final : public PreTokenizer {
 public:
  explicit DelimiterPreTokenizer(char32_t delimiter) : delimiter_(delimiter) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split_by(
        [&](const std::string& text) {
          return find_char_matches(text, [&](char32_t c) { return c == delimiter_; });
        },
        SplitBehavior::kRemoved);
  }

 private:
  char32_t delimiter_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), replacement_utf8_(utf8_encode(replacement)), scheme_(scheme),
        split_(split) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split([&](NormalizedString&& s, std::vector<Split>& out) {
      if (s.get().find(' ') != std::string::npos)
        s.replace(find_literal_matches(s.get(), " "), replacement_utf8_);
      bool starts = s.get().rfind(replacement_utf8_, 0) == 0;
      if (scheme_ == PrependScheme::kAlways && !starts) s.prepend(replacement_utf8_);
      if (scheme_ == PrependScheme::kFirst && !starts && s.offsets_original().first == 0)
        s.prepend(replacement_utf8_);
      if (split_) {
        auto matches = find_char_matches(s.get(), [&](char32_t c) { return c == replacement_; });
        for (auto& piece : s.split(matches, SplitBehavior::kMergedWithNext))
          out.push_back({std::move(piece)});
      } else {
        out.push_back({std::move(s)});
      }
    });
  }

 private:
  char32_t replacement_;
  std::string replacement_utf8_;
  PrependScheme scheme_;
  bool split_;
};

class FixedLengthPreTokenizer final : public PreTokenizer {
 public:
  explicit FixedLengthPreTokenizer(size_t length) : length_(length) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split([&](NormalizedString&& s, std::vector<Split>& out) {
      const std::string& text = s.get();
      size_t start = 0, chars = 0;
      for (size_t i = 0; i < text.size();) {
        next_code_point(text, i);
        if (++chars == length_) {
          out.push_back({s.slice(start, i)});
          start = i;
          chars = 0;
        }
      }
      if (start < text.size()) out.push_back({s.slice(start, text.size())});
    });
  }

 private:
  size_t length_;
};

// UnicodeScripts: cut where the script changes (the Script property of the characters the Rust
// library's table covers, unicode_scripts_table.inc; Hiragana, Katakana and U+30FC count as Han,
// the space belongs to any script). As in the Rust code, the text before the
// first cut point is dropped when it is only spaces.
class UnicodeScriptsPreTokenizer final : public PreTokenizer {
 public:
  void pre_tokenize(PreTokenizedString& pts) const override {
    pts.split([](NormalizedString&& s, std::vector<Split>& out) {
      const std::string& text = s.get();
      std::vector<size_t> cuts;
      int last = kNone;
      for (size_t i = 0; i < text.size();) {
        size_t at = i;
        int script = fixed_script(next_code_point(text, i));
        if (script != kAny && last != kAny && last != script) cuts.push_back(at);
        if (script != kAny) last = script;
      }
      cuts.push_back(text.size());
      for (size_t k = 0; k + 1 < cuts.size(); ++k) out.push_back({s.slice(cuts[k], cuts[k + 1])});
    });
  }

 private:
  static constexpr int kNone = -2, kAny = -1;
  // HF's fixed_script: the table's script, with Hiragana, Katakana and the prolonged sound mark
  // folded into Han and the space into Any.
  static int fixed_script(char32_t c) {
    if (c == 0x30FC) return static_cast<int>(UnicodeScript::Han);
    if (c == ' ') return kAny;
    auto script = unicode_script(c);
    if (!script) return kAny;
    if (*script == UnicodeScript::Hiragana || *script == UnicodeScript::Katakana)
      return static_cast<int>(UnicodeScript::Han);
    return static_cast<int>(*script);
  }
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> items)
      : items_(std::move(items)) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    for (const auto& p : items_) p->pre_tokenize(pts);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

char32_t single_char(const std::string& s, const std::string& where, const char* field) {
  auto chars = decode_utf8(s);
  TCPP_CHECK(chars.size() == 1, ConfigError, where, ": '", field, "' must be one character");
  return chars[0];
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& json, const std::string& where) {
  if (json.is_null()) return nullptr;
  TCPP_CHECK(json.is_object(), ConfigError, where, ": expected an object");
  auto type = json_get<std::string>(json, "type", where);
  std::string at = where + " (" + type + ")";
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(json_get_or(json, "add_prefix_space", true, at),
                                                   json_get_or(json, "use_regex", true, at));
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(json, at);
  if (type == "Whitespace") return std::make_unique<WhitespacePreTokenizer>();
  if (type == "WhitespaceSplit")
    return std::make_unique<CharClassPreTokenizer>(is_whitespace, SplitBehavior::kRemoved);
  if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
  if (type == "Punctuation") {
    auto behavior = json.contains("behavior")
                        ? parse_split_behavior(json["behavior"], at)
                        : SplitBehavior::kIsolated;
    return std::make_unique<CharClassPreTokenizer>(is_bert_punctuation, behavior);
  }
  if (type == "Digits") {
    bool individual = json_get_or(json, "individual_digits", false, at);
    return std::make_unique<CharClassPreTokenizer>(
        is_numeric, individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  }
  if (type == "CharDelimiterSplit")
    return std::make_unique<DelimiterPreTokenizer>(
        single_char(json_get<std::string>(json, "delimiter", at), at, "delimiter"));
  if (type == "Metaspace") {
    char32_t replacement =
        single_char(json_get_or<std::string>(json, "replacement", "\xE2\x96\x81", at), at,
                    "replacement");
    auto scheme_name = json_get_or<std::string>(json, "prepend_scheme", "always", at);
    PrependScheme scheme = scheme_name == "first"   ? PrependScheme::kFirst
                           : scheme_name == "never" ? PrependScheme::kNever
                                                    : PrependScheme::kAlways;
    TCPP_CHECK(scheme_name == "first" || scheme_name == "never" || scheme_name == "always",
               ConfigError, at, ": unknown prepend_scheme '", scheme_name, "'");
    if (json_get_optional<bool>(json, "add_prefix_space", at) == false) scheme = PrependScheme::kNever;
    return std::make_unique<MetaspacePreTokenizer>(replacement, scheme,
                                                   json_get_or(json, "split", true, at));
  }
  if (type == "FixedLength") {
    auto length = json_get_or<size_t>(json, "length", 5, at);
    TCPP_CHECK(length > 0, ConfigError, at, ": 'length' must be positive");
    return std::make_unique<FixedLengthPreTokenizer>(length);
  }
  if (type == "Sequence") {
    const Json& list = json_member(json, "pretokenizers", at);
    TCPP_CHECK(list.is_array(), ConfigError, at, ": 'pretokenizers' must be an array");
    std::vector<std::unique_ptr<PreTokenizer>> items;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_pre_tokenizer(list[i], at + ".pretokenizers[" + std::to_string(i) + "]");
      if (p) items.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(items));
  }
  if (type == "UnicodeScripts") return std::make_unique<UnicodeScriptsPreTokenizer>();
  throw ConfigError(detail::concat(where, ": unknown pre-tokenizer type '", type, "'"));
}

}  // namespace transformers::tokenization
