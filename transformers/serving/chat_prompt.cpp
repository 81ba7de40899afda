#include "transformers/serving/chat_prompt.h"

#include "transformers/chat/apply_chat_template.h"
#include "transformers/serving/api_error.h"
#include "transformers/serving/output_parser.h"
#include "transformers/serving/request_fields.h"

namespace transformers::serving {

std::string text_of_parts(const OrderedJson& content, const std::string& field) {
  std::string text;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      throw bad_field(field, "content parts must be objects with a \"type\"");
    const std::string type = part["type"].get<std::string>();
    if (type != "text" && type != "input_text" && type != "output_text")
      throw bad_field(field, "content part type '" + type + "' is not supported by this text model");
    if (!part.contains("text") || !part["text"].is_string()) throw bad_field(field, "a text part needs a string \"text\"");
    text += part["text"].get<std::string>();
  }
  return text;
}

ChatPrompt render_chat(const ServedModel& model, OrderedJson messages, const OrderedJson* tools, const Json& body,
                       const ServerState& state, const std::string& field) {
  if (!messages.is_array() || messages.empty()) throw bad_field(field, "expected a non-empty array of messages");
  for (auto& m : messages) {
    if (!m.is_object()) throw bad_field(field, "each message must be an object");
    if (!m.contains("role") || !m["role"].is_string()) throw bad_field(field, "each message needs a string \"role\"");
    if (m.contains("content") && m["content"].is_array()) m["content"] = text_of_parts(m["content"], field);
    else if (m.contains("content") && !m["content"].is_string() && !m["content"].is_null())
      throw bad_field(field, "message content must be a string or an array of content parts");
  }
  ApplyChatTemplateOptions o;
  o.add_generation_prompt = true;
  o.extra = OrderedJson::parse(state.chat_template_kwargs.dump());
  if (auto kwargs = get_object(body, "chat_template_kwargs"))
    for (const auto& [k, v] : kwargs->items()) o.extra[k] = OrderedJson::parse(v.dump());
  ChatPrompt p;
  if (tools && !tools->is_null()) {
    if (!tools->is_array()) throw bad_field("tools", "expected an array");
    const auto choice = body.find("tool_choice");
    const bool none = choice != body.end() && choice->is_string() && *choice == "none";
    if (!tools->empty() && !none) {
      o.tools = *tools;
      p.has_tools = true;
    }
  }
  ChatEncoding enc;
  try {
    enc = apply_chat_template(*model.tokenizer, messages, o);
  } catch (const Error& e) {
    throw bad_field(field, std::string("the chat template refused the conversation: ") + e.what());
  }
  p.text = enc.text.at(0);
  p.ids = enc.encoding.input_ids.at(0);
  if (p.ids.empty()) throw bad_field(field, "the rendered conversation has no tokens");
  p.opens_reasoning = prompt_opens_reasoning(p.text);
  return p;
}

}  // namespace transformers::serving
