#include "transformers/tokenization/replace_pattern.h"
#include "transformers/tokenization/decoders.h"

#include "transformers/tokenization/json_access.h"

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/regex.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

std::string Decoder::decode(std::vector<std::string> tokens) const {
  decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

namespace {

// Replaces every non-overlapping `from` (left to right) by `to`, in one pass: replacing in place
// would move the tail at every match, quadratic on a long text (clean_up_tokenization runs on
// the whole decoded output).
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t last = 0;
  for (; pos != std::string::npos; pos = s.find(from, last)) {
    out.append(s, last, pos - last);
    out.append(to);
    last = pos + from.size();
  }
  out.append(s, last, std::string::npos);
  s = std::move(out);
}

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      size_t before = bytes.size();
      bool all = true;
      for (size_t i = 0; i < t.size();) {
        auto b = char_to_byte(next_code_point(t, i));
        if (!b) {
          all = false;
          break;
        }
        bytes.push_back(static_cast<char>(*b));
      }
      if (!all) {
        bytes.resize(before);
        bytes += t;
      }
    }
    tokens.assign(1, to_valid_utf8(bytes));
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool prepend)
      : replacement_(std::move(replacement)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      replace_all(tokens[i], replacement_, i == 0 && prepend_ ? "" : " ");
  }

 private:
  std::string replacement_;
  bool prepend_;
};

class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (t.rfind(prefix_, 0) == 0) t.erase(0, prefix_.size());
        else t.insert(0, " ");
      }
      if (cleanup_) t = clean_up_tokenization(std::move(t));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i)
      replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class CtcDecoder final : public Decoder {
 public:
  CtcDecoder(std::string pad, std::string delimiter, bool cleanup)
      : pad_(std::move(pad)), delimiter_(std::move(delimiter)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // dedup consecutive repeats
      std::string t = tokens[i];
      replace_all(t, pad_, "");
      if (cleanup_) {
        t = clean_up_tokenization(std::move(t));
        replace_all(t, delimiter_, " ");
      }
      if (!t.empty()) out.push_back(std::move(t));
    }
    tokens = std::move(out);
  }

 private:
  std::string pad_, delimiter_;
  bool cleanup_;
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(const Json& json, const std::string& where) : pattern_(json, where), where_(where) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    // The decoded text is bounded like normalized text, over all the tokens together.
    size_t input_size = 0, output_size = 0;
    for (const auto& t : tokens) input_size += t.size();
    for (auto& t : tokens) {
      auto matches = pattern_.regex ? pattern_.regex->find_matches(t)
                                    : find_literal_matches(t, pattern_.literal);
      size_t size = replaced_size(t.size(), matches, pattern_.content.size());
      output_size = size > SIZE_MAX - output_size ? SIZE_MAX : output_size + size;
      check_growth(output_size, input_size, where_);
      std::string out;
      out.reserve(size);
      for (const auto& m : matches)
        out.append(m.is_match ? std::string_view(pattern_.content)
                              : std::string_view(t).substr(m.start, m.end - m.start));
      t = std::move(out);
    }
  }

 private:
  ReplacePattern pattern_;
  std::string where_;
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const auto& t : tokens) joined += t;
    tokens.assign(1, std::move(joined));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::u32string chars = decode_utf8(t);
      size_t start_cut = 0;
      for (size_t i = 0; i < std::min(start_, chars.size()) && chars[i] == content_; ++i)
        start_cut = i + 1;
      size_t stop_cut = chars.size();
      for (size_t i = 0; i < stop_ && i < chars.size(); ++i) {
        size_t index = chars.size() - i - 1;
        if (chars[index] != content_) break;
        stop_cut = index;
      }
      std::string out;
      for (size_t i = start_cut; i < stop_cut; ++i) append_utf8(out, chars[i]);
      t = std::move(out);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex_value(t[3]) >= 0 &&
          hex_value(t[4]) >= 0) {
        pending.push_back(static_cast<char>(hex_value(t[3]) * 16 + hex_value(t[4])));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};

}  // namespace

std::string clean_up_tokenization(std::string text) {
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},          {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},        {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (auto [from, to] : kRules) replace_all(text, from, to);
  return text;
}

std::unique_ptr<Decoder> make_decoder(const Json& json, const std::string& where) {
  if (json.is_null()) return nullptr;
  TCPP_CHECK(json.is_object(), ConfigError, where, ": expected an object");
  auto type = json_get<std::string>(json, "type", where);
  std::string at = where + " (" + type + ")";
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    auto replacement = json_get_or<std::string>(json, "replacement", "\xE2\x96\x81", at);
    auto scheme = json_get_or<std::string>(json, "prepend_scheme", "always", at);
    bool prepend = scheme != "never";
    if (json_get_optional<bool>(json, "add_prefix_space", at) == false) prepend = false;
    return std::make_unique<MetaspaceDecoder>(replacement, prepend);
  }
  if (type == "WordPiece")
    return std::make_unique<WordPieceDecoder>(json_get_or<std::string>(json, "prefix", "##", at),
                                              json_get_or(json, "cleanup", true, at));
  if (type == "BPEDecoder")
    return std::make_unique<BpeDecoder>(json_get_or<std::string>(json, "suffix", "</w>", at));
  if (type == "CTC")
    return std::make_unique<CtcDecoder>(
        json_get_or<std::string>(json, "pad_token", "<pad>", at),
        json_get_or<std::string>(json, "word_delimiter_token", "|", at),
        json_get_or(json, "cleanup", true, at));
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(json, at);
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Strip") {
    auto content = decode_utf8(json_get_or<std::string>(json, "content", " ", at));
    TCPP_CHECK(content.size() == 1, ConfigError, at, ": 'content' must be one character");
    return std::make_unique<StripDecoder>(content[0], json_get_or<size_t>(json, "start", 0, at),
                                          json_get_or<size_t>(json, "stop", 0, at));
  }
  if (type == "Sequence") {
    const Json& list = json_member(json, "decoders", at);
    TCPP_CHECK(list.is_array(), ConfigError, at, ": 'decoders' must be an array");
    std::vector<std::unique_ptr<Decoder>> items;
    for (size_t i = 0; i < list.size(); ++i) {
      auto d = make_decoder(list[i], at + ".decoders[" + std::to_string(i) + "]");
      if (d) items.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(items));
  }
  throw ConfigError(detail::concat(where, ": unknown decoder type '", type, "'"));
}

}  // namespace transformers::tokenization
