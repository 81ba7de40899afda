// A small blocking HTTP(S) client over libcurl, for the Hub downloads and for `transformers chat`'s
// streamed answers: only http and https (also after redirects), identity encoding (the bytes the
// etag describes), bounded in-memory bodies, and a bearer token that curl sends to the first host
// only (never to a redirect's other host) and that no message or log ever contains.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "transformers/core/error.h"

namespace transformers::hub {

// The transfer itself failed (connection refused or cut, timeout, a body shorter than announced):
// worth a retry, resuming where it stopped.
class HttpTransferError : public IoError {
 public:
  using IoError::IoError;
};

struct HttpRequest {
  std::string url;
  std::string bearer_token;  // empty: no Authorization header
  bool head = false;
  // Set: a POST of these bytes with this Content-Type.
  std::optional<std::string> post_body{};
  std::string content_type = "application/json";
  std::string accept{};  // an Accept header when not empty
  // A transfer slower than 1 byte/s for this long ends (a stalled server); 0: never.
  long low_speed_seconds = 60;
  bool follow_redirects = false;
  uint64_t range_start = 0;  // > 0: "Range: bytes=<range_start>-"
  // Where the body goes, given the response's status and headers so far; returning false aborts
  // the transfer. Unset: into HttpResponse::body, at most max_body_bytes (more is a FormatError
  // naming the URL).
  std::function<bool(const struct HttpResponse& response, const char* data, size_t n)> on_body{};
  uint64_t max_body_bytes = uint64_t{64} << 20;
  // Bytes of the body received so far and its announced length (0 when unknown); called about
  // once a second even while nothing arrives, so an exception thrown here ends a waiting transfer
  // (it is rethrown by http_request).
  std::function<void(uint64_t received, uint64_t total)> on_progress{};
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers{};  // of the last response; names in lower case
  std::string body{};
  std::string redirect_url{};  // an unfollowed redirect's absolute target
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Performs the request. Throws HttpTransferError when the transfer fails (with curl's reason and
// the URL, never the token), ValueError for a token with characters a header cannot carry.
// Any HTTP status is returned, not thrown.
HttpResponse http_request(const HttpRequest& request);

// Percent-encodes a path component or a path ('/' kept when keep_slash).
std::string url_encode(const std::string& text, bool keep_slash);

}  // namespace transformers::hub
