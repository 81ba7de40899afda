// Where a tensor's bytes live. Only the CPU exists today; ops dispatch on this at the ops/
// boundary so that a CUDA backend can slot in beside ops/cpu without changes above ops/.
#pragma once

#include <cstdint>

namespace transformers {

enum class Device : uint8_t { CPU };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "?"; }

}  // namespace transformers
