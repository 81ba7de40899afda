#include "transformers/hub/download/http.h"

#include <curl/curl.h>

#include <cctype>
#include <exception>
#include <memory>
#include <mutex>

namespace transformers::hub {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What curl's callbacks share; an exception inside one is kept and rethrown after the transfer,
// since it must not unwind through C code.
struct Transfer {
  CURL* curl;
  const HttpRequest* request;
  HttpResponse* response;
  std::exception_ptr error;
  bool body_too_large = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after a redirect or a 100 Continue)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon), value = line.substr(colon + 1);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  value.erase(0, value.find_first_not_of(" \t"));
  value.erase(value.find_last_not_of(" \t") + 1);
  t->response->headers[name] = value;
  return n;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  try {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response->status);
    if (t->request->on_body) return t->request->on_body(*t->response, data, n) ? n : 0;
    if (t->response->body.size() + n > t->request->max_body_bytes) {
      t->body_too_large = true;
      return 0;
    }
    t->response->body.append(data, n);
    return n;
  } catch (...) {
    t->error = std::current_exception();
    return 0;
  }
}

int on_progress(void* user, curl_off_t total, curl_off_t received, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  try {
    if (t->request->on_progress)
      t->request->on_progress(static_cast<uint64_t>(received), static_cast<uint64_t>(total));
  } catch (...) {
    t->error = std::current_exception();
    return 1;
  }
  return 0;
}

// A header value must not smuggle another header (CR/LF) or break the line.
void check_token(const std::string& token) {
  for (char c : token)
    TCPP_CHECK(c > ' ' && c < 127, ValueError,
               "the Hub token has characters an HTTP header cannot carry");
}
void check_header_value(const std::string& value, const char* name) {
  for (char c : value)
    TCPP_CHECK(c >= ' ' && c < 127, ValueError, "the ", name, " header has characters a header cannot carry");
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string url_encode(const std::string& text, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpResponse http_request(const HttpRequest& request) {
  global_init();
  if (!request.bearer_token.empty()) check_token(request.bearer_token);
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  TCPP_CHECK(curl, IoError, "libcurl could not start a transfer");
  HttpResponse response;
  CURL* c = curl.get();
  Transfer transfer{c, &request, &response, nullptr};
  curl_slist* raw_headers = nullptr;
  // The etag names the bytes as stored, so no content encoding may change them.
  raw_headers = curl_slist_append(raw_headers, "Accept-Encoding: identity");
  if (!request.bearer_token.empty())
    raw_headers =
        curl_slist_append(raw_headers, ("Authorization: Bearer " + request.bearer_token).c_str());
  if (request.post_body) {
    check_header_value(request.content_type, "Content-Type");
    raw_headers = curl_slist_append(raw_headers, ("Content-Type: " + request.content_type).c_str());
  }
  if (!request.accept.empty()) {
    check_header_value(request.accept, "Accept");
    raw_headers = curl_slist_append(raw_headers, ("Accept: " + request.accept).c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "transformers-cpp/" TCPP_VERSION);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled server (under 1 byte/s for a minute) ends the transfer rather than hanging it.
  if (request.low_speed_seconds > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, request.low_speed_seconds);
  }
  if (request.post_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.post_body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.post_body->size()));
  }
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  if (request.head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  const std::string range = std::to_string(request.range_start) + "-";
  if (request.range_start > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  const CURLcode rc = curl_easy_perform(c);
  if (transfer.error) std::rethrow_exception(transfer.error);
  TCPP_CHECK(!transfer.body_too_large, FormatError, request.url, ": the answer is larger than ",
             request.max_body_bytes, " bytes");
  if (rc == CURLE_WRITE_ERROR && request.on_body)
    throw IoError(request.url + ": the download was stopped");
  if (rc != CURLE_OK)
    throw HttpTransferError(detail::concat(request.url, ": ", curl_easy_strerror(rc)));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  char* redirect = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
    response.redirect_url = redirect;
  return response;
}

}  // namespace transformers::hub
