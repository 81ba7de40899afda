#include "transformers/serving/output_parser.h"

#include <algorithm>

#include "transformers/io/json.h"

namespace transformers::serving {

namespace {
constexpr std::string_view kThinkOpen = "<think>", kThinkClose = "</think>";
constexpr std::string_view kToolOpen = "<tool_call>", kToolClose = "</tool_call>";

// The length of the longest suffix of `text` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n)
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

// {"name": "...", "arguments": {...}} -> a tool call; false when the block is something else.
bool parse_tool_call(std::string_view block, ToolCall& call) {
  Json j;
  try {
    j = parse_json(block, "tool call");
  } catch (const std::exception&) {
    return false;
  }
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
  call.name = j["name"].get<std::string>();
  const Json args = j.contains("arguments") ? j["arguments"] : (j.contains("parameters") ? j["parameters"] : Json::object());
  call.arguments = args.is_string() ? args.get<std::string>() : args.dump();
  return true;
}
}  // namespace

bool prompt_opens_reasoning(std::string_view prompt) {
  const size_t open = prompt.rfind(kThinkOpen);
  return open != std::string_view::npos && prompt.find(kThinkClose, open) == std::string_view::npos;
}

OutputParser::OutputParser(bool in_reasoning, bool tools)
    : mode_(in_reasoning ? Mode::Reasoning : Mode::Content), tools_(tools) {}

void OutputParser::emit(ParsedText& out, std::string_view text) {
  if (strip_leading_) {
    const size_t start = text.find_first_not_of("\r\n");
    if (start == std::string_view::npos) return;
    text.remove_prefix(start);
    strip_leading_ = false;
  }
  (mode_ == Mode::Reasoning ? out.reasoning : out.content) += text;
}

void OutputParser::drain(ParsedText& out, bool at_end) {
  while (!pending_.empty()) {
    if (mode_ == Mode::ToolCall) {
      const size_t close = pending_.find(kToolClose);
      if (close == std::string::npos) {
        if (!at_end) return;
        mode_ = Mode::Content;  // never closed: what the model wrote is text
        emit(out, std::string(kToolOpen) + pending_);
        pending_.clear();
        return;
      }
      ToolCall call;
      const std::string block = pending_.substr(0, close);
      if (parse_tool_call(block, call)) out.tool_calls.push_back(std::move(call));
      else out.content += std::string(kToolOpen) + block + std::string(kToolClose);
      pending_.erase(0, close + kToolClose.size());
      mode_ = Mode::Content;
      strip_leading_ = true;
      continue;
    }
    // The tags that change the mode from here.
    std::vector<std::string_view> tags;
    if (mode_ == Mode::Reasoning) tags = {kThinkClose};
    else {
      tags = {kThinkOpen};
      if (tools_) tags.push_back(kToolOpen);
    }
    size_t first = std::string::npos;
    std::string_view found;
    for (auto tag : tags) {
      const size_t at = pending_.find(tag);
      if (at < first) {
        first = at;
        found = tag;
      }
    }
    if (first == std::string::npos) {
      size_t hold = 0;
      if (!at_end)
        for (auto tag : tags) hold = std::max(hold, partial_tag_suffix(pending_, tag));
      emit(out, std::string_view(pending_).substr(0, pending_.size() - hold));
      pending_.erase(0, pending_.size() - hold);
      return;
    }
    emit(out, std::string_view(pending_).substr(0, first));
    pending_.erase(0, first + found.size());
    if (found == kThinkOpen) mode_ = Mode::Reasoning;
    else if (found == kToolOpen) mode_ = Mode::ToolCall;
    else mode_ = Mode::Content;
    strip_leading_ = true;  // templates put a newline after each tag
  }
}

ParsedText OutputParser::feed(std::string_view text) {
  pending_ += text;
  ParsedText out;
  drain(out, false);
  return out;
}

ParsedText OutputParser::finish() {
  ParsedText out;
  drain(out, true);
  return out;
}

}  // namespace transformers::serving
