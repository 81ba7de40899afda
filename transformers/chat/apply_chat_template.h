// apply_chat_template with Transformers v5 semantics on a loaded Tokenizer:
//
//   auto tok = AutoTokenizer::from_pretrained("path");
//   auto enc = apply_chat_template(tok, messages, {.add_generation_prompt = true});
//   enc.encoding.input_ids[0];          // tokenize=true (the default): a BatchEncoding
//   auto txt = apply_chat_template(tok, messages, {.tokenize = false}).text[0];
//
// `conversation` is one conversation (a list of messages) or a batch (a list of lists); rows of
// the result follow the batch (one row for a single conversation). The template is picked as v5
// does: options.chat_template (a name or a template string), else "tool_use" when tools are
// given, else the default. Special tokens set on the tokenizer are template variables.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "transformers/chat/chat_template.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers {

struct ApplyChatTemplateOptions {
  std::optional<OrderedJson> tools;
  std::optional<OrderedJson> documents;
  std::optional<std::string> chat_template;
  bool add_generation_prompt = false;
  bool continue_final_message = false;
  std::string continue_final_message_field = "content";
  bool tokenize = true;
  Padding padding = Padding::kNone;
  Truncation truncation = Truncation::kNone;
  std::optional<size_t> max_length;
  bool return_assistant_tokens_mask = false;
  OrderedJson extra = OrderedJson::object();  // extra template kwargs (enable_thinking, ...)
  std::optional<std::tm> now;
  jinja::RenderLimits limits;
};

struct ChatEncoding {
  bool batched = false;            // the conversation argument was a batch
  std::vector<std::string> text;   // the rendered prompt of each row
  // tokenize=true: input_ids, attention_mask, offsets, ..., and assistant_masks when asked.
  BatchEncoding encoding;
};

// The chat templates and special tokens a tokenizer carries, ready to render.
ChatTemplates chat_templates_of(const Tokenizer& tokenizer);

ChatEncoding apply_chat_template(const Tokenizer& tokenizer, const OrderedJson& conversation,
                                 const ApplyChatTemplateOptions& options = {});

// The same with explicit templates (no tokenizer): tokenize must be false.
ChatEncoding apply_chat_template(const ChatTemplates& templates, const OrderedJson& conversation,
                                 const ApplyChatTemplateOptions& options);

// HF's assistant mask: for each generation span [start, end) in code points, the tokens from
// char_to_token(start) to char_to_token(end - 1) are 1.
std::vector<int64_t> assistant_mask(const Encoding& encoding,
                                    const std::vector<std::pair<size_t, size_t>>& char_spans);

}  // namespace transformers
