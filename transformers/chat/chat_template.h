// Chat templates of a model folder and their rendering with Transformers' semantics
// (apply_chat_template(..., tokenize=False)); the tokenizing form lives on the tokenizer side
// and builds on render_chat().
//
//   auto templates = ChatTemplates::from_directory("path/to/model");
//   auto out = render_chat(templates, messages, {.add_generation_prompt = true});
//   out.text;                      // the prompt string, byte-identical to Python jinja2
#pragma once

#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/chat/template.h"
#include "transformers/io/json.h"

namespace transformers {

// The chat templates a tokenizer carries: the default one and any named ones ("tool_use",
// "rag", ...), and the special tokens templates see as variables (bos_token, ...).
class ChatTemplates {
 public:
  // Reads a model folder: chat_template.jinja (wins), additional_chat_templates/*.jinja,
  // tokenizer_config.json's "chat_template" (a string or a list of {name, template}), or
  // chat_template.json. A folder without a template gives an empty set (has_template false).
  static ChatTemplates from_directory(const std::filesystem::path& dir);
  // From a parsed tokenizer_config.json (and the text of a chat_template.jinja, if any).
  static ChatTemplates from_config(const OrderedJson& tokenizer_config,
                                   const std::optional<std::string>& jinja_file = std::nullopt);
  // A single template string.
  static ChatTemplates from_string(std::string source);

  bool has_template() const { return !sources_.empty(); }
  std::vector<std::string> names() const;
  // The template source HF would pick: `name` (a template name, or else a template string
  // itself), else "tool_use" when tools are given and present, else "default".
  std::string select(const std::optional<std::string>& name, bool has_tools) const;
  // Compiled once per distinct source and cached process-wide (thread-safe), so that every
  // ChatTemplates built for the same tokenizer shares the compiled template.
  std::shared_ptr<const jinja::Template> compiled(const std::string& source) const;
  // The file a template source came from ("DIR/chat_template.jinja", "DIR/tokenizer_config.json",
  // ...), for error messages; "template" for a source given as a string.
  std::string origin_of(const std::string& source) const;
  void set_origin(const std::string& name, std::string file) { origins_[name] = std::move(file); }

  // Special tokens passed to templates: only those that are set (an unset one stays undefined).
  const std::vector<std::pair<std::string, std::string>>& special_tokens() const { return special_tokens_; }
  const std::vector<std::string>& additional_special_tokens() const { return additional_special_tokens_; }
  void set_special_token(const std::string& name, const std::string& content);
  void set_additional_special_tokens(std::vector<std::string> tokens) { additional_special_tokens_ = std::move(tokens); }

 private:
  std::map<std::string, std::string> sources_;  // name -> source ("default" for the single one)
  std::map<std::string, std::string> origins_;  // name -> the file it was read from
  std::string folder_;                           // where the templates were looked for (errors name it)
  std::vector<std::pair<std::string, std::string>> special_tokens_;
  std::vector<std::string> additional_special_tokens_;
};

struct ChatTemplateOptions {
  std::optional<OrderedJson> tools;      // list of JSON schemas (passed as `tools`)
  std::optional<OrderedJson> documents;  // list of documents (passed as `documents`)
  std::optional<std::string> chat_template;  // a template name or a template string
  bool add_generation_prompt = false;
  // Leave the final message open (v5: a sentinel is appended to its `continue_final_message_field`,
  // "content" by default, and the render is cut there).
  bool continue_final_message = false;
  std::string continue_final_message_field = "content";
  OrderedJson extra = OrderedJson::object();  // extra template variables (enable_thinking, ...)
  std::optional<std::tm> now;                 // what strftime_now() sees; unset = now
  jinja::RenderLimits limits;
};

struct RenderedChat {
  std::string text;
  // Byte ranges of `text` inside {% generation %} blocks (assistant turns).
  std::vector<std::pair<size_t, size_t>> generation_spans;
  // What the render used of its work and memory budgets (jinja::RenderLimits).
  int64_t work = 0;
  size_t peak_memory_bytes = 0;
};

// Renders one conversation (a JSON list of messages). Throws TemplateError when the template
// raises (raise_exception's message is what()), ValueError for bad options.
RenderedChat render_chat(const ChatTemplates& templates, const OrderedJson& messages,
                         const ChatTemplateOptions& options = {});

// A conversation file as the CLI and the reference data use it:
// {messages, tools?, documents?, add_generation_prompt?, ...extra kwargs}. Keys bos_token and
// friends are ignored (the tokenizer's own tokens are used, as Transformers does).
struct ConversationFile {
  OrderedJson messages;
  ChatTemplateOptions options;
};
ConversationFile parse_conversation(const OrderedJson& conversation);

}  // namespace transformers
