// The device switch of the op API: every op in ops/*.cpp, once its inputs are checked and its
// output allocated, runs its backend through on_device. The switch is exhaustive over Device (no
// default), so a new device is a -Wswitch warning here; a CUDA backend turns its case into a call
// of the op's ops/cuda implementation (on_device then takes one callable per backend).
#pragma once

#include <utility>

#include "transformers/core/device.h"
#include "transformers/core/error.h"

namespace transformers::ops {

// Calls cpu() when `device` is the CPU; NotImplementedError naming `op` and the device otherwise.
template <typename Cpu>
decltype(auto) on_device(const char* op, Device device, Cpu&& cpu) {
  switch (device) {
    case Device::CPU:
      return std::forward<Cpu>(cpu)();
    case Device::CUDA:
      break;
  }
  throw NotImplementedError(transformers::detail::concat(
      op, ": no ", device_name(device), " implementation in this build (only cpu)"));
}

}  // namespace transformers::ops
