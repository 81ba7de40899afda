// `transformers apply-chat-template PATH CONVERSATION.json [--no-tokenize] [--json]
//  [--now 2024-09-03T12:00:00] [--continue-final-message]`: render a conversation with a
// checkpoint's chat template as Transformers' apply_chat_template does. CONVERSATION.json is
// {messages, tools?, documents?, add_generation_prompt?, ...extra kwargs}. With --json the
// output is {"ok": true, "text": ...} or {"ok": false, "error": "Kind: message"}, the shape of
// ../shared/chat_templates/expected (and of ../shared/tools/render_chat.py --json).
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/hub_args.h"
#include "transformers/chat/apply_chat_template.h"
#include "transformers/io/json.h"

namespace {

using namespace transformers;

struct ApplyArgs {
  std::string path;
  std::string conversation;
  cli::HubArgs hub;
  bool no_tokenize = false;
  bool json = false;
  std::string now;
  bool continue_final_message = false;
  std::string template_name;
  bool assistant_mask = false;
};

// Python's json.dumps(..., ensure_ascii=False) of a flat record, byte for byte.
std::string python_json(std::vector<std::pair<std::string, jinja::Value>> fields) {
  jinja::Value d = jinja::Value::dict();
  for (auto& [k, v] : fields) d.as_dict().items.emplace_back(jinja::Value(k), std::move(v));
  return jinja::json_dumps(d, {});
}

jinja::Value int_rows(const std::vector<std::vector<int64_t>>& rows, bool batched) {
  std::vector<jinja::Value> out;
  for (const auto& r : rows) {
    std::vector<jinja::Value> row;
    for (int64_t x : r) row.emplace_back(x);
    out.push_back(jinja::Value::list(std::move(row)));
  }
  if (!batched && out.size() == 1) return out[0];
  return jinja::Value::list(std::move(out));
}

int run(const ApplyArgs& a) {
  ConversationFile conv = parse_conversation(read_ordered_json_file(a.conversation));
  ApplyChatTemplateOptions o;
  o.tools = conv.options.tools;
  o.documents = conv.options.documents;
  o.add_generation_prompt = conv.options.add_generation_prompt;
  o.extra = conv.options.extra;
  o.continue_final_message = a.continue_final_message;
  o.tokenize = !a.no_tokenize;
  o.return_assistant_tokens_mask = a.assistant_mask;
  if (!a.template_name.empty()) o.chat_template = a.template_name;
  if (!a.now.empty()) {
    o.now = jinja::parse_iso_datetime(a.now);
    TCPP_CHECK(o.now.has_value(), ValueError, "--now: expected an ISO date-time like 2024-09-03T12:00:00, got '", a.now, "'");
  }
  // Python's apply_chat_template refuses the two together; so does render_chat.py.
  if (o.continue_final_message) o.add_generation_prompt = false;

  std::string error;
  ChatEncoding enc;
  try {
    if (o.tokenize) {
      enc = apply_chat_template(Tokenizer::from_pretrained(a.path), conv.messages, o);
    } else {
      std::filesystem::path dir = a.path;
      if (std::filesystem::is_regular_file(dir)) dir = dir.parent_path();
      enc = apply_chat_template(ChatTemplates::from_directory(dir), conv.messages, o);
    }
  } catch (const TemplateError& e) {
    error = e.kind() + ": " + e.what();
  } catch (const FormatError& e) {
    if (!a.json) throw;
    error = std::string("TemplateSyntaxError: ") + e.what();
  } catch (const ValueError& e) {
    if (!a.json) throw;
    error = std::string("ValueError: ") + e.what();
  }
  if (!error.empty()) {
    if (a.json) {
      std::cout << python_json({{"ok", jinja::Value(false)}, {"error", jinja::Value(error)}}) << '\n';
      return 0;
    }
    std::cerr << "error: " << error << '\n';
    return 1;
  }
  if (!o.tokenize) {
    if (a.json) std::cout << python_json({{"ok", jinja::Value(true)}, {"text", jinja::Value(enc.text[0])}}) << '\n';
    else std::cout << enc.text[0];
    return 0;
  }
  std::vector<std::pair<std::string, jinja::Value>> fields;
  if (a.json) fields.emplace_back("ok", jinja::Value(true));
  fields.emplace_back("input_ids", int_rows(enc.encoding.input_ids, false));
  fields.emplace_back("attention_mask", int_rows(enc.encoding.attention_mask, false));
  if (a.assistant_mask) fields.emplace_back("assistant_masks", int_rows(enc.encoding.assistant_masks, false));
  if (a.json) fields.emplace_back("text", jinja::Value(enc.text[0]));
  std::cout << python_json(std::move(fields)) << '\n';
  return 0;
}

const cli::Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ApplyArgs>();
  CLI::App* sub = app.add_subcommand(
      "apply-chat-template",
      "Render a conversation with a checkpoint's chat template (Transformers' apply_chat_template); "
      "tokenizes the prompt unless --no-tokenize");
  sub->add_option("path", args->path,
                  "Checkpoint folder (tokenizer_config.json / chat_template.jinja) or Hub name org/name[@revision]")
      ->required();
  cli::add_hub_flags(sub, args->hub);
  sub->add_option("conversation", args->conversation,
                  "JSON file: {messages, tools?, documents?, add_generation_prompt?, ...extra kwargs}")
      ->required();
  sub->add_flag("--no-tokenize", args->no_tokenize, "Print the rendered prompt instead of token ids");
  sub->add_flag("--json", args->json, "Print {\"ok\": true, \"text\"|\"input_ids\": ...} or {\"ok\": false, \"error\": ...}");
  sub->add_option("--now", args->now, "The time strftime_now() sees, e.g. 2024-09-03T12:00:00 (default: now)");
  sub->add_flag("--continue-final-message", args->continue_final_message,
                "Leave the final message open for the model to continue");
  sub->add_option("--template-name", args->template_name, "Use this named chat template (or this template text)");
  sub->add_flag("--assistant-mask", args->assistant_mask,
                "With tokenization, also print assistant_masks from {% generation %} spans");
  sub->callback([args] {
    args->path = cli::resolve_model_arg(args->path, args->hub);
    int rc = run(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}};

}  // namespace
