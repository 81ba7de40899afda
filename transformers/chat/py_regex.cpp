#include "transformers/chat/py_regex.h"

#include <oniguruma.h>

#include <string>

#include "transformers/core/error.h"
#include "transformers/tokenization/regex.h"

namespace transformers::jinja {

namespace {

OnigRegion* thread_region() { return static_cast<OnigRegion*>(tokenization::oniguruma_thread_region()); }

}  // namespace

PyRegex::PyRegex(std::string_view pattern, bool ignore_case) {
  tokenization::initialize_oniguruma();
  OnigRegex regex = nullptr;
  OnigErrorInfo info;
  const auto* begin = reinterpret_cast<const OnigUChar*>(pattern.data());
  int rc = onig_new(&regex, begin, begin + pattern.size(),
                    ignore_case ? ONIG_OPTION_IGNORECASE : ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                    ONIG_SYNTAX_ONIGURUMA, &info);
  if (rc != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(message, rc, &info);
    throw FormatError("chat filter pattern: " + std::string(reinterpret_cast<char*>(message)));
  }
  regex_ = regex;
}

PyRegex::~PyRegex() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

std::optional<std::pair<size_t, size_t>> PyRegex::search(std::string_view text, size_t from) const {
  const auto* str = reinterpret_cast<const OnigUChar*>(text.data());
  const OnigUChar* end = str + text.size();
  OnigRegion* region = thread_region();
  int r = onig_search(static_cast<OnigRegex>(regex_), str, end, str + from, end, region,
                      ONIG_OPTION_NONE);
  if (r < 0) return std::nullopt;
  return std::make_pair(static_cast<size_t>(region->beg[0]), static_cast<size_t>(region->end[0]));
}

bool PyRegex::matches_at(std::string_view text, size_t at) const {
  const auto* str = reinterpret_cast<const OnigUChar*>(text.data());
  int r = onig_match(static_cast<OnigRegex>(regex_), str, str + text.size(), str + at,
                     thread_region(), ONIG_OPTION_NONE);
  return r >= 0;
}

}  // namespace transformers::jinja
