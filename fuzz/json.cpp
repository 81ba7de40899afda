// libFuzzer target: the JSON reader every model-folder file goes through (config.json,
// generation_config.json, index files, tokenizer_config.json, conversations): bounded depth
// checked before nlohmann parses, and what is accepted survives a dump / parse round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "transformers/io/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    transformers::Json j = transformers::parse_json(text, "fuzz");
    transformers::Json again = transformers::parse_json(j.dump(), "fuzz round trip");
    // NaN cannot appear (JSON has none) so equality must hold for anything accepted.
    if (again != j) std::abort();
  } catch (const transformers::Error&) {
  }
  return 0;
}
