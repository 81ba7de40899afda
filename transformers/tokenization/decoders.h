// Decoders of tokenizer.json ("decoder"): turn the token strings of some ids back into text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::tokenization {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the list of token strings (the Rust decode_chain).
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  std::string decode(std::vector<std::string> tokens) const;
};

std::unique_ptr<Decoder> make_decoder(const Json& json, const std::string& where);

// Python's clean_up_tokenization (also the WordPiece decoder's cleanup).
std::string clean_up_tokenization(std::string text);

}  // namespace transformers::tokenization
