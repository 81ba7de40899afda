// Tokenizer: loading a checkpoint folder, ids <-> tokens, decoding, special tokens and templates.
// Batch encoding with padding and truncation lives in batch_encoding.cpp.
#include "transformers/tokenization/tokenizer.h"

#include "transformers/core/error.h"
#include "transformers/hub/hub_cache.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/backend.h"
#include "transformers/tokenization/decoders.h"
#include "transformers/tokenization/gguf_vocab.h"
#include "transformers/tokenization/sentencepiece_backend.h"
#include "transformers/tokenization/tokenizer_config.h"
#include "transformers/tokenization/tokenizer_json.h"

namespace transformers {

namespace fs = std::filesystem;
using tokenization::TokenizerBackend;

struct Tokenizer::Config : tokenization::TokenizerConfig {};

std::vector<int64_t> tokenization::TokenizerBackend::encode_ids(std::string_view text,
                                                                bool add_special_tokens) const {
  return encode(text, add_special_tokens).ids;
}

Tokenizer::Tokenizer(std::shared_ptr<const TokenizerBackend> backend,
                     std::shared_ptr<const Config> config)
    : backend_(std::move(backend)), config_(std::move(config)) {}

namespace {

std::shared_ptr<const TokenizerBackend> load_tokenizer_json(const fs::path& file) {
  return tokenization::TokenizerJson::from_file(file);
}

std::optional<fs::path> find_sentencepiece_model(const fs::path& folder) {
  if (fs::exists(folder / "tokenizer.model")) return folder / "tokenizer.model";
  for (const auto& entry : fs::directory_iterator(folder)) {
    auto name = entry.path().filename().string();
    if (name.find(".model") != std::string::npos && name.rfind("tokenizer", 0) == 0)
      return entry.path();
  }
  return std::nullopt;
}

// BERT-style checkpoints often list no special tokens in tokenizer_config.json: Transformers
// takes them from the tokenizer class defaults ([CLS], [SEP], [PAD], [MASK], [UNK]). Do the same
// when those tokens exist as special added tokens.
void fill_wordpiece_defaults(const TokenizerBackend& backend, SpecialTokens& special) {
  const std::pair<std::optional<std::string>*, const char*> defaults[] = {
      {&special.unk_token, "[UNK]"}, {&special.sep_token, "[SEP]"}, {&special.pad_token, "[PAD]"},
      {&special.cls_token, "[CLS]"}, {&special.mask_token, "[MASK]"}};
  for (auto [slot, name] : defaults) {
    auto id = backend.token_to_id(name);
    if (!*slot && id && backend.is_special_id(*id)) *slot = name;
  }
}

}  // namespace

Tokenizer Tokenizer::from_pretrained(const fs::path& name) {
  const fs::path path = hub::resolve_pretrained_path(name);
  TCPP_CHECK(fs::exists(path), IoError, path.string(), ": no such file or folder");
  fs::path folder = fs::is_directory(path) ? path : path.parent_path();
  auto config = std::make_shared<Config>();
  std::shared_ptr<const TokenizerBackend> backend;
  bool is_file = !fs::is_directory(path);
  if (is_file && GgufFile::has_magic(path)) {  // a GGUF model carries its tokenizer and settings
    auto converted = tokenization::gguf_tokenizer(*GgufFile::open(path));
    static_cast<tokenization::TokenizerConfig&>(*config) = std::move(converted.config);
    backend = tokenization::TokenizerJson::from_string(converted.tokenizer_json, path.string());
    return Tokenizer(std::move(backend), std::move(config));
  }
  static_cast<tokenization::TokenizerConfig&>(*config) = tokenization::load_tokenizer_config(folder);
  if (is_file && path.filename().string().find(".model") != std::string::npos) {
    backend = tokenization::make_sentencepiece_backend(path, config->add_bos_token.value_or(true),
                                                       config->add_eos_token.value_or(false));
  } else if (is_file) {
    backend = load_tokenizer_json(path);
  } else if (fs::exists(folder / "tokenizer.json")) {
    backend = load_tokenizer_json(folder / "tokenizer.json");
  } else if (auto model = find_sentencepiece_model(folder)) {
    backend = tokenization::make_sentencepiece_backend(*model, config->add_bos_token.value_or(true),
                                                       config->add_eos_token.value_or(false));
  } else {
    throw IoError(path.string() + ": no tokenizer.json or sentencepiece tokenizer.model found");
  }
  fill_wordpiece_defaults(*backend, config->special);
  return Tokenizer(std::move(backend), std::move(config));
}

Tokenizer Tokenizer::from_json_string(std::string_view tokenizer_json, const std::string& what) {
  return Tokenizer(tokenization::TokenizerJson::from_string(tokenizer_json, what),
                   std::make_shared<Config>());
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return backend_->encode_ids(text, add_special_tokens);
}

Encoding Tokenizer::encode_full(std::string_view text, bool add_special_tokens) const {
  return backend_->encode(text, add_special_tokens);
}

Encoding Tokenizer::encode_full(std::string_view text, std::string_view pair,
                                bool add_special_tokens) const {
  return backend_->post_process(backend_->encode_sequence(text, 0),
                                backend_->encode_sequence(pair, 1), add_special_tokens);
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text) const {
  return backend_->encode_sequence(text, 0).tokens;
}

std::string Tokenizer::decode(std::span<const int64_t> ids, const DecodeOptions& options) const {
  std::string text = backend_->decode(ids, options.skip_special_tokens);
  if (options.clean_up_tokenization_spaces.value_or(config_->clean_up_tokenization_spaces))
    text = tokenization::clean_up_tokenization(std::move(text));
  return text;
}

std::vector<std::string> Tokenizer::batch_decode(const std::vector<std::vector<int64_t>>& batch,
                                                 const DecodeOptions& options) const {
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (const auto& ids : batch) out.push_back(decode(ids, options));
  return out;
}

std::optional<int64_t> Tokenizer::convert_token_to_id(std::string_view token) const {
  return backend_->token_to_id(token);
}

std::optional<std::string> Tokenizer::convert_id_to_token(int64_t id) const {
  return backend_->id_to_token(id);
}

std::vector<std::optional<int64_t>> Tokenizer::convert_tokens_to_ids(
    const std::vector<std::string>& tokens) const {
  std::vector<std::optional<int64_t>> out;
  for (const auto& t : tokens) out.push_back(convert_token_to_id(t));
  return out;
}

std::vector<std::optional<std::string>> Tokenizer::convert_ids_to_tokens(
    std::span<const int64_t> ids) const {
  std::vector<std::optional<std::string>> out;
  for (int64_t id : ids) out.push_back(convert_id_to_token(id));
  return out;
}

size_t Tokenizer::size() const { return backend_->vocab_size_with_added(); }
bool Tokenizer::is_special_token(int64_t id) const { return backend_->is_special_id(id); }
const SpecialTokens& Tokenizer::special_tokens() const { return config_->special; }

namespace {
std::optional<int64_t> id_of(const Tokenizer& t, const std::optional<std::string>& token) {
  if (!token) return std::nullopt;
  return t.convert_token_to_id(*token);
}
}  // namespace

std::optional<int64_t> Tokenizer::bos_token_id() const { return id_of(*this, bos_token()); }
std::optional<int64_t> Tokenizer::eos_token_id() const { return id_of(*this, eos_token()); }
std::optional<int64_t> Tokenizer::unk_token_id() const { return id_of(*this, unk_token()); }
std::optional<int64_t> Tokenizer::sep_token_id() const { return id_of(*this, sep_token()); }
std::optional<int64_t> Tokenizer::pad_token_id() const { return id_of(*this, pad_token()); }
std::optional<int64_t> Tokenizer::cls_token_id() const { return id_of(*this, cls_token()); }
std::optional<int64_t> Tokenizer::mask_token_id() const { return id_of(*this, mask_token()); }

std::vector<std::string> Tokenizer::all_special_tokens() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  const SpecialTokens& s = config_->special;
  for (const auto* t : {&s.bos_token, &s.eos_token, &s.unk_token, &s.sep_token, &s.pad_token,
                        &s.cls_token, &s.mask_token})
    if (*t) add(**t);
  for (const auto& t : s.additional_special_tokens) add(t);
  for (const auto& [name, t] : s.extra_special_tokens) add(t);
  for (const auto& t : backend_->special_token_contents()) add(t);
  return out;
}

std::optional<std::string> Tokenizer::chat_template(std::optional<std::string_view> name) const {
  const auto& templates = config_->chat_templates;
  if (name) {
    auto it = templates.find(std::string(*name));
    if (it == templates.end()) return std::nullopt;
    return it->second;
  }
  if (auto it = templates.find("default"); it != templates.end()) return it->second;
  if (templates.size() == 1) return templates.begin()->second;
  return std::nullopt;
}

const std::map<std::string, std::string>& Tokenizer::chat_templates() const {
  return config_->chat_templates;
}

const std::map<std::string, std::string>& Tokenizer::chat_template_files() const {
  return config_->chat_template_files;
}

size_t Tokenizer::model_max_length() const { return config_->model_max_length; }
Side Tokenizer::padding_side() const { return config_->padding_side; }
const std::vector<std::string>& Tokenizer::model_input_names() const { return config_->model_input_names; }
Side Tokenizer::truncation_side() const { return config_->truncation_side; }
bool Tokenizer::clean_up_tokenization_spaces() const {
  return config_->clean_up_tokenization_spaces;
}
const std::string& Tokenizer::tokenizer_config_json() const { return config_->config_json; }

IncrementalDecoder Tokenizer::incremental_decoder(const DecodeOptions& options) const {
  return IncrementalDecoder(*this, options);
}

namespace {
bool ends_with_replacement(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

// The Rust DecodeStream: decode a window of ids, emit what extends the previous text, and hold
// back while the text ends in U+FFFD (an incomplete UTF-8 char or byte-fallback run).
std::string IncrementalDecoder::step(int64_t id) {
  DecodeOptions opts{.skip_special_tokens = options_.skip_special_tokens,
                     .clean_up_tokenization_spaces = false};
  if (prefix_.empty() && !ids_.empty()) {
    std::string p = tokenizer_.decode(ids_, opts);
    if (!ends_with_replacement(p)) {
      prefix_ = std::move(p);
      prefix_index_ = ids_.size();
    }
  }
  ids_.push_back(id);
  std::string text = tokenizer_.decode(ids_, opts);
  if (text.size() <= prefix_.size() || ends_with_replacement(text)) return {};
  if (text.compare(0, prefix_.size(), prefix_) != 0) {
    // The decoder rewrote earlier text (it cannot happen with the Rust decoders): restart.
    ids_.assign(1, id);
    prefix_.clear();
    prefix_index_ = 0;
    return text;
  }
  std::string piece = text.substr(prefix_.size());
  size_t new_prefix_index = ids_.size() - prefix_index_;
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_index_));
  prefix_ = tokenizer_.decode(ids_, opts);
  prefix_index_ = new_prefix_index;
  return piece;
}

std::string IncrementalDecoder::flush() {
  DecodeOptions opts{.skip_special_tokens = options_.skip_special_tokens,
                     .clean_up_tokenization_spaces = false};
  std::string text = tokenizer_.decode(ids_, opts);
  std::string rest = text.size() > prefix_.size() ? text.substr(prefix_.size()) : std::string();
  ids_.clear();
  prefix_.clear();
  prefix_index_ = 0;
  return rest;
}

}  // namespace transformers
