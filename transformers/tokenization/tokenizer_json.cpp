#include "transformers/tokenization/tokenizer_json.h"

#include <unordered_map>

#include "transformers/tokenization/json_access.h"
#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

// Byte offsets in the input -> code point offsets, with the Rust BytesToCharOffsetConverter's
// rules: an end inside a char maps to that char's index; an end at the input's end maps past the
// last char; a start past the end leaves the byte offsets as they are.
class CharOffsetConverter {
 public:
  explicit CharOffsetConverter(std::string_view text) : size_(text.size()) {
    for (unsigned char c : text)
      if (c >= 0x80) {
        ascii_ = false;
        break;
      }
    if (ascii_) return;
    char_of_byte_.resize(text.size());
    uint32_t index = 0;
    for (size_t i = 0; i < text.size();) {
      size_t n = std::min(utf8_sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
      for (size_t k = 0; k < n; ++k) char_of_byte_[i + k] = index;
      i += n;
      ++index;
    }
  }
  Offsets convert(size_t start, size_t end) const {
    if (ascii_) return {start, end};
    if (start >= size_) return {start, end};
    size_t s = char_of_byte_[start];
    if (end < size_) return {s, char_of_byte_[end]};
    size_t last = end >= 1 && end - 1 < size_ ? char_of_byte_[end - 1] : s;
    return {s, last + 1};
  }

 private:
  size_t size_;
  bool ascii_ = true;
  std::vector<uint32_t> char_of_byte_;
};

// The added tokens with the ids the Rust library gives them: it re-adds the file's list through
// add_tokens, so a content in the model's vocabulary (or added before) keeps that id and a new
// one takes the next free id after the model's vocabulary, whatever "id" the file says.
std::vector<AddedToken> parse_added_tokens(const Json& json, const Model& model,
                                           const std::string& where) {
  std::vector<AddedToken> out;
  auto list = json.find("added_tokens");
  if (list == json.end() || list->is_null()) return out;
  TCPP_CHECK(list->is_array(), ConfigError, where, ": 'added_tokens' must be an array");
  uint32_t next_id = static_cast<uint32_t>(model.vocab_size());
  std::unordered_map<std::string, uint32_t> added_ids;
  auto same = [](const AddedToken& a, const AddedToken& b) {
    return a.content == b.content && a.single_word == b.single_word && a.lstrip == b.lstrip &&
           a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special;
  };
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& t = (*list)[i];
    std::string at = where + ": added_tokens[" + std::to_string(i) + "]";
    TCPP_CHECK(t.is_object(), ConfigError, at, ": expected an object");
    AddedToken token;
    token.content = json_get<std::string>(t, "content", at);
    json_get<uint32_t>(t, "id", at);  // required by the format, but reassigned as above
    token.single_word = json_get_or(t, "single_word", false, at);
    token.lstrip = json_get_or(t, "lstrip", false, at);
    token.rstrip = json_get_or(t, "rstrip", false, at);
    token.special = json_get_or(t, "special", false, at);
    token.normalized = json_get_or(t, "normalized", !token.special, at);
    if (token.content.empty()) continue;
    bool duplicate = false;
    for (const auto& o : out) duplicate |= same(o, token);
    if (duplicate) continue;
    if (auto it = added_ids.find(token.content); it != added_ids.end()) {
      token.id = it->second;
    } else if (auto id = model.token_to_id(token.content)) {
      token.id = *id;
    } else {
      token.id = next_id++;
    }
    added_ids[token.content] = token.id;
    out.push_back(std::move(token));
  }
  return out;
}

}  // namespace

TokenizerJson::TokenizerJson(const Json& json, const ModelBulk& bulk, const std::string& where) {
  TCPP_CHECK(json.is_object(), FormatError, where, ": the top level must be a JSON object");
  normalizer_ = make_normalizer(json_member_or_null(json, "normalizer"), where + ": normalizer");
  pre_tokenizer_ =
      make_pre_tokenizer(json_member_or_null(json, "pre_tokenizer"), where + ": pre_tokenizer");
  auto model = json.find("model");
  TCPP_CHECK(model != json.end(), ConfigError, where, ": missing key 'model'");
  model_ = make_model(*model, bulk, where + ": model");
  post_processor_ =
      make_post_processor(json_member_or_null(json, "post_processor"), where + ": post_processor");
  decoder_ = make_decoder(json_member_or_null(json, "decoder"), where + ": decoder");
  added_.build(parse_added_tokens(json, *model_, where), normalizer_.get());
  fast_ = FastByteLevelPath::detect(json, *model_, added_);
}

namespace {
// A wrong JSON type deep inside a component surfaces as a nlohmann exception: report it as the
// file's ConfigError.
template <typename Fn>
auto with_json_errors(const std::string& where, Fn fn) {
  try {
    return fn();
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(detail::concat(where, ": unexpected value in the tokenizer file (", e.what(), ")"));
  }
}
}  // namespace

std::unique_ptr<TokenizerJson> TokenizerJson::from_file(const std::filesystem::path& path) {
  std::string text = read_text_file(path);
  return from_text_fast(text, path.string());
}

std::unique_ptr<TokenizerJson> TokenizerJson::from_text_fast(std::string_view text,
                                                             const std::string& where) {
  return with_json_errors(where, [&] {
    ParsedTokenizerJson parsed = parse_tokenizer_json(text, where);
    return std::make_unique<TokenizerJson>(parsed.config, parsed.bulk, where);
  });
}

std::unique_ptr<TokenizerJson> TokenizerJson::from_string(std::string_view text,
                                                          const std::string& where) {
  Json json;
  try {
    json = parse_json(text, where);
  } catch (const nlohmann::json::exception& e) {  // e.g. a number out of range
    throw FormatError(detail::concat(where, ": invalid JSON (", e.what(), ")"));
  }
  TCPP_CHECK(json.is_object(), FormatError, where, ": the top level must be a JSON object");
  return with_json_errors(where, [&] {
    ModelBulk bulk;
    if (auto model = json.find("model"); model != json.end())
      bulk = bulk_from_json(*model, where + ": model");
    return std::make_unique<TokenizerJson>(json, bulk, where);
  });
}

PreTokenizedString TokenizerJson::run_pipeline(std::string_view text) const {
  PreTokenizedString pts = added_.extract_and_normalize(text, normalizer_.get());
  if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pts);
  for (auto& split : pts.splits()) {
    if (split.tokenized) continue;
    model_->tokenize(split.normalized.get(), split.tokens);
    split.tokenized = true;
  }
  return pts;
}

std::optional<std::string_view> TokenizerJson::token_string(uint32_t id) const {
  if (const AddedToken* t = added_.by_id(id)) return std::string_view(t->content);
  return model_->id_to_token(id);
}

Encoding TokenizerJson::encode_sequence(std::string_view raw, int64_t type_id) const {
  std::string repaired;  // only for invalid UTF-8 (lossy replacement)
  std::string_view text = raw;
  if (!is_valid_utf8(raw)) text = repaired = to_valid_utf8(raw);
  Encoding e;
  if (fast_ && fast_enabled_ && fast_->encode(text, /*full=*/true, e)) {
    size_t n = e.ids.size();
    e.type_ids.assign(n, type_id);
    e.special_tokens_mask.assign(n, 0);
    e.attention_mask.assign(n, 1);
    e.sequence_ids.assign(n, 0);
    return e;
  }
  e = Encoding();
  CharOffsetConverter converter(text);
  PreTokenizedString pts = run_pipeline(text);
  size_t n = 0;
  for (const auto& split : pts.splits()) n += split.tokens.size();
  e.ids.reserve(n);
  e.tokens.reserve(n);
  e.offsets.reserve(n);
  uint32_t word = 0;
  for (const auto& split : pts.splits()) {
    size_t shift = split.normalized.offsets_original().first;
    for (const Token& t : split.tokens) {
      size_t start = t.start, end = t.end;
      if (auto r = split.normalized.normalized_to_original(t.start, t.end)) {
        start = shift + r->first;
        end = shift + r->second;
      }
      e.ids.push_back(t.id);
      e.offsets.push_back(converter.convert(start, end));
      if (t.value_from_text) {
        e.tokens.push_back(split.normalized.get().substr(t.start, t.end - t.start));
      } else {
        e.tokens.emplace_back(model_->id_to_token(t.id).value_or(std::string_view()));
      }
      e.word_ids.push_back(word);
    }
    ++word;
  }
  e.type_ids.assign(e.ids.size(), type_id);
  e.special_tokens_mask.assign(e.ids.size(), 0);
  e.attention_mask.assign(e.ids.size(), 1);
  e.sequence_ids.assign(e.ids.size(), 0);
  return e;
}

Encoding TokenizerJson::post_process(Encoding first, std::optional<Encoding> second,
                                     bool add_special_tokens) const {
  return tokenization::post_process(post_processor_.get(), std::move(first), std::move(second),
                                    add_special_tokens);
}

Encoding TokenizerJson::post_process_window(Encoding first, std::optional<Encoding> second,
                                            bool add_special_tokens, const bool is_window[2]) const {
  Encoding e = post_process(std::move(first), std::move(second), add_special_tokens);
  if (post_processor_ && post_processor_->windows_keep_sequence_type_ids())
    for (size_t i = 0; i < e.size(); ++i)
      if (e.sequence_ids[i] && *e.sequence_ids[i] < 2 && is_window[*e.sequence_ids[i]])
        e.type_ids[i] = *e.sequence_ids[i];
  return e;
}

std::vector<int64_t> TokenizerJson::encode_ids(std::string_view raw, bool add_special_tokens) const {
  std::string repaired;  // only for invalid UTF-8 (lossy replacement)
  std::string_view text = raw;
  if (!is_valid_utf8(raw)) text = repaired = to_valid_utf8(raw);
  Encoding e;
  if (!(fast_ && fast_enabled_ && fast_->encode(text, /*full=*/false, e))) {
    e = Encoding();
    PreTokenizedString pts = run_pipeline(text);
    for (const auto& split : pts.splits())
      for (const Token& t : split.tokens) e.ids.push_back(t.id);
  }
  if (!add_special_tokens || !post_processor_) return std::move(e.ids);
  size_t n = e.ids.size();
  e.tokens.resize(n);
  e.offsets.resize(n);
  e.type_ids.assign(n, 0);
  e.special_tokens_mask.assign(n, 0);
  e.attention_mask.assign(n, 1);
  e.word_ids.assign(n, std::nullopt);
  e.sequence_ids.assign(n, 0);
  return std::move(post_process(std::move(e), std::nullopt, true).ids);
}

size_t TokenizerJson::num_special_tokens_to_add(bool is_pair) const {
  return post_processor_ ? post_processor_->added_tokens(is_pair) : 0;
}

std::string TokenizerJson::decode(std::span<const int64_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id > UINT32_MAX) continue;
    auto s = token_string(static_cast<uint32_t>(id));
    if (!s) continue;
    if (skip_special_tokens && added_.is_special_content(*s)) continue;
    tokens.emplace_back(*s);
  }
  if (decoder_) return decoder_->decode(std::move(tokens));
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

std::optional<int64_t> TokenizerJson::token_to_id(std::string_view token) const {
  if (auto id = added_.token_to_id(token)) return *id;
  if (auto id = model_->token_to_id(token)) return *id;
  return std::nullopt;
}

std::optional<std::string> TokenizerJson::id_to_token(int64_t id) const {
  if (id < 0 || id > UINT32_MAX) return std::nullopt;
  auto s = token_string(static_cast<uint32_t>(id));
  if (!s) return std::nullopt;
  return std::string(*s);
}

size_t TokenizerJson::vocab_size_with_added() const {
  size_t n = model_->vocab_size();
  for (const auto& t : added_.tokens())
    if (!model_->token_to_id(t.content)) ++n;
  return n;
}

bool TokenizerJson::is_special_id(int64_t id) const {
  if (id < 0 || id > UINT32_MAX) return false;
  const AddedToken* t = added_.by_id(static_cast<uint32_t>(id));
  return t && t->special;
}

std::vector<std::string> TokenizerJson::special_token_contents() const {
  std::vector<std::string> out;
  for (const auto& t : added_.tokens())
    if (t.special) out.push_back(t.content);
  return out;
}

}  // namespace transformers::tokenization
