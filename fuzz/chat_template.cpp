// libFuzzer target: the Jinja lexer and parser on arbitrary template text, then rendering what
// parses against a fixed chat context under tight limits and work/memory budgets. Input: the template source, optionally
// followed by "\n#CONTEXT#\n" and a JSON object of variables to render with instead.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat_fuzz_options.h"
#include "transformers/chat/template.h"
#include "transformers/core/error.h"
#include "transformers/io/json.h"

namespace {

const transformers::jinja::Variables& default_context() {
  using transformers::jinja::Value;
  static const auto* vars = new transformers::jinja::Variables{
      {"messages", Value::from_json(transformers::OrderedJson::parse(R"([
         {"role": "system", "content": "Be brief."},
         {"role": "user", "content": "Hi <b>there</b> é 🤗"},
         {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
         {"role": "tool", "content": "{\"ok\": true}"}])"))},
      {"tools", Value::from_json(transformers::OrderedJson::parse(
                    R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])"))},
      {"add_generation_prompt", Value(true)},
      {"bos_token", Value("<s>")},
      {"eos_token", Value("</s>")}};
  return *vars;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view source = input;
  transformers::jinja::Variables custom;
  const transformers::jinja::Variables* vars = &default_context();
  constexpr std::string_view kSep = "\n#CONTEXT#\n";
  if (size_t p = input.find(kSep); p != std::string_view::npos) {
    source = input.substr(0, p);
    auto j = transformers::OrderedJson::parse(input.substr(p + kSep.size()), nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it)
        custom.emplace_back(it.key(), transformers::jinja::Value::from_json(it.value()));
      vars = &custom;
    }
  }
  try {
    transformers::jinja::Template t(source);
    (void)t.render(*vars, fuzz_render_options());
  } catch (const transformers::Error&) {
  }
  return 0;
}
