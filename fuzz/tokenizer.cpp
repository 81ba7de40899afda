// libFuzzer target: tokenizer.json loading (both JSON readers) and encoding / decoding with what
// loads. Input: tokenizer.json text, optionally followed by a NUL byte and a text to encode.
// Bad files must fail with transformers::Error; anything else (crash, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transformers/core/error.h"
#include "transformers/tokenization/tokenizer.h"
#include "transformers/tokenization/tokenizer_json.h"

namespace {

void exercise(const transformers::tokenization::TokenizerJson& tok, std::string_view text) {
  auto enc = tok.encode(text, true);
  auto ids = tok.encode_ids(text, false);
  (void)tok.decode(enc.ids, false);
  (void)tok.decode(ids, true);
  auto pair = tok.post_process(tok.encode_sequence(text, 0), tok.encode_sequence(text, 1), true);
  (void)pair;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string_view json = input.substr(0, nul);
  std::string_view text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  using transformers::tokenization::TokenizerJson;
  try {
    auto tok = TokenizerJson::from_string(json, "fuzz.json");
    exercise(*tok, text);
  } catch (const transformers::Error&) {
  }
  try {
    auto tok = TokenizerJson::from_text_fast(json, "fuzz.json");
    exercise(*tok, text);
  } catch (const transformers::Error&) {
  }
  return 0;
}
