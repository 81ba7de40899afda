// Where a tensor's bytes live. Only the CPU is implemented; the other names exist so that code
// asking for them gets an error naming the device (not a silent CPU tensor), and so that a CUDA
// backend can slot in beside ops/cpu without changes above ops/. Ops dispatch on this at the
// ops/ boundary.
#pragma once

#include <cstdint>
#include <string>

namespace transformers {

enum class Device : uint8_t { CPU, CUDA };

inline const char* device_name(Device d) {
  switch (d) {
    case Device::CPU: return "cpu";
    case Device::CUDA: return "cuda";
  }
  return "?";
}

// "cpu", "cuda" (torch's spellings); anything else is a ValueError naming it.
Device device_from_name(const std::string& name);

// Throws NotImplementedError naming `d` unless this build can hold tensors there (the CPU only).
void require_available(Device d, const char* what);

}  // namespace transformers
