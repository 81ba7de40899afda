#include "transformers/tokenization/regex.h"

#include <mutex>

#include <oniguruma.h>

#include "transformers/core/error.h"

namespace transformers::tokenization {

void initialize_oniguruma() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
    onig_initialize(encodings, 1);
  });
}

namespace {

// One match region and match parameter set per thread: searches on a shared Regex are then
// thread safe.
struct SearchState {
  OnigRegion* region = onig_region_new();
  OnigMatchParam* param = onig_new_match_param();
  SearchState() {
    onig_initialize_match_param(param);
    onig_set_retry_limit_in_match_of_match_param(param, Regex::kRetryLimitInMatch);
    onig_set_retry_limit_in_search_of_match_param(param, Regex::kRetryLimitInSearch);
  }
  ~SearchState() {
    onig_free_match_param(param);
    onig_region_free(region, 1);
  }
};

SearchState& thread_search_state() {
  thread_local SearchState state;
  return state;
}

}  // namespace

// The calling thread's match region, shared with the chat filters' patterns.
void* oniguruma_thread_region() { return thread_search_state().region; }

namespace {

std::vector<PatternSplit> covering_splits(std::string_view text,
                                          const std::vector<ByteRange>& matches) {
  std::vector<PatternSplit> out;
  if (text.empty()) {
    out.push_back({0, 0, false});
    return out;
  }
  out.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (auto [s, e] : matches) {
    if (prev != s) out.push_back({prev, s, false});
    out.push_back({s, e, true});
    prev = e;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

}  // namespace

Regex::Regex(std::string_view pattern, const std::string& where) : pattern_(pattern), where_(where) {
  initialize_oniguruma();
  OnigRegex regex = nullptr;
  OnigErrorInfo info;
  auto begin = reinterpret_cast<const OnigUChar*>(pattern_.data());
  int rc = onig_new(&regex, begin, begin + pattern_.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                    ONIG_SYNTAX_DEFAULT, &info);
  if (rc != ONIG_NORMAL) {
    OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(message, rc, &info);
    throw FormatError(detail::concat(where, ": invalid regex '", pattern_, "': ",
                                     reinterpret_cast<const char*>(message)));
  }
  regex_ = regex;
  scanner_ = make_pattern_scanner(pattern_);
}

Regex::~Regex() {
  if (regex_) onig_free(static_cast<OnigRegex>(regex_));
}

void Regex::find_all(std::string_view text, std::vector<ByteRange>& out) const {
  if (scanner_) {
    scanner_->find_all(text, out);
    return;
  }
  find_all_oniguruma(text, out);
}

void Regex::find_all_oniguruma(std::string_view text, std::vector<ByteRange>& out) const {
  auto regex = static_cast<OnigRegex>(regex_);
  SearchState& state = thread_search_state();
  OnigRegion* region = state.region;
  auto str = reinterpret_cast<const OnigUChar*>(text.data());
  auto end = str + text.size();
  size_t last_end = 0;
  bool have_last_match = false;
  size_t last_match_end = 0;
  while (last_end <= text.size()) {
    int r = onig_search_with_param(regex, str, end, str + last_end, end, region,
                                   ONIG_OPTION_NONE, state.param);
    if (r == ONIG_MISMATCH) break;
    if (r < 0) {
      // Stopping here would silently leave the rest of the text unsplit.
      OnigUChar message[ONIG_MAX_ERROR_MESSAGE_LEN];
      onig_error_code_to_str(message, r);
      throw ValueError(detail::concat(where_, ": regex '", pattern_, "' failed on a ",
                                      text.size(), "-byte text at byte ", last_end, ": ",
                                      reinterpret_cast<const char*>(message),
                                      " (Oniguruma retry limits: ", kRetryLimitInMatch,
                                      " per match, ", kRetryLimitInSearch, " per search)"));
    }
    size_t s = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last_match && last_match_end == e) {
      // An empty match right after the previous one: step over one char and search again.
      last_end += last_end < text.size()
                      ? utf8_sequence_length(static_cast<unsigned char>(text[last_end]))
                      : 1;
      continue;
    }
    out.emplace_back(s, e);
    last_end = e;
    have_last_match = true;
    last_match_end = e;
  }
}

std::vector<PatternSplit> Regex::find_matches(std::string_view text) const {
  std::vector<ByteRange> matches;
  if (!text.empty()) find_all(text, matches);
  return covering_splits(text, matches);
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\.+*?()|[]{}^$#&-~ \t\n").find(c) != std::string_view::npos) {
      if (c == '\t') { out += "\\t"; continue; }
      if (c == '\n') { out += "\\n"; continue; }
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::vector<PatternSplit> find_literal_matches(std::string_view text, std::string_view literal) {
  std::vector<ByteRange> matches;
  if (!literal.empty()) {
    for (size_t pos = text.find(literal); pos != std::string_view::npos;
         pos = text.find(literal, pos + literal.size()))
      matches.emplace_back(pos, pos + literal.size());
  }
  return covering_splits(text, matches);
}

}  // namespace transformers::tokenization
