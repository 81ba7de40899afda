// libFuzzer target: config.json and generation_config.json parsing. The same JSON object is read
// as both (their keys barely overlap), then validated, written back and read again; the rotary
// tables the config asks for are built, since rope values index and divide there.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transformers/config/generation_config.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/core/error.h"
#include "transformers/nn/rotary.h"

namespace {

void fuzz_pretrained(const transformers::Json& json) {
  using namespace transformers;
  PretrainedConfig c = PretrainedConfig::from_json(json);
  PretrainedConfig again = PretrainedConfig::from_json(c.to_json());
  if (c.head_dim > 0 && c.head_dim <= 4096) {
    nn::RotaryEmbedding rope(again.rope_parameters, c.head_dim, c.max_position_embeddings);
    Tensor positions = Tensor::from_values(std::vector<int64_t>{0, 1, 7}, {1, 3});
    rope.cos_sin(positions);
  }
}

void fuzz_generation(const transformers::Json& json) {
  using namespace transformers;
  GenerationConfig g = GenerationConfig::from_json(json);
  g.validate();
  g.check_token_ids(256);
  GenerationConfig::from_json(g.to_json()).validate();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  transformers::Json json;
  try {
    json = transformers::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const transformers::Error&) {
    return 0;
  }
  try {
    fuzz_pretrained(json);
  } catch (const transformers::Error&) {
  }
  try {
    fuzz_generation(json);
  } catch (const transformers::Error&) {
  }
  return 0;
}
