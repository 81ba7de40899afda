// The message of the transformers::Error a call throws ("" when it throws none), for tests that
// check several parts of one message.
#pragma once

#include <functional>
#include <string>

#include "transformers/core/error.h"

namespace transformers::training::testing {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace transformers::training::testing
