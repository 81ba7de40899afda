// Where the tests find the source tree, their build tree and ../shared. The paths live in one
// small translation unit (build_paths.cpp, the only test object that depends on where the checkout
// sits), so that every other test object compiles the same in any checkout and ccache reuses it in
// a fresh clone (CI) instead of recompiling every test. Included into each test file by the build
// (-include), so TCPP_SOURCE_DIR & co. read as std::string expressions everywhere.
#pragma once

#include <string>

namespace transformers::testing {

const std::string& source_dir_path();
const std::string& binary_dir_path();
const std::string& shared_dir_path();

}  // namespace transformers::testing

#define TCPP_SOURCE_DIR (::transformers::testing::source_dir_path())
#define TCPP_BINARY_DIR (::transformers::testing::binary_dir_path())
#define TCPP_SHARED_DIR (::transformers::testing::shared_dir_path())
