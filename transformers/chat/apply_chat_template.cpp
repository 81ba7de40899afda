#include "transformers/chat/apply_chat_template.h"

#include "transformers/chat/unicode.h"
#include "transformers/core/error.h"

namespace transformers {

ChatTemplates chat_templates_of(const Tokenizer& tokenizer) {
  // Build the set from the tokenizer's config so that template choice and special tokens are
  // exactly what the tokenizer loaded.
  OrderedJson config = OrderedJson::object();
  const auto& named = tokenizer.chat_templates();
  if (named.size() == 1 && named.count("default")) {
    config["chat_template"] = named.at("default");
  } else if (!named.empty()) {
    OrderedJson list = OrderedJson::array();
    for (const auto& [name, source] : named) list.push_back({{"name", name}, {"template", source}});
    config["chat_template"] = list;
  }
  const SpecialTokens& st = tokenizer.special_tokens();
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v) config[key] = *v;
  };
  put("bos_token", st.bos_token);
  put("eos_token", st.eos_token);
  put("unk_token", st.unk_token);
  put("sep_token", st.sep_token);
  put("pad_token", st.pad_token);
  put("cls_token", st.cls_token);
  put("mask_token", st.mask_token);
  if (!st.additional_special_tokens.empty()) config["additional_special_tokens"] = st.additional_special_tokens;
  ChatTemplates templates = ChatTemplates::from_config(config);
  for (const auto& [name, file] : tokenizer.chat_template_files()) templates.set_origin(name, file);
  return templates;
}

namespace {

ChatTemplateOptions render_options(const ApplyChatTemplateOptions& o) {
  ChatTemplateOptions r;
  r.tools = o.tools;
  r.documents = o.documents;
  r.chat_template = o.chat_template;
  r.add_generation_prompt = o.add_generation_prompt;
  r.continue_final_message = o.continue_final_message;
  r.continue_final_message_field = o.continue_final_message_field;
  r.extra = o.extra;
  r.now = o.now;
  r.limits = o.limits;
  return r;
}

bool is_batch(const OrderedJson& conversation) {
  TCPP_CHECK(conversation.is_array(), ValueError, "apply_chat_template: conversation must be a list of messages or a list of conversations");
  return !conversation.empty() && conversation[0].is_array();
}

// Byte offsets in `text` -> code point offsets (the tokenizer's offsets are in code points).
std::vector<std::pair<size_t, size_t>> to_char_spans(const std::string& text,
                                                     const std::vector<std::pair<size_t, size_t>>& spans) {
  std::vector<std::pair<size_t, size_t>> out;
  for (const auto& [b, e] : spans) {
    size_t cb = jinja::unicode::length(std::string_view(text).substr(0, std::min(b, text.size())));
    size_t ce = cb + jinja::unicode::length(std::string_view(text).substr(std::min(b, text.size()), e - std::min(b, e)));
    out.emplace_back(cb, ce);
  }
  return out;
}

std::optional<size_t> char_to_token(const Encoding& enc, size_t c) {
  for (size_t i = 0; i < enc.offsets.size(); ++i) {
    if (!enc.sequence_ids.empty() && i < enc.sequence_ids.size() && !enc.sequence_ids[i]) continue;
    const auto& [s, e] = enc.offsets[i];
    if (s <= c && c < e) return i;
  }
  return std::nullopt;
}

}  // namespace

std::vector<int64_t> assistant_mask(const Encoding& enc, const std::vector<std::pair<size_t, size_t>>& spans) {
  std::vector<int64_t> mask(enc.ids.size(), 0);
  for (const auto& [start, end] : spans) {
    if (end <= start) continue;
    auto first = char_to_token(enc, start);
    auto last = char_to_token(enc, end - 1);
    if (!first) break;  // as HF: the span starts beyond the (truncated) sequence
    // HF: range(start_token, end_token + 1 if end_token else len(input_ids)).
    size_t stop = (last && *last != 0) ? *last + 1 : mask.size();
    for (size_t t = *first; t < stop && t < mask.size(); ++t) mask[t] = 1;
  }
  return mask;
}

ChatEncoding apply_chat_template(const ChatTemplates& templates, const OrderedJson& conversation,
                                 const ApplyChatTemplateOptions& options) {
  TCPP_CHECK(!options.tokenize, ValueError, "apply_chat_template: tokenize=true needs a tokenizer");
  ChatEncoding out;
  out.batched = is_batch(conversation);
  ChatTemplateOptions ro = render_options(options);
  if (out.batched) {
    for (const auto& conv : conversation) out.text.push_back(render_chat(templates, conv, ro).text);
  } else {
    out.text.push_back(render_chat(templates, conversation, ro).text);
  }
  return out;
}

ChatEncoding apply_chat_template(const Tokenizer& tokenizer, const OrderedJson& conversation,
                                 const ApplyChatTemplateOptions& options) {
  ChatTemplates templates = chat_templates_of(tokenizer);
  TCPP_CHECK(!(options.continue_final_message && options.return_assistant_tokens_mask), ValueError,
             "continue_final_message is not compatible with return_assistant_tokens_mask.");
  ChatEncoding out;
  out.batched = is_batch(conversation);
  ChatTemplateOptions ro = render_options(options);
  std::vector<std::vector<std::pair<size_t, size_t>>> spans;
  auto render_one = [&](const OrderedJson& conv) {
    RenderedChat r = render_chat(templates, conv, ro);
    spans.push_back(std::move(r.generation_spans));
    out.text.push_back(std::move(r.text));
  };
  if (out.batched) {
    for (const auto& conv : conversation) render_one(conv);
  } else {
    render_one(conversation);
  }
  if (!options.tokenize) return out;

  EncodeOptions eo;
  eo.add_special_tokens = false;  // the template already wrote them
  eo.padding = options.padding;
  eo.truncation = options.truncation;
  eo.max_length = options.max_length;
  out.encoding = tokenizer(out.text, eo);
  if (options.return_assistant_tokens_mask) {
    for (size_t i = 0; i < out.text.size(); ++i) {
      const Encoding& enc = out.encoding.encodings.at(i);
      out.encoding.assistant_masks.push_back(assistant_mask(enc, to_char_spans(out.text[i], spans[i])));
    }
  }
  return out;
}

}  // namespace transformers
