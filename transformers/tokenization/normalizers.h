// Normalizers of tokenizer.json ("normalizer": {"type": ...}). Each one edits a NormalizedString in
// place, keeping its alignments with the original input.
#pragma once

#include <memory>
#include <string>

#include "transformers/io/json.h"
#include "transformers/tokenization/normalized_string.h"

namespace transformers::tokenization {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

// Builds a normalizer from its JSON object; `where` names the file and field for errors
// (ConfigError on unknown types or bad fields, FormatError on bad regexes / charsmaps).
std::unique_ptr<Normalizer> make_normalizer(const Json& json, const std::string& where);

// Normalizes a standalone string (used for added tokens with normalized=true).
std::string normalize_text(const Normalizer* normalizer, std::string text);

}  // namespace transformers::tokenization
