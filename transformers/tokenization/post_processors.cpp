#include "transformers/tokenization/post_processors.h"

#include "transformers/tokenization/json_access.h"

#include <map>

#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

void set_sequence_id(Encoding& e, uint32_t id) {
  for (auto& s : e.sequence_ids)
    if (s) s = id;
  for (auto& o : e.overflowing) set_sequence_id(o, id);
}

void set_type_ids(Encoding& e, int64_t type_id) {
  e.type_ids.assign(e.ids.size(), type_id);
}

// A run of special tokens (ids with their strings) as its own small encoding.
Encoding special_encoding(const std::vector<int64_t>& ids, const std::vector<std::string>& tokens,
                          int64_t type_id) {
  Encoding e;
  e.ids = ids;
  e.tokens = tokens;
  size_t n = ids.size();
  e.type_ids.assign(n, type_id);
  e.offsets.assign(n, {0, 0});
  e.special_tokens_mask.assign(n, 1);
  e.attention_mask.assign(n, 1);
  e.word_ids.assign(n, std::nullopt);
  e.sequence_ids.assign(n, std::nullopt);
  return e;
}

class ByteLevelProcessor final : public PostProcessor {
 public:
  ByteLevelProcessor(bool add_prefix_space, bool trim_offsets)
      : add_prefix_space_(add_prefix_space), trim_offsets_(trim_offsets) {}
  size_t added_tokens(bool) const override { return 0; }
  void process_encodings(std::vector<Encoding>& encodings, bool) const override {
    if (!trim_offsets_) return;
    for (auto& e : encodings) {
      trim_byte_level_offsets(e, add_prefix_space_);
      for (auto& o : e.overflowing) trim_byte_level_offsets(o, add_prefix_space_);
    }
  }

 private:
  bool add_prefix_space_, trim_offsets_;
};

struct SpecialToken {
  std::string name;
  uint32_t id;
};

SpecialToken parse_special_pair(const Json& json, const std::string& where, const char* field) {
  const Json& v = json_member(json, field, where);
  TCPP_CHECK(v.is_array() && v.size() == 2 && v[0].is_string() && v[1].is_number_unsigned(),
             ConfigError, where, ": '", field, "' must be [token, id]");
  return {v[0].get<std::string>(), v[1].get<uint32_t>()};
}

// BertProcessing: [CLS] A [SEP] (B [SEP]), type ids 0 then 1.
class BertProcessor final : public PostProcessor {
 public:
  BertProcessor(const Json& json, const std::string& where)
      : sep_(parse_special_pair(json, where, "sep")), cls_(parse_special_pair(json, where, "cls")) {}
  size_t added_tokens(bool is_pair) const override { return is_pair ? 3 : 2; }
  void process_encodings(std::vector<Encoding>& encodings, bool add_special) const override {
    if (!add_special) return;
    std::vector<Encoding> out;
    out.push_back(special_encoding({cls_.id}, {cls_.name}, 0));
    out.push_back(std::move(encodings[0]));
    set_type_ids(out.back(), 0);
    out.push_back(special_encoding({sep_.id}, {sep_.name}, 0));
    if (encodings.size() > 1) {
      out.push_back(std::move(encodings[1]));
      set_type_ids(out.back(), 1);
      out.push_back(special_encoding({sep_.id}, {sep_.name}, 1));
    }
    encodings = std::move(out);
  }

 private:
  SpecialToken sep_, cls_;
};

// RobertaProcessing: <s> A </s> (</s> B </s>), all type ids 0, optional offset trimming.
class RobertaProcessor final : public PostProcessor {
 public:
  RobertaProcessor(const Json& json, const std::string& where)
      : sep_(parse_special_pair(json, where, "sep")), cls_(parse_special_pair(json, where, "cls")),
        trim_offsets_(json_get_or(json, "trim_offsets", true, where)),
        add_prefix_space_(json_get_or(json, "add_prefix_space", true, where)) {}
  size_t added_tokens(bool is_pair) const override { return is_pair ? 4 : 2; }
  bool windows_keep_sequence_type_ids() const override { return false; }
  void process_encodings(std::vector<Encoding>& encodings, bool add_special) const override {
    for (auto& e : encodings) {
      if (trim_offsets_) {
        trim_byte_level_offsets(e, add_prefix_space_);
        for (auto& o : e.overflowing) trim_byte_level_offsets(o, add_prefix_space_);
      }
      set_type_ids(e, 0);
    }
    if (!add_special) return;
    std::vector<Encoding> out;
    out.push_back(special_encoding({cls_.id}, {cls_.name}, 0));
    out.push_back(std::move(encodings[0]));
    out.push_back(special_encoding({sep_.id}, {sep_.name}, 0));
    if (encodings.size() > 1) {
      out.push_back(special_encoding({sep_.id}, {sep_.name}, 0));
      out.push_back(std::move(encodings[1]));
      out.push_back(special_encoding({sep_.id}, {sep_.name}, 0));
    }
    encodings = std::move(out);
  }

 private:
  SpecialToken sep_, cls_;
  bool trim_offsets_, add_prefix_space_;
};

// TemplateProcessing: "single" and "pair" lists of Sequence / SpecialToken pieces.
class TemplateProcessor final : public PostProcessor {
 public:
  TemplateProcessor(const Json& json, const std::string& where) {
    const Json& specials = json_member_or_null(json, "special_tokens");
    TCPP_CHECK(specials.is_null() || specials.is_object(), ConfigError, where, ": 'special_tokens' must be an object");
    for (auto it = specials.begin(); specials.is_object() && it != specials.end(); ++it) {
      std::string at = where + ".special_tokens." + it.key();
      Special s;
      s.ids = json_get<std::vector<int64_t>>(it.value(), "ids", at);
      s.tokens = json_get<std::vector<std::string>>(it.value(), "tokens", at);
      TCPP_CHECK(s.ids.size() == s.tokens.size(), ConfigError, at,
                 ": 'ids' and 'tokens' differ in length");
      specials_[it.key()] = std::move(s);
    }
    single_ = parse_template(json_member(json, "single", where), where + ".single");
    pair_ = parse_template(json_member(json, "pair", where), where + ".pair");
  }
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : is_pair ? pair_ : single_)
      if (p.is_special) n += specials_.at(p.name).ids.size();
    return n;
  }
  void process_encodings(std::vector<Encoding>& encodings, bool add_special) const override {
    const auto& pieces = encodings.size() == 2 ? pair_ : single_;
    // Uses of each sequence in the template: the last one takes it (a template may repeat $A,
    // but copying a whole encoding for the usual single use doubled encode's memory and time).
    size_t uses[2] = {0, 0};
    for (const auto& p : pieces)
      if (!p.is_special) ++uses[p.name == "A" ? 0 : 1];
    std::vector<Encoding> out;
    for (const auto& p : pieces) {
      if (p.is_special) {
        if (!add_special) continue;
        const Special& s = specials_.at(p.name);
        out.push_back(special_encoding(s.ids, s.tokens, p.type_id));
      } else {
        size_t i = p.name == "A" ? 0 : 1;
        if (i >= encodings.size()) continue;
        Encoding e = --uses[i] == 0 ? std::move(encodings[i]) : encodings[i];
        set_type_ids(e, p.type_id);
        set_sequence_id(e, static_cast<uint32_t>(i));
        out.push_back(std::move(e));
      }
    }
    encodings = std::move(out);
  }

 private:
  struct Special {
    std::vector<int64_t> ids;
    std::vector<std::string> tokens;
  };
  struct Piece {
    bool is_special;
    std::string name;  // "A" / "B" or the special token key
    int64_t type_id;
  };
  std::vector<Piece> parse_template(const Json& list, const std::string& where) const {
    TCPP_CHECK(list.is_array(), ConfigError, where, ": a template must be an array of pieces");
    std::vector<Piece> out;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string at = where + "[" + std::to_string(i) + "]";
      const Json& item = list[i];
      if (item.contains("SpecialToken")) {
        const Json& s = item["SpecialToken"];
        Piece p{true, json_get<std::string>(s, "id", at), json_get_or<int64_t>(s, "type_id", 0, at)};
        TCPP_CHECK(specials_.count(p.name), ConfigError, at, ": special token '", p.name,
                   "' is missing from special_tokens");
        out.push_back(std::move(p));
      } else if (item.contains("Sequence")) {
        const Json& s = item["Sequence"];
        Piece p{false, json_get<std::string>(s, "id", at), json_get_or<int64_t>(s, "type_id", 0, at)};
        TCPP_CHECK(p.name == "A" || p.name == "B", ConfigError, at, ": sequence id must be A or B");
        out.push_back(std::move(p));
      } else {
        throw ConfigError(at + ": expected a SpecialToken or Sequence piece");
      }
    }
    return out;
  }
  std::map<std::string, Special> specials_;
  std::vector<Piece> single_, pair_;
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> items)
      : items_(std::move(items)) {}
  size_t added_tokens(bool is_pair) const override {
    size_t n = 0;
    for (const auto& p : items_) n += p->added_tokens(is_pair);
    return n;
  }
  void process_encodings(std::vector<Encoding>& encodings, bool add_special) const override {
    for (const auto& p : items_) p->process_encodings(encodings, add_special);
  }
  bool windows_keep_sequence_type_ids() const override {
    for (const auto& p : items_)
      if (!p->windows_keep_sequence_type_ids()) return false;
    return true;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> items_;
};

}  // namespace

void trim_byte_level_offsets(Encoding& e, bool add_prefix_space) {
  const char32_t space = byte_to_char(' ');
  auto is_space = [&](char32_t c) { return c == space || is_whitespace(c); };
  for (size_t i = 0; i < e.ids.size(); ++i) {
    std::u32string chars = decode_utf8(e.tokens[i]);
    size_t leading = 0, trailing = 0;
    while (leading < chars.size() && is_space(chars[leading])) ++leading;
    while (trailing < chars.size() && is_space(chars[chars.size() - 1 - trailing])) ++trailing;
    auto& [start, end] = e.offsets[i];
    if (leading > 0) {
      bool is_first = i == 0 || start == 0;
      if (is_first && add_prefix_space && leading == 1) leading = 0;
      start = std::min(start + leading, end);
    }
    if (trailing > 0 && end >= trailing) end = std::max(end - trailing, start);
  }
}

Encoding merge_encodings(std::vector<Encoding>& parts) {
  Encoding out;
  for (auto& p : parts) {
    auto append = [](auto& dst, auto& src) { dst.insert(dst.end(), src.begin(), src.end()); };
    append(out.ids, p.ids);
    append(out.type_ids, p.type_ids);
    append(out.tokens, p.tokens);
    append(out.offsets, p.offsets);
    append(out.special_tokens_mask, p.special_tokens_mask);
    append(out.attention_mask, p.attention_mask);
    append(out.word_ids, p.word_ids);
    append(out.sequence_ids, p.sequence_ids);
  }
  return out;
}

Encoding post_process(const PostProcessor* processor, Encoding first, std::optional<Encoding> second,
                      bool add_special_tokens) {
  std::vector<Encoding> parts;
  parts.push_back(std::move(first));
  if (second) parts.push_back(std::move(*second));
  if (!processor) {
    if (parts.size() == 1) return std::move(parts[0]);
    for (size_t i = 0; i < parts.size(); ++i) set_sequence_id(parts[i], static_cast<uint32_t>(i));
    return merge_encodings(parts);
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    set_sequence_id(parts[i], static_cast<uint32_t>(i));
    set_type_ids(parts[i], static_cast<int64_t>(i));
  }
  processor->process_encodings(parts, add_special_tokens);
  if (parts.size() == 1) return std::move(parts[0]);
  return merge_encodings(parts);
}

std::unique_ptr<PostProcessor> make_post_processor(const Json& json, const std::string& where) {
  if (json.is_null()) return nullptr;
  TCPP_CHECK(json.is_object(), ConfigError, where, ": expected an object");
  auto type = json_get<std::string>(json, "type", where);
  std::string at = where + " (" + type + ")";
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelProcessor>(json_get_or(json, "add_prefix_space", true, at),
                                                json_get_or(json, "trim_offsets", true, at));
  if (type == "BertProcessing") return std::make_unique<BertProcessor>(json, at);
  if (type == "RobertaProcessing") return std::make_unique<RobertaProcessor>(json, at);
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessor>(json, at);
  if (type == "Sequence") {
    const Json& list = json_member(json, "processors", at);
    TCPP_CHECK(list.is_array(), ConfigError, at, ": 'processors' must be an array");
    std::vector<std::unique_ptr<PostProcessor>> items;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_post_processor(list[i], at + ".processors[" + std::to_string(i) + "]");
      if (p) items.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessor>(std::move(items));
  }
  throw ConfigError(detail::concat(where, ": unknown post-processor type '", type, "'"));
}

}  // namespace transformers::tokenization
