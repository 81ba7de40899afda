// The bridge from a Tokenizer to what generation takes (a TokenDecoder), header-only so that the
// generation layer itself does not link the tokenization library.
#pragma once

#include "transformers/generation/stopping_criteria.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {

// Decodes with `tokenizer` (kept alive by the returned function: Tokenizer shares its state).
inline TokenDecoder token_decoder(const Tokenizer& tokenizer, const DecodeOptions& options = {}) {
  return [tokenizer, options](std::span<const int64_t> ids) { return tokenizer.decode(ids, options); };
}

}  // namespace transformers
