#include "transformers/core/device.h"

#include "transformers/core/error.h"

namespace transformers {

Device device_from_name(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  throw ValueError(detail::concat("unknown device '", name, "' (known: cpu, cuda)"));
}

void require_available(Device d, const char* what) {
  TCPP_CHECK(d == Device::CPU, NotImplementedError, what, ": device '", device_name(d),
             "' is not supported by this build (only cpu)");
}

}  // namespace transformers
