// GPT-2's byte-level alphabet: every byte maps to a printable code point (bytes_to_unicode), so
// that any UTF-8 input becomes a string over 256 symbols. Used by the ByteLevel pre-tokenizer,
// normalizer, decoder and post-processor.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "transformers/tokenization/normalized_string.h"

namespace transformers::tokenization {

// The code point that byte b maps to.
char32_t byte_to_char(unsigned char b);
// The UTF-8 encoding of byte_to_char(b) (1 or 2 bytes).
std::string_view byte_to_utf8(unsigned char b);
// The byte a code point stands for, or nullopt when it is not in the alphabet.
std::optional<unsigned char> char_to_byte(char32_t c);

// Rewrites every byte of the normalized string as its byte-level char (first byte of a char
// replaces it, the others are insertions), as the ByteLevel pre-tokenizer does.
void byte_level_transform(NormalizedString& s);

// The default pre-tokenization regex of GPT-2.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace transformers::tokenization
