// Splits generated text as it streams into content, reasoning (between <think> and </think>)
// and tool calls (Qwen / Hermes: <tool_call>{"name": ..., "arguments": {...}}</tool_call>), the
// template families of ../shared. Text that may be the start of a tag is held back until the
// next piece decides; a tool call is reported whole once its closing tag arrives (as v5 does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace transformers::serving {

struct ToolCall {
  std::string name;
  std::string arguments;  // JSON text
};

struct ParsedText {
  std::string content, reasoning;
  std::vector<ToolCall> tool_calls;
  bool empty() const { return content.empty() && reasoning.empty() && tool_calls.empty(); }
  void append(ParsedText more) {
    content += more.content;
    reasoning += more.reasoning;
    tool_calls.insert(tool_calls.end(), more.tool_calls.begin(), more.tool_calls.end());
  }
};

class OutputParser {
 public:
  // `in_reasoning`: the prompt already opened a <think> block (the template added it).
  // `tools`: the request offered tools, so <tool_call> blocks are parsed.
  OutputParser(bool in_reasoning, bool tools);
  ParsedText feed(std::string_view text);
  ParsedText finish();  // whatever is held back; an unclosed tool call stays text

 private:
  enum class Mode { Content, Reasoning, ToolCall };
  void drain(ParsedText& out, bool at_end);
  void emit(ParsedText& out, std::string_view text);

  Mode mode_;
  bool tools_;
  bool strip_leading_ = false;  // the newlines that follow </think> and </tool_call>
  std::string pending_;
};

// Whether a rendered prompt ends inside an open <think> block (the model then starts reasoning).
bool prompt_opens_reasoning(std::string_view prompt);

}  // namespace transformers::serving
