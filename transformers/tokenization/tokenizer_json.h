// The tokenizer.json pipeline: added tokens -> normalizer -> pre-tokenizer -> model ->
// post-processor, and decoder for the way back; bit-exact with the Rust `tokenizers` library.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "transformers/io/json.h"
#include "transformers/tokenization/added_tokens.h"
#include "transformers/tokenization/backend.h"
#include "transformers/tokenization/decoders.h"
#include "transformers/tokenization/fast_byte_level.h"
#include "transformers/tokenization/model_bulk.h"
#include "transformers/tokenization/models.h"
#include "transformers/tokenization/normalizers.h"
#include "transformers/tokenization/post_processors.h"
#include "transformers/tokenization/pre_tokenizers.h"

namespace transformers::tokenization {

class TokenizerJson final : public TokenizerBackend {
 public:
  // `json` is the parsed file, `bulk` its model's vocab and merges (model_bulk.h); `where` names
  // the source (a file path) in error messages.
  TokenizerJson(const Json& json, const ModelBulk& bulk, const std::string& where);
  // Loads a tokenizer.json file / text (simdjson for the file, nlohmann for the text).
  static std::unique_ptr<TokenizerJson> from_file(const std::filesystem::path& path);
  static std::unique_ptr<TokenizerJson> from_string(std::string_view text, const std::string& where);
  // The file loader's path (simdjson) on text in memory.
  static std::unique_ptr<TokenizerJson> from_text_fast(std::string_view text,
                                                       const std::string& where);

  Encoding encode_sequence(std::string_view text, int64_t type_id) const override;
  Encoding post_process(Encoding first, std::optional<Encoding> second,
                        bool add_special_tokens) const override;
  Encoding post_process_window(Encoding first, std::optional<Encoding> second,
                               bool add_special_tokens, const bool is_window[2]) const override;
  std::vector<int64_t> encode_ids(std::string_view text, bool add_special_tokens) const override;
  size_t num_special_tokens_to_add(bool is_pair) const override;
  std::string decode(std::span<const int64_t> ids, bool skip_special_tokens) const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::optional<std::string> id_to_token(int64_t id) const override;
  size_t vocab_size_with_added() const override;
  bool is_special_id(int64_t id) const override;
  std::vector<std::string> special_token_contents() const override;

  // Whether encoding may take the byte-level fast path (tests compare both paths).
  bool has_fast_path() const { return fast_ != nullptr; }
  void set_fast_path_enabled(bool enabled) { fast_enabled_ = enabled; }

 private:
  // Added tokens, normalization, pre-tokenization and the model: the splits with their tokens.
  PreTokenizedString run_pipeline(std::string_view text) const;
  std::optional<std::string_view> token_string(uint32_t id) const;

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;
  std::unique_ptr<FastByteLevelPath> fast_;
  bool fast_enabled_ = true;
};

}  // namespace transformers::tokenization
