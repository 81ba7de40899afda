// A conversation rendered with the model's chat template (transformers/chat), as v5's serve does:
// messages (text content parts joined), tools passed to the template, chat_template_kwargs over
// the server's defaults, add_generation_prompt.
#pragma once

#include <string>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/serving/endpoints.h"

namespace transformers::serving {

struct ChatPrompt {
  std::vector<int64_t> ids;
  std::string text;
  bool opens_reasoning = false;  // the template left a <think> block open
  bool has_tools = false;
};

// `messages` and `tools` keep the order of the client's JSON (templates print tool schemas).
// `field` names the messages in errors ("messages", "input").
ChatPrompt render_chat(const ServedModel& model, OrderedJson messages, const OrderedJson* tools, const Json& body,
                       const ServerState& state, const std::string& field);

// Content parts ([{"type": "text"|"input_text"|"output_text", "text": ...}]) joined into one string.
std::string text_of_parts(const OrderedJson& content, const std::string& field);

}  // namespace transformers::serving
