// The server's parts as units: the output parser (reasoning and tool calls of the Qwen / Hermes
// templates, split at every byte as a stream would), the request field checks, the key check.
#include <gtest/gtest.h>

#include "transformers/serving/api_error.h"
#include "transformers/serving/output_parser.h"
#include "transformers/serving/request_fields.h"
#include "transformers/serving/server.h"

namespace transformers::serving {
namespace {

// Feeds `text` one byte at a time (the worst split a stream can make) and joins the results.
ParsedText parse_bytewise(const std::string& text, bool in_reasoning, bool tools) {
  OutputParser p(in_reasoning, tools);
  ParsedText all;
  for (char c : text) all.append(p.feed(std::string(1, c)));
  all.append(p.finish());
  return all;
}

TEST(ServeOutputParser, ReasoningAndContentSplitAtAnyByte) {
  const std::string text = "<think>\nLet me add: 2+2=4.\n</think>\n\nThe answer is 4.";
  for (bool bytewise : {false, true}) {
    ParsedText r;
    if (bytewise) r = parse_bytewise(text, false, false);
    else {
      OutputParser p(false, false);
      r = p.feed(text);
      r.append(p.finish());
    }
    EXPECT_EQ(r.reasoning, "Let me add: 2+2=4.\n");
    EXPECT_EQ(r.content, "The answer is 4.");
    EXPECT_TRUE(r.tool_calls.empty());
  }
}

TEST(ServeOutputParser, PromptThatOpenedThinkStartsInReasoning) {
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  ParsedText r = parse_bytewise("thinking\n</think>\n\nanswer", true, false);
  EXPECT_EQ(r.reasoning, "thinking\n");
  EXPECT_EQ(r.content, "answer");
}

TEST(ServeOutputParser, HermesToolCallsParsedWhole) {
  const std::string text =
      "I will look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>";
  ParsedText r = parse_bytewise(text, false, true);
  EXPECT_EQ(r.content, "I will look.\n");
  ASSERT_EQ(r.tool_calls.size(), 2u);
  EXPECT_EQ(r.tool_calls[0].name, "get_weather");
  EXPECT_EQ(Json::parse(r.tool_calls[0].arguments), Json::parse(R"({"city": "Paris", "days": 2})"));
  EXPECT_EQ(r.tool_calls[1].name, "now");
  EXPECT_EQ(r.tool_calls[1].arguments, "{}");
  // Without tools in the request the same text is content, unchanged.
  EXPECT_EQ(parse_bytewise(text, false, false).content, text);
}

TEST(ServeOutputParser, BrokenOrUnclosedToolCallStaysText) {
  EXPECT_EQ(parse_bytewise("<tool_call>{not json}</tool_call>", false, true).content, "<tool_call>{not json}</tool_call>");
  EXPECT_EQ(parse_bytewise("a <tool_call>{\"name\": \"f\"", false, true).content, "a <tool_call>{\"name\": \"f\"");
  // A held-back partial tag that never completes comes out at the end.
  EXPECT_EQ(parse_bytewise("x <tool_ca", false, true).content, "x <tool_ca");
  EXPECT_EQ(parse_bytewise("x <thi", false, false).content, "x <thi");
}

TEST(ServeRequestFields, WrongTypesNameTheField) {
  const Json body = Json::parse(R"({"temperature": "hot", "max_tokens": 1.5, "stream": 1, "stop": [1], "seed": -3,
                                   "top_p": 7, "big": 18446744073709551615})");
  auto status_and_message = [](auto f) -> std::pair<int, std::string> {
    try {
      f();
    } catch (const ApiError& e) {
      return {e.status(), e.what()};
    }
    return {0, ""};
  };
  auto [s1, m1] = status_and_message([&] { get_number(body, "temperature", 0, 2); });
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(m1, "temperature: expected a number, got a string");
  EXPECT_EQ(status_and_message([&] { get_integer(body, "max_tokens", 1, 100); }).second, "max_tokens: expected an integer, got a number");
  EXPECT_EQ(status_and_message([&] { get_bool(body, "stream"); }).second, "stream: expected a boolean, got a number");
  EXPECT_EQ(status_and_message([&] { get_string_or_strings(body, "stop", 4); }).second, "stop: expected an array of strings, got a number");
  EXPECT_EQ(status_and_message([&] { get_number(body, "top_p", 0, 1); }).second, "top_p: must be from 0 to 1, got 7");
  EXPECT_EQ(status_and_message([&] { get_integer(body, "big", 0, 1000); }).first, 400);
  EXPECT_EQ(get_integer(body, "seed", -10, 10).value(), -3);
  EXPECT_FALSE(get_number(body, "absent", 0, 1).has_value());
  EXPECT_EQ(status_and_message([] { parse_request_body("{\"a\": "); }).first, 400);
  EXPECT_EQ(status_and_message([] { parse_request_body(std::string(100, '[') + std::string(100, ']')); }).first, 400);
  EXPECT_EQ(status_and_message([] { parse_request_body("\"text\""); }).second, "the request body must be a JSON object, got a string");
}

TEST(ServeApiKey, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("sk-abc", "sk-abc"));
  EXPECT_FALSE(constant_time_equal("sk-abc", "sk-abd"));
  EXPECT_FALSE(constant_time_equal("sk-abc", "sk-ab"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace transformers::serving
