// An error answered to an HTTP client in OpenAI's shape:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}} with an HTTP status.
// Handlers throw it; the server turns it (and transformers::Error from the library: 400,
// CapacityError: 429) into the response. Nothing a client sends may become a 500.
#pragma once

#include <string>

#include "transformers/core/error.h"
#include "transformers/io/json.h"

namespace transformers::serving {

class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {},
           std::string code = {})
      : Error(message), status_(status), type_(std::move(type)), param_(std::move(param)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_, param_, code_;
};

// 400 naming the request field at fault.
inline ApiError bad_field(const std::string& field, const std::string& message) {
  return ApiError(400, field + ": " + message, "invalid_request_error", field, "invalid_value");
}

// The error body; param and code are null when empty, as OpenAI sends them.
inline Json error_body(const std::string& message, const std::string& type, const std::string& param,
                       const std::string& code) {
  Json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return Json{{"error", e}};
}

}  // namespace transformers::serving
