// libFuzzer target: conversation files (the CLI's --conversation JSON: a list of messages or
// {messages, tools, documents, add_generation_prompt, ...extra kwargs}) parsed, converted to
// template values and rendered by a fixed template that walks every value it is given
// (recursively, as tool-schema templates do) under tight limits and budgets.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat_fuzz_options.h"
#include "transformers/chat/chat_template.h"
#include "transformers/core/error.h"

namespace {

const transformers::ChatTemplates& fixed_template() {
  static const auto* t = new transformers::ChatTemplates(transformers::ChatTemplates::from_string(R"(
{%- macro show(v) -%}
  {%- if v is mapping -%}{ {%- for k, x in v|items %}{{ k }}: {{ show(x) }}, {% endfor -%} }
  {%- elif v is iterable and v is not string -%}[{% for x in v %}{{ show(x) }} {% endfor %}]
  {%- else -%}{{ v }}{%- endif -%}
{%- endmacro -%}
{%- if tools %}<tools>{{ tools|tojson }}</tools>{{ show(tools) }}{% endif -%}
{%- for d in documents or [] %}<doc>{{ d|tojson(indent=2) }}</doc>{% endfor -%}
{%- for m in messages -%}
<|im_start|>{{ m.role }}
{% if m.content is string %}{{ m.content|trim }}{% else %}{{ show(m.content) }}{% endif -%}
{%- for c in m.tool_calls or [] %}<tool_call>{{ c|tojson }}</tool_call>{% endfor %}
{{ m|string|length }} {{ m == messages[0] }}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%})"));
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto json = transformers::OrderedJson::parse(input, nullptr, false);
  if (json.is_discarded()) return 0;
  try {
    transformers::ConversationFile conversation = transformers::parse_conversation(json);
    transformers::jinja::RenderOptions o = fuzz_render_options();
    conversation.options.limits = o.limits;
    conversation.options.now = o.now;
    (void)transformers::render_chat(fixed_template(), conversation.messages, conversation.options);
  } catch (const transformers::Error&) {
  }
  return 0;
}
