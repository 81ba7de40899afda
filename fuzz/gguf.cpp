// libFuzzer target: the GGUF header parser (metadata, tensor descriptions, offsets), then a
// touch of the first and last byte of every tensor it accepts.
#include <cstddef>
#include <cstdint>

#include "transformers/core/error.h"
#include "transformers/io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = transformers::parse_gguf_header(data, size, "fuzz");
    volatile uint8_t sink = 0;
    for (const auto& t : header.tensors) {
      if (t.nbytes > 0) {
        sink ^= data[header.data_start + t.offset];
        sink ^= data[header.data_start + t.offset + t.nbytes - 1];
      }
    }
    (void)sink;
  } catch (const transformers::Error&) {
  }
  return 0;
}
