// The engine's contract beyond the Python-rendered fixtures: syntax errors with their place,
// sandbox refusals, limits on hostile templates, {% generation %} spans and assistant masks.
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "chat/chat_test_helpers.h"
#include "transformers/chat/apply_chat_template.h"
#include "transformers/chat/template.h"

using namespace transformers;
using namespace transformers::jinja;
namespace fs = std::filesystem;

using namespace chat_test;

TEST(ChatEngine, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(syntax_error_of("hello\n{{ 1 + }}"), "template:2:8: unexpected 'end of print statement'");
  EXPECT_NE(syntax_error_of("a\nb\n{% if x %}never closed").find("template:3:"), std::string::npos);
  EXPECT_NE(syntax_error_of("{% if x %}{% endfor %}").find("Encountered unknown tag 'endfor'"), std::string::npos);
  EXPECT_NE(syntax_error_of("{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
  EXPECT_NE(syntax_error_of("{{ 'unterminated }}").find("template:1:"), std::string::npos);
  EXPECT_NE(syntax_error_of("{# never closed").find("Missing end of comment tag"), std::string::npos);
  EXPECT_NE(syntax_error_of("{{ a ) }}").find("unexpected ')'"), std::string::npos);
  EXPECT_NE(syntax_error_of("{% break %}").find("outside of a loop"), std::string::npos);
  EXPECT_EQ(syntax_error_of("{% for x in y %}{% break %}{% endfor %}"), "");
}

TEST(ChatEngine, SandboxRefusesFileAccessAndMutation) {
  EXPECT_NE(syntax_error_of("{% include 'x.html' %}").find("without a loader"), std::string::npos);
  EXPECT_NE(syntax_error_of("{% import 'x' as y %}").find("without a loader"), std::string::npos);
  EXPECT_NE(syntax_error_of("{% extends 'base' %}").find("without a loader"), std::string::npos);
  expect_failure("{{ [1].append(2) }}", "SecurityError", "access to attribute 'append' of 'list' object is unsafe.");
  expect_failure("{{ {}.update({'a': 1}) }}", "SecurityError", "'update' of 'dict' object is unsafe");
  expect_failure("{{ ''.__class__.__mro__ }}", "SecurityError", "'__class__' of 'str' object is unsafe");
  EXPECT_EQ(render("{{ ''.__class__ }}|"), "|");  // unsafe attributes are undefined until used
  expect_failure("{{ 'x'.encode() }}", "SecurityError", "encode");
}

TEST(ChatEngine, RaiseExceptionCarriesTheTemplateMessage) {
  expect_failure("{{ raise_exception('Roles must alternate!') }}", "TemplateError", "Roles must alternate!");
  try {
    render("{% if true %}{{ raise_exception('exact message') }}{% endif %}");
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(), "exact message");
  }
  expect_failure("{{ undefined_var.attr }}", "UndefinedError", "'undefined_var' is undefined");
  try {
    render("line 1\n{% if true %}\n  {{ 1 + 'x' }}\n{% endif %}");
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.line(), 3);
  }
  expect_failure("{{ 'a' + 1 }}", "TypeError", "can only concatenate str (not \"int\") to str");
  expect_failure("{{ 1 / 0 }}", "ZeroDivisionError", "division by zero");
}

TEST(ChatEngine, HostileTemplatesFailWithinLimits) {
  expect_failure("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError", "recursion");
  expect_failure("{% macro f(n) %}{{ f(n + 1) }}x{% endmacro %}{{ f(0) }}", "RecursionError", "recursion");
  expect_failure("{% for a in [[1]] recursive %}{{ loop([a]) }}{% endfor %}", "RecursionError", "recursion");
  expect_failure("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "SecurityError",
                 "loop iteration limit");
  expect_failure("{{ range(1000000000)|length }}", "OverflowError", "MAX_RANGE");
  // 2^30 bytes by doubling: stopped at the output limit long before a gigabyte is built.
  expect_failure("{% set ns = namespace(s='x') %}{% for i in range(31) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
                 "SecurityError", "output limit");
  expect_failure("{{ 'x' * 1000000000 }}", "SecurityError", "output limit");
  expect_failure("{{ ['x'] * 1000000000 }}", "SecurityError", "output limit");
  expect_failure("{% for i in range(100000) %}{{ 'x' * 10000 }}{% endfor %}", "SecurityError", "output limit");
  expect_failure("{{ 'ab'.replace('', 'x' * 100000) * 1 }}{{ 'y'.center(1000000000) }}", "SecurityError", "output limit");
  expect_failure("{{ '%100000000d' % 1 }}", "SecurityError", "output limit");
  expect_failure("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "RecursionError", "recursion");
  // A smaller budget is honoured too.
  RenderLimits small;
  small.max_output_bytes = 1000;
  expect_failure("{% for i in range(2000) %}x{% endfor %}", "SecurityError", "output limit", small);
  // Deeply nested expressions are refused by the parser instead of exhausting the stack.
  std::string deep(5000, '(');
  EXPECT_NE(syntax_error_of("{{ " + deep + "1" + std::string(5000, ')') + " }}").find("nesting too deep"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_NE(syntax_error_of(ifs).find("nesting too deep"), std::string::npos);
}

TEST(ChatEngine, TemplateIsReusableAndThreadSafeToShare) {
  Template t("{% for m in messages %}{{ m }}{% endfor %}{% set x = 1 %}{{ x }}");
  Variables a{{"messages", Value::list({Value("a"), Value("b")})}};
  Variables b{{"messages", Value::list({Value(int64_t{1})})}};
  EXPECT_EQ(t.render(a).text, "ab1");
  EXPECT_EQ(t.render(b).text, "11");
  EXPECT_EQ(t.render(a).text, "ab1");
}

TEST(ChatEngine, OneCompiledTemplateRendersFromManyThreads) {
  Template t(
      "{% set ns = namespace(n=0) %}{% macro m(x) %}<{{ x }}>{% endmacro %}"
      "{% for v in values %}{% set ns.n = ns.n + v %}{{ m(v) }}{{ loop.cycle('a', 'b') }}{% endfor %}={{ ns.n }}");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int it = 0; it < 300; ++it) {
        std::vector<Value> values;
        std::string want;
        int64_t sum = 0;
        for (int64_t v = 0; v < k + 2; ++v) {
          values.emplace_back(v + it);
          want += "<" + std::to_string(v + it) + ">" + (v % 2 ? "b" : "a");
          sum += v + it;
        }
        want += "=" + std::to_string(sum);
        if (t.render({{"values", Value::list(values)}}).text != want) ++failures[k];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

TEST(ChatEngine, GenerationSpansAndAssistantMasks) {
  // Hand-computed: the rendered text is
  //   "user : hello there assistant : general kenobi user : bye assistant : see you "
  // and the assistant contents sit at [31, 45) and [69, 76).
  const std::string tmpl =
      "{% for m in messages %}{{ m.role }} : {% if m.role == 'assistant' %}{% generation %}{{ m.content }}"
      "{% endgeneration %}{% else %}{{ m.content }}{% endif %} {% endfor %}";
  OrderedJson conv = OrderedJson::parse(R"([
    {"role": "user", "content": "hello there"}, {"role": "assistant", "content": "general kenobi"},
    {"role": "user", "content": "bye"}, {"role": "assistant", "content": "see you"}])");
  auto r = Template(tmpl).render({{"messages", Value::from_json(conv)}});
  EXPECT_EQ(r.text, "user : hello there assistant : general kenobi user : bye assistant : see you ");
  ASSERT_EQ(r.generation_spans.size(), 2u);
  EXPECT_EQ(r.generation_spans[0], (std::pair<size_t, size_t>{31, 45}));
  EXPECT_EQ(r.generation_spans[1], (std::pair<size_t, size_t>{69, 76}));

  fs::path bert = fs::path(TCPP_SHARED_DIR) / "tokenizers" / "models" / "bert";
  ASSERT_TRUE(fs::exists(bert / "tokenizer.json")) << "missing fixture " << bert;
  Tokenizer tok = Tokenizer::from_pretrained(bert);
  ApplyChatTemplateOptions o;
  o.chat_template = tmpl;
  o.return_assistant_tokens_mask = true;
  o.padding = Padding::kLongest;
  // A batch: the second conversation has accents before its span (bytes != code points), and is
  // shorter, so it is padded.
  OrderedJson conv2 = OrderedJson::parse(R"([
    {"role": "user", "content": "héllo wörld"}, {"role": "assistant", "content": "general kenobi"}])");
  OrderedJson batch = OrderedJson::array({conv, conv2});
  ChatEncoding enc = apply_chat_template(tok, batch, o);
  ASSERT_TRUE(enc.batched);
  ASSERT_EQ(enc.encoding.assistant_masks.size(), 2u);
  // Tokens: user : hello there assistant : general ken ##ob ##i user : bye assistant : see you
  EXPECT_EQ(enc.encoding.assistant_masks[0], (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1}));
  // Tokens: user : hello world assistant : general ken ##ob ##i [PAD] x 7
  EXPECT_EQ(enc.encoding.assistant_masks[1], (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(enc.encoding.attention_mask[1], (std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(enc.encoding.input_ids[0], tok.encode(enc.text[0], false));

  // tokenize=false gives the text only.
  o.tokenize = false;
  o.padding = Padding::kNone;
  ChatEncoding text_only = apply_chat_template(tok, conv, o);
  EXPECT_FALSE(text_only.batched);
  ASSERT_EQ(text_only.text.size(), 1u);
  EXPECT_EQ(text_only.text[0], r.text);
  EXPECT_TRUE(text_only.encoding.input_ids.empty());
}

TEST(ChatEngine, TemplateChoiceAndContinueFinalMessage) {
  OrderedJson config = OrderedJson::parse(R"({"bos_token": "<s>", "chat_template": [
      {"name": "default", "template": "D{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}"},
      {"name": "tool_use", "template": "T{{ tools|length }}"}]})");
  ChatTemplates t = ChatTemplates::from_config(config);
  OrderedJson msgs = OrderedJson::parse(R"([{"role": "user", "content": "hi"}, {"role": "assistant", "content": " Sure, "}])");
  EXPECT_EQ(render_chat(t, msgs).text, "D<s>[hi][ Sure, ]");
  ChatTemplateOptions with_tools;
  with_tools.tools = OrderedJson::parse(R"([{"type": "function"}])");
  EXPECT_EQ(render_chat(t, msgs, with_tools).text, "T1");
  ChatTemplateOptions named;
  named.chat_template = "default";
  named.tools = with_tools.tools;
  EXPECT_EQ(render_chat(t, msgs, named).text, "D<s>[hi][ Sure, ]");
  // continue_final_message (v5): the sentinel is appended to the final content and the render cut
  // there; a template that trims the message gets the cut right-stripped.
  ChatTemplates with_content = ChatTemplates::from_string(
      "{% for m in messages %}[{{ m.content }}]{% endfor %}{% for m in messages %}<{{ m['content'] | trim }}>{% endfor %}");
  ChatTemplateOptions cont;
  cont.continue_final_message = true;
  // (expected strings from Python: the last sentinel wins, here the trimmed one.)
  EXPECT_EQ(render_chat(with_content, msgs, cont).text, "[hi][ Sure, CONTINUE_FINAL_MESSAGE_TAG ]<hi><Sure,");
  EXPECT_EQ(render_chat(ChatTemplates::from_string("{% for m in messages %}{{ m.content|trim }}|{% endfor %}"), msgs, cont).text,
            "hi|Sure,");
  OrderedJson blocks = OrderedJson::parse(R"([{"role": "assistant", "content": [{"type": "text", "text": "A "}, {"type": "image"}]}])");
  EXPECT_EQ(render_chat(ChatTemplates::from_string("{% for b in messages[0].content %}{{ b.text }}{% endfor %}!"), blocks, cont).text,
            "A ");
  // A template that never mentions the field cannot be continued.
  EXPECT_THROW(render_chat(ChatTemplates::from_string("{{ messages|length }}"), msgs, cont), ValueError);
  cont.add_generation_prompt = true;
  EXPECT_THROW(render_chat(with_content, msgs, cont), ValueError);
  // chat_template.jinja wins over the config's string.
  fs::path dir = fs::temp_directory_path() / "tcpp_chat_template_choice";
  fs::create_directories(dir);
  {
    std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": "from config", "eos_token": "</s>"})";
    std::ofstream(dir / "chat_template.jinja") << "from file {{ eos_token }}\n";
  }
  EXPECT_EQ(render_chat(ChatTemplates::from_directory(dir), msgs).text, "from file </s>");
  fs::remove_all(dir);
}

// A template that does not parse is named by the file it came from (the parser says "template").
TEST(ChatTemplates, SyntaxErrorsNameTheTemplateFile) {
  const OrderedJson msgs = OrderedJson::parse(R"([{"role": "user", "content": "hi"}])");
  auto message_of = [&](const ChatTemplates& t, const ChatTemplateOptions& options = {}) {
    try {
      render_chat(t, msgs, options);
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  fs::path dir = fs::temp_directory_path() / "tcpp_chat_template_origin";
  fs::remove_all(dir);
  fs::create_directories(dir / "additional_chat_templates");
  std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": "ok {{ 1 + }}"})";
  EXPECT_EQ(message_of(ChatTemplates::from_directory(dir)),
            (dir / "tokenizer_config.json").string() + ":1:11: unexpected 'end of print statement'");
  std::ofstream(dir / "chat_template.jinja") << "line 1\n{% for x in %}";
  EXPECT_EQ(message_of(ChatTemplates::from_directory(dir)).rfind((dir / "chat_template.jinja").string() + ":2:", 0), 0u)
      << message_of(ChatTemplates::from_directory(dir));
  std::ofstream(dir / "additional_chat_templates" / "tool_use.jinja") << "{{ x | nofilter }}";
  ChatTemplateOptions named;
  named.chat_template = "tool_use";
  const std::string tool_use = message_of(ChatTemplates::from_directory(dir), named);
  EXPECT_EQ(tool_use.rfind((dir / "additional_chat_templates" / "tool_use.jinja").string() + ":1:", 0), 0u) << tool_use;
  EXPECT_EQ(message_of(ChatTemplates::from_string("{{ 1 + }}")), "template:1:8: unexpected 'end of print statement'");
  fs::remove_all(dir);
}
