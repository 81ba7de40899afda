// What a Tokenizer runs: the tokenizer.json pipeline or the sentencepiece fallback. Backends
// produce encodings without truncation or padding; the Tokenizer front end adds those.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/tokenization/tokenizer.h"

namespace transformers::tokenization {

class TokenizerBackend {
 public:
  virtual ~TokenizerBackend() = default;

  // One sequence through the pipeline, without special tokens (the Rust encode_single_sequence,
  // with offsets in code points). `type_id` is 0 for a first sequence, 1 for a pair's second.
  virtual Encoding encode_sequence(std::string_view text, int64_t type_id) const = 0;
  // Adds special tokens / sets type ids (the Rust post_process, truncation and padding aside).
  virtual Encoding post_process(Encoding first, std::optional<Encoding> second,
                                bool add_special_tokens) const = 0;
  // post_process for a combination involving overflow windows cut off by truncation
  // (`is_window[i]`: part i is a window). The Rust library merges windows without re-applying the
  // template's type ids to them: their tokens keep their sequence's own type id (0 / 1).
  virtual Encoding post_process_window(Encoding first, std::optional<Encoding> second,
                                       bool add_special_tokens, const bool is_window[2]) const {
    (void)is_window;
    return post_process(std::move(first), std::move(second), add_special_tokens);
  }
  // Just the ids of one text: may skip building token strings and offsets.
  virtual std::vector<int64_t> encode_ids(std::string_view text, bool add_special_tokens) const;
  virtual size_t num_special_tokens_to_add(bool is_pair) const = 0;

  // The Rust Tokenizer::decode (no clean_up_tokenization_spaces).
  virtual std::string decode(std::span<const int64_t> ids, bool skip_special_tokens) const = 0;

  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int64_t id) const = 0;
  virtual size_t vocab_size_with_added() const = 0;
  virtual bool is_special_id(int64_t id) const = 0;
  // Contents of the added tokens marked special.
  virtual std::vector<std::string> special_token_contents() const = 0;

  Encoding encode(std::string_view text, bool add_special_tokens) const {
    return post_process(encode_sequence(text, 0), std::nullopt, add_special_tokens);
  }
};

}  // namespace transformers::tokenization
