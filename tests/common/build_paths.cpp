// The checkout-dependent paths behind build_paths.h (TCPP_*_DIR_VALUE come from CMake).
#include "common/build_paths.h"

namespace transformers::testing {

const std::string& source_dir_path() {
  static const std::string path = TCPP_SOURCE_DIR_VALUE;
  return path;
}

const std::string& binary_dir_path() {
  static const std::string path = TCPP_BINARY_DIR_VALUE;
  return path;
}

const std::string& shared_dir_path() {
  static const std::string path = TCPP_SHARED_DIR_VALUE;
  return path;
}

}  // namespace transformers::testing
