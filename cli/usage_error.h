// An error in how a command was called that CLI11 cannot see (flags that exclude each other, a
// malformed key=value word): main() prints it, like CLI11's own, with the command's usage hint on
// the same `error:` line. Errors in the data (a model folder, a file) are plain library errors.
#pragma once

#include "transformers/core/error.h"

namespace transformers::cli {

class UsageError : public ValueError {
 public:
  using ValueError::ValueError;
};

}  // namespace transformers::cli
