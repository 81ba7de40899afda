#include "transformers/tokenization/replace_pattern.h"
#include "transformers/tokenization/normalizers.h"

#include "transformers/tokenization/json_access.h"

#include <vector>

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/precompiled_charsmap.h"
#include "transformers/tokenization/regex.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalizationForm form) : form_(form) {}
  void normalize(NormalizedString& s) const override {
    // Text below U+00A0 is invariant under all four forms.
    bool trivial = true;
    for (unsigned char c : s.get()) {
      if (c >= 0xC2) {
        trivial = false;
        break;
      }
    }
    if (trivial) return;
    s.transform(normalize_with_changes(s.get(), form_), 0);
  }

 private:
  NormalizationForm form_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { s.lowercase(); }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override { s.strip(left_, right_); }

 private:
  bool left_, right_;
};

class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) { return !is_combining_mark(c); });
  }
};

bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class BertNormalizer final : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool chinese, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), chinese_(chinese), strip_accents_(strip_accents),
        lowercase_(lowercase) {}
  void normalize(NormalizedString& s) const override {
    if (clean_text_) {
      s.filter([](char32_t c) {
        bool control = !(c == '\t' || c == '\n' || c == '\r') && is_other(c);
        return !(c == 0 || c == 0xFFFD || control);
      });
      s.map([](char32_t c) -> char32_t {
        bool ws = c == '\t' || c == '\n' || c == '\r' || is_whitespace(c);
        return ws ? U' ' : c;
      });
    }
    if (chinese_) {
      std::vector<CharChange> changes;
      bool any = false;
      const std::string& text = s.get();
      for (size_t i = 0; i < text.size();) {
        char32_t c = next_code_point(text, i);
        if (is_chinese_char(c)) {
          changes.emplace_back(U' ', 0);
          changes.emplace_back(c, 1);
          changes.emplace_back(U' ', 1);
          any = true;
        } else {
          changes.emplace_back(c, 0);
        }
      }
      if (any) s.transform(changes, 0);
    }
    if (strip_accents_) {
      UnicodeNormalizer(NormalizationForm::kNFD).normalize(s);
      s.filter([](char32_t c) { return !is_mark_nonspacing(c); });
    }
    if (lowercase_) s.lowercase();
  }

 private:
  bool clean_text_, chinese_, strip_accents_, lowercase_;
};

class NmtNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) {
      return !((c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || c == 0x7F ||
               c == 0x8F || c == 0x9F);
    });
    s.map([](char32_t c) -> char32_t {
      switch (c) {
        case 0x9: case 0xA: case 0xC: case 0xD: case 0x1680: case 0x2028: case 0x2029:
        case 0x2581: case 0xFEFF: case 0xFFFD:
          return U' ';
        default:
          return (c >= 0x200B && c <= 0x200F) ? U' ' : c;
      }
    });
  }
};

class PrecompiledNormalizer final : public Normalizer {
 public:
  PrecompiledNormalizer(std::string_view blob, const std::string& where) : map_(blob, where) {}
  void normalize(NormalizedString& s) const override { map_.normalize(s); }

 private:
  PrecompiledCharsmap map_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(const Json& json, const std::string& where)
      : pattern_(json, where), where_(where) {}
  void normalize(NormalizedString& s) const override {
    if (pattern_.regex) {
      s.replace(pattern_.regex->find_matches(s.get()), pattern_.content, where_);
    } else if (s.get().find(pattern_.literal) != std::string::npos) {
      s.replace(find_literal_matches(s.get(), pattern_.literal), pattern_.content, where_);
    }
  }

 private:
  ReplacePattern pattern_;
  std::string where_;
};

class PrependNormalizer final : public Normalizer {
 public:
  PrependNormalizer(std::string prefix, std::string where)
      : prefix_(std::move(prefix)), where_(std::move(where)) {}
  void normalize(NormalizedString& s) const override { s.prepend(prefix_, where_); }

 private:
  std::string prefix_, where_;
};

class ByteLevelNormalizer final : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override { byte_level_transform(s); }
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> items)
      : items_(std::move(items)) {}
  void normalize(NormalizedString& s) const override {
    for (const auto& n : items_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const Json& json, const std::string& where) {
  if (json.is_null()) return nullptr;
  TCPP_CHECK(json.is_object(), ConfigError, where, ": expected an object");
  auto type = json_get<std::string>(json, "type", where);
  std::string at = where + " (" + type + ")";
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::kNFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::kNFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalizationForm::kNFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalizationForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  if (type == "Nmt") return std::make_unique<NmtNormalizer>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(json_get_or(json, "strip_left", true, at),
                                             json_get_or(json, "strip_right", true, at));
  if (type == "BertNormalizer") {
    bool lowercase = json_get_or(json, "lowercase", true, at);
    auto strip = json_get_optional<bool>(json, "strip_accents", at);
    return std::make_unique<BertNormalizer>(json_get_or(json, "clean_text", true, at),
                                            json_get_or(json, "handle_chinese_chars", true, at),
                                            strip.value_or(lowercase), lowercase);
  }
  if (type == "Precompiled") {
    auto encoded = json_get_or<std::string>(json, "precompiled_charsmap", "", at);
    if (encoded.empty()) return nullptr;  // an empty charsmap normalizes nothing
    return std::make_unique<PrecompiledNormalizer>(base64_decode(encoded, at), at);
  }
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(json, at);
  if (type == "Prepend")
    return std::make_unique<PrependNormalizer>(json_get<std::string>(json, "prepend", at), at);
  if (type == "Sequence") {
    const Json& list = json_member(json, "normalizers", at);
    TCPP_CHECK(list.is_array(), ConfigError, at, ": 'normalizers' must be an array");
    std::vector<std::unique_ptr<Normalizer>> items;
    for (size_t i = 0; i < list.size(); ++i) {
      auto n = make_normalizer(list[i], at + ".normalizers[" + std::to_string(i) + "]");
      if (n) items.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(items));
  }
  throw ConfigError(detail::concat(where, ": unknown normalizer type '", type, "'"));
}

std::string normalize_text(const Normalizer* normalizer, std::string text) {
  if (!normalizer) return text;
  NormalizedString s(std::move(text));
  normalizer->normalize(s);
  return s.get();
}

}  // namespace transformers::tokenization
