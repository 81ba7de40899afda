// The public tokenizer API, shaped like Transformers v5's Python one:
//
//   auto tok = transformers::AutoTokenizer::from_pretrained("path/to/checkpoint");
//   BatchEncoding enc = tok({"Hello world", "Bonjour"}, {.padding = Padding::kLongest});
//   std::vector<int64_t> ids = tok.encode("Hello", /*add_special_tokens=*/false);
//   std::string text = tok.decode(ids, {.skip_special_tokens = true});
//
// A folder with tokenizer.json runs the Hugging Face `tokenizers` pipeline (bit-exact with the Rust
// library); a folder with only a sentencepiece tokenizer.model runs libsentencepiece. Special tokens,
// model_max_length, padding_side and chat templates come from tokenizer_config.json (and
// chat_template.jinja), as in Transformers.
//
// A Tokenizer is immutable after loading: copies share the loaded state and every method is safe to
// call from several threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace transformers {

namespace tokenization {
class TokenizerBackend;  // the pipeline behind a Tokenizer (tokenizer.json or sentencepiece)
}

// Padding strategy (Python: padding=False / True or "longest" / "max_length").
enum class Padding { kNone, kLongest, kMaxLength };
// Truncation strategy (Python: truncation=False / True or "longest_first" / "only_first" /
// "only_second").
enum class Truncation { kNone, kLongestFirst, kOnlyFirst, kOnlySecond };
enum class Side { kRight, kLeft };

struct EncodeOptions {
  bool add_special_tokens = true;
  Padding padding = Padding::kNone;
  Truncation truncation = Truncation::kNone;
  // Target length for kMaxLength padding and for truncation; unset means model_max_length.
  std::optional<size_t> max_length = {};
  // With truncation and return_overflowing_tokens: tokens shared between consecutive windows.
  size_t stride = 0;
  std::optional<size_t> pad_to_multiple_of = {};
  std::optional<Side> padding_side = {};     // unset: the tokenizer's padding_side
  std::optional<Side> truncation_side = {};  // unset: the tokenizer's truncation_side
  bool return_overflowing_tokens = false;
};

struct DecodeOptions {
  bool skip_special_tokens = false;
  // Python's clean_up_tokenization_spaces (" ." -> "." ...); unset: tokenizer_config.json's value.
  std::optional<bool> clean_up_tokenization_spaces = {};
};

using Offsets = std::pair<size_t, size_t>;  // [start, end) in Unicode code points of the input

// One encoded sequence (or pair), with everything the Rust library's Encoding carries.
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;
  std::vector<std::string> tokens;
  std::vector<Offsets> offsets;
  std::vector<int64_t> special_tokens_mask;
  std::vector<int64_t> attention_mask;
  std::vector<std::optional<uint32_t>> word_ids;
  std::vector<std::optional<uint32_t>> sequence_ids;  // 0 / 1 for the parts of a pair, none = special
  std::vector<Encoding> overflowing;                  // windows cut off by truncation
  size_t size() const { return ids.size(); }
};

// The result of tokenizer(texts): one row per input (or per overflow window).
struct BatchEncoding {
  std::vector<std::vector<int64_t>> input_ids;
  std::vector<std::vector<int64_t>> attention_mask;
  std::vector<std::vector<int64_t>> token_type_ids;
  std::vector<std::vector<int64_t>> special_tokens_mask;
  std::vector<std::vector<Offsets>> offset_mapping;
  std::vector<std::vector<std::string>> tokens;
  std::vector<int64_t> overflow_to_sample_mapping;  // filled when return_overflowing_tokens
  // apply_chat_template(return_assistant_tokens_mask): 1 for tokens inside {% generation %}
  // spans, per row (v5 returns it as the BatchEncoding's "assistant_masks").
  std::vector<std::vector<int64_t>> assistant_masks;
  std::vector<Encoding> encodings;                  // the full per-row encodings
  size_t size() const { return input_ids.size(); }
};

// The named special tokens of tokenizer_config.json (strings as they appear in the vocabulary).
struct SpecialTokens {
  std::optional<std::string> bos_token, eos_token, unk_token, sep_token, pad_token, cls_token,
      mask_token;
  std::vector<std::string> additional_special_tokens;
  // v5 extra_special_tokens: name -> token (e.g. "image_token": "<image>").
  std::map<std::string, std::string> extra_special_tokens;
};

class IncrementalDecoder;

class Tokenizer {
 public:
  // Loads a checkpoint folder: tokenizer.json (+ tokenizer_config.json, chat_template.jinja,
  // special_tokens_map.json) or, without tokenizer.json, a sentencepiece tokenizer.model. A path to
  // a tokenizer.json file is accepted too, and so is a Hub name "org/name[@revision]" in the local
  // Hub cache (hub/hub_cache.h).
  static Tokenizer from_pretrained(const std::filesystem::path& path);
  // Loads a tokenizer.json given as text (no config); `what` names it in error messages.
  static Tokenizer from_json_string(std::string_view tokenizer_json, const std::string& what);

  // tokenizer(texts, options): batch encoding with padding / truncation.
  BatchEncoding operator()(const std::vector<std::string>& texts,
                           const EncodeOptions& options = {}) const;
  BatchEncoding operator()(const std::vector<std::pair<std::string, std::string>>& pairs,
                           const EncodeOptions& options = {}) const;
  BatchEncoding operator()(std::string_view text, const EncodeOptions& options = {}) const;
  // tok({"a", "b"}, options): a braced list of texts (resolves the braced-list ambiguity).
  BatchEncoding operator()(std::initializer_list<std::string_view> texts,
                           const EncodeOptions& options = {}) const;

  // The ids of one text (no padding, no truncation).
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // The full encoding of one text or pair, as the Rust library returns it (no padding/truncation).
  Encoding encode_full(std::string_view text, bool add_special_tokens = true) const;
  Encoding encode_full(std::string_view text, std::string_view pair,
                       bool add_special_tokens = true) const;
  // The tokens (vocabulary strings) of one text, without special tokens.
  std::vector<std::string> tokenize(std::string_view text) const;

  std::string decode(std::span<const int64_t> ids, const DecodeOptions& options = {}) const;
  std::vector<std::string> batch_decode(const std::vector<std::vector<int64_t>>& batch,
                                        const DecodeOptions& options = {}) const;

  std::optional<int64_t> convert_token_to_id(std::string_view token) const;
  std::optional<std::string> convert_id_to_token(int64_t id) const;
  std::vector<std::optional<int64_t>> convert_tokens_to_ids(
      const std::vector<std::string>& tokens) const;
  std::vector<std::optional<std::string>> convert_ids_to_tokens(std::span<const int64_t> ids) const;
  // Vocabulary size including added tokens (Python: len(tokenizer)).
  size_t size() const;
  bool is_special_token(int64_t id) const;

  // Special tokens (from tokenizer_config.json / special_tokens_map.json).
  const SpecialTokens& special_tokens() const;
  const std::optional<std::string>& bos_token() const { return special_tokens().bos_token; }
  const std::optional<std::string>& eos_token() const { return special_tokens().eos_token; }
  const std::optional<std::string>& unk_token() const { return special_tokens().unk_token; }
  const std::optional<std::string>& sep_token() const { return special_tokens().sep_token; }
  const std::optional<std::string>& pad_token() const { return special_tokens().pad_token; }
  const std::optional<std::string>& cls_token() const { return special_tokens().cls_token; }
  const std::optional<std::string>& mask_token() const { return special_tokens().mask_token; }
  std::optional<int64_t> bos_token_id() const;
  std::optional<int64_t> eos_token_id() const;
  std::optional<int64_t> unk_token_id() const;
  std::optional<int64_t> sep_token_id() const;
  std::optional<int64_t> pad_token_id() const;
  std::optional<int64_t> cls_token_id() const;
  std::optional<int64_t> mask_token_id() const;
  // Every special token string (named, additional and added tokens marked special).
  std::vector<std::string> all_special_tokens() const;

  // Chat templates: the default one (named "default" or the only one), or by name.
  std::optional<std::string> chat_template(std::optional<std::string_view> name = {}) const;
  const std::map<std::string, std::string>& chat_templates() const;
  // The file each chat template was read from (name -> path), for error messages.
  const std::map<std::string, std::string>& chat_template_files() const;

  size_t model_max_length() const;
  Side padding_side() const;
  Side truncation_side() const;
  // v5's model_input_names: what tokenizer(text) returns ("token_type_ids" only for BERT-like
  // tokenizers), from tokenizer_config.json or its tokenizer_class.
  const std::vector<std::string>& model_input_names() const;
  bool clean_up_tokenization_spaces() const;
  // The raw tokenizer_config.json text ("{}" when there is none), for callers needing other keys.
  const std::string& tokenizer_config_json() const;

  // A streaming decoder: feed ids one at a time, get text pieces that never split a UTF-8
  // character or a byte-fallback run.
  IncrementalDecoder incremental_decoder(const DecodeOptions& options = {}) const;

  const tokenization::TokenizerBackend& backend() const { return *backend_; }

 private:
  struct Config;
  Tokenizer(std::shared_ptr<const tokenization::TokenizerBackend> backend,
            std::shared_ptr<const Config> config);
  Encoding encode_pair_for_batch(std::string_view text, const std::string_view* pair,
                                 const EncodeOptions& options) const;
  BatchEncoding finish_batch(std::vector<Encoding> rows, const EncodeOptions& options) const;

  std::shared_ptr<const tokenization::TokenizerBackend> backend_;
  std::shared_ptr<const Config> config_;
};

using AutoTokenizer = Tokenizer;

class IncrementalDecoder {
 public:
  // Adds one id; returns the text it completes (possibly empty while a character is incomplete).
  std::string step(int64_t id);
  // Text still held back at the end of the stream (incomplete bytes as U+FFFD).
  std::string flush();

 private:
  friend class Tokenizer;
  IncrementalDecoder(const Tokenizer& tokenizer, DecodeOptions options)
      : tokenizer_(tokenizer), options_(options) {}
  Tokenizer tokenizer_;
  DecodeOptions options_;
  std::vector<int64_t> ids_;
  std::string prefix_;
  size_t prefix_index_ = 0;
};

}  // namespace transformers
