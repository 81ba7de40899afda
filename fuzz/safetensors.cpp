// libFuzzer target: the safetensors header parser, then reading every tensor it accepts.
#include <cstddef>
#include <cstdint>

#include "transformers/core/error.h"
#include "transformers/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto header = transformers::parse_safetensors_header(data, size, "fuzz");
    // Every accepted entry must lie inside the buffer: touch its first and last byte.
    volatile uint8_t sink = 0;
    for (const auto& e : header.entries) {
      if (e.end > e.begin) {
        sink ^= data[header.data_start + e.begin];
        sink ^= data[header.data_start + e.end - 1];
      }
    }
    (void)sink;
  } catch (const transformers::Error&) {
  }
  return 0;
}
