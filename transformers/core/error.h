// Error types of transformers-cpp. Every failure caused by outside input (a file, a config key,
// a request) is reported as an exception derived from transformers::Error whose message names
// the file, key or field at fault, so that the CLI can print one line and the server a 400.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace transformers {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file could not be opened, mapped or read.
class IoError : public Error {
 public:
  using Error::Error;
};

// Outside bytes are malformed: a safetensors header, JSON, a tokenizer file, a template.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A configuration is missing a key, has a wrong type or an unsupported value.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Shapes or dtypes of tensors do not agree (between config and weights, or between op inputs).
class ShapeError : public Error {
 public:
  using Error::Error;
};

// An argument is out of its domain (bad CLI value, bad option combination).
class ValueError : public Error {
 public:
  using Error::Error;
};

// A feature that exists in Transformers but is not (yet) implemented here.
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace transformers

// TCPP_CHECK(cond, ErrorType, parts...) throws ErrorType(concat(parts...)) when cond is false.
#define TCPP_CHECK(cond, ErrorType, ...)                                   \
  do {                                                                      \
    if (!(cond)) throw ErrorType(::transformers::detail::concat(__VA_ARGS__)); \
  } while (0)
