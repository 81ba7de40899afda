#include "transformers/chat/chat_template.h"

#include <algorithm>

#include "transformers/chat/strings.h"
#include "transformers/core/error.h"
#include "transformers/hub/hub_cache.h"

namespace transformers {

namespace {

const char* const kSpecialTokenKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                         "pad_token", "cls_token", "mask_token"};

// A token in tokenizer_config.json is a string or an AddedToken dict with "content".
std::optional<std::string> token_text(const OrderedJson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    auto it = v.find("content");
    if (it != v.end() && it->is_string()) return it->get<std::string>();
  }
  return std::nullopt;
}

void add_config_templates(std::map<std::string, std::string>& sources, const OrderedJson& ct, const std::string& where) {
  if (ct.is_string()) {
    sources.emplace("default", ct.get<std::string>());
  } else if (ct.is_array()) {
    for (const auto& entry : ct) {
      TCPP_CHECK(entry.is_object() && entry.contains("name") && entry.contains("template") && entry["name"].is_string() &&
                     entry["template"].is_string(),
                 ConfigError, where, ": chat_template entries must be {\"name\": str, \"template\": str}");
      sources.emplace(entry["name"].get<std::string>(), entry["template"].get<std::string>());
    }
  } else if (ct.is_object()) {
    for (auto it = ct.begin(); it != ct.end(); ++it) {
      TCPP_CHECK(it.value().is_string(), ConfigError, where, ": chat_template '", it.key(), "' is not a string");
      sources.emplace(it.key(), it.value().get<std::string>());
    }
  } else if (!ct.is_null()) {
    throw ConfigError(where + ": chat_template must be a string or a list of named templates");
  }
}

// A conversation nested deeper than templates can follow is refused before anything copies or
// converts it recursively (nlohmann's copy and our Value conversion both recurse).
void check_json_depth(const OrderedJson& j, const std::string& what, int depth = 0) {
  if (!j.is_structured()) return;
  TCPP_CHECK(depth < jinja::kMaxValueDepth, FormatError, what, ": JSON nested deeper than ", jinja::kMaxValueDepth,
             " levels");
  for (const auto& child : j) check_json_depth(child, what, depth + 1);
}

}  // namespace

ChatTemplates ChatTemplates::from_config(const OrderedJson& config, const std::optional<std::string>& jinja_file) {
  ChatTemplates t;
  if (jinja_file) {
    t.sources_.emplace("default", *jinja_file);
  } else if (config.is_object() && config.contains("chat_template")) {
    add_config_templates(t.sources_, config["chat_template"], "tokenizer_config.json");
  }
  if (config.is_object()) {
    for (const char* key : kSpecialTokenKeys) {
      auto it = config.find(key);
      if (it == config.end()) continue;
      if (auto text = token_text(*it)) t.special_tokens_.emplace_back(key, *text);
    }
    auto it = config.find("additional_special_tokens");
    if (it != config.end() && it->is_array())
      for (const auto& tok : *it)
        if (auto text = token_text(tok)) t.additional_special_tokens_.push_back(*text);
  }
  return t;
}

ChatTemplates ChatTemplates::from_directory(const std::filesystem::path& name) {
  namespace fs = std::filesystem;
  const fs::path dir = hub::resolve_pretrained_path(name);
  OrderedJson config = OrderedJson::object();
  fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path)) config = read_ordered_json_file(config_path);
  std::optional<std::string> jinja_file;
  if (fs::exists(dir / "chat_template.jinja")) jinja_file = read_text_file(dir / "chat_template.jinja");
  ChatTemplates t = from_config(config, jinja_file);
  for (const auto& [name, source] : t.sources_)
    t.origins_[name] = ((jinja_file && name == "default") ? dir / "chat_template.jinja" : config_path).string();
  if (!t.has_template() && fs::exists(dir / "chat_template.json")) {
    OrderedJson j = read_ordered_json_file(dir / "chat_template.json");
    if (j.is_object() && j.contains("chat_template"))
      add_config_templates(t.sources_, j["chat_template"], (dir / "chat_template.json").string());
    for (const auto& [name, source] : t.sources_) t.origins_[name] = (dir / "chat_template.json").string();
  }
  t.folder_ = dir.string();
  fs::path extra = dir / "additional_chat_templates";
  if (fs::is_directory(extra)) {
    for (const auto& entry : fs::directory_iterator(extra)) {
      if (entry.path().extension() != ".jinja") continue;
      if (t.sources_.emplace(entry.path().stem().string(), read_text_file(entry.path())).second)
        t.origins_[entry.path().stem().string()] = entry.path().string();
    }
  }
  return t;
}

ChatTemplates ChatTemplates::from_string(std::string source) {
  ChatTemplates t;
  t.sources_.emplace("default", std::move(source));
  return t;
}

std::vector<std::string> ChatTemplates::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : sources_) out.push_back(k);
  return out;
}

void ChatTemplates::set_special_token(const std::string& name, const std::string& content) {
  for (auto& [k, v] : special_tokens_) {
    if (k == name) {
      v = content;
      return;
    }
  }
  special_tokens_.emplace_back(name, content);
}

std::string ChatTemplates::select(const std::optional<std::string>& name, bool has_tools) const {
  bool named = sources_.size() > 1 || (sources_.size() == 1 && !sources_.count("default"));
  if (name) {
    auto it = sources_.find(*name);
    if (it != sources_.end()) return it->second;
    return *name;  // not a known name: the argument is the template itself
  }
  if (named && has_tools) {
    auto it = sources_.find("tool_use");
    if (it != sources_.end()) return it->second;
  }
  auto it = sources_.find("default");
  if (it != sources_.end()) return it->second;
  if (sources_.empty())
    throw ValueError(
        (folder_.empty() ? std::string() : folder_ + ": ") +
        "Cannot use apply_chat_template because this tokenizer does not have a chat template (no chat_template in "
        "tokenizer_config.json, no chat_template.jinja or chat_template.json).");
  std::string list;
  for (const auto& [k, v] : sources_) list += (list.empty() ? "" : ", ") + k;
  throw ValueError("This tokenizer has several chat templates (" + list +
                   ") and none is named 'default'; pass chat_template with one of these names.");
}

std::string ChatTemplates::origin_of(const std::string& source) const {
  for (const auto& [name, text] : sources_)
    if (text == source) {
      auto it = origins_.find(name);
      if (it != origins_.end()) return it->second;
    }
  return "template";
}

std::shared_ptr<const jinja::Template> ChatTemplates::compiled(const std::string& source) const {
  // A small process-wide cache: a server sees a handful of distinct templates.
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const jinja::Template>> cache;
  constexpr size_t kMaxEntries = 64;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache.find(source);
    if (it != cache.end()) return it->second;
  }
  auto t = std::make_shared<const jinja::Template>(source);  // compile outside the lock
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.emplace(source, t);
  return t;
}

namespace {
// Transformers' sentinel for continue_final_message (chat_template_utils.render_jinja_template).
constexpr std::string_view kContinueTag = "CONTINUE_FINAL_MESSAGE_TAG ";
constexpr std::string_view kContinueTagStripped = "CONTINUE_FINAL_MESSAGE_TAG";
}  // namespace

RenderedChat render_chat(const ChatTemplates& templates, const OrderedJson& messages, const ChatTemplateOptions& options) {
  TCPP_CHECK(messages.is_array(), ValueError, "apply_chat_template: the conversation must be a list of messages");
  check_json_depth(messages, "conversation 'messages'");
  if (options.tools) check_json_depth(*options.tools, "conversation 'tools'");
  if (options.documents) check_json_depth(*options.documents, "conversation 'documents'");
  check_json_depth(options.extra, "conversation keyword arguments");
  TCPP_CHECK(!(options.continue_final_message && options.add_generation_prompt), ValueError,
             "continue_final_message and add_generation_prompt are not compatible. Use continue_final_message when you "
             "want the model to continue the final message, and add_generation_prompt when you want to add a header "
             "that will prompt it to start a new assistant message instead.");
  const bool has_tools = options.tools.has_value() && !options.tools->is_null();
  const std::string source = templates.select(options.chat_template, has_tools);
  std::shared_ptr<const jinja::Template> tmpl;
  try {
    tmpl = templates.compiled(source);
  } catch (const FormatError& e) {
    // The parser names the place as "template:LINE:COL"; name the file it came from instead.
    const std::string_view what = e.what();
    if (!what.starts_with("template:")) throw;
    throw FormatError(templates.origin_of(source) + std::string(what.substr(std::string_view("template").size())));
  }
  if (options.documents && options.documents->is_array())
    for (const auto& d : *options.documents)
      TCPP_CHECK(d.is_object(), ValueError, "Documents should be a list of dicts with 'title' and 'text' keys!");

  // continue_final_message: tag the end of the final message's text, render, cut at the tag.
  const OrderedJson* to_render = &messages;
  OrderedJson tagged;
  std::string final_text;
  if (options.continue_final_message) {
    const std::string& field = options.continue_final_message_field;
    TCPP_CHECK(!messages.empty() && messages.back().is_object(), ValueError,
               "continue_final_message is set but there is no final message to continue");
    tagged = messages;
    OrderedJson& final_msg = tagged.back();
    auto it = final_msg.find(field);
    TCPP_CHECK(it != final_msg.end() && !it->is_null(), ValueError,
               "continue_final_message is set but the final message has no \"", field, "\" to continue!");
    TCPP_CHECK(source.find(field) != std::string::npos, ValueError, "continue_final_message is set to \"", field,
               "\" but this is not an accepted field in the chat_template");
    if (it->is_array()) {
      bool found = false;
      for (auto block = it->rbegin(); block != it->rend(); ++block) {
        if (block->is_object() && block->contains("text") && (*block)["text"].is_string()) {
          final_text = (*block)["text"].get<std::string>();
          (*block)["text"] = final_text + std::string(kContinueTag);
          found = true;
          break;
        }
      }
      TCPP_CHECK(found, ValueError, "continue_final_message is set but we could not find any text to continue in the final message!");
    } else {
      TCPP_CHECK(it->is_string(), ValueError, "continue_final_message: the final message's \"", field, "\" must be text");
      final_text = it->get<std::string>();
      *it = final_text + std::string(kContinueTag);
    }
    to_render = &tagged;
  }

  jinja::Variables vars;
  vars.reserve(8 + templates.special_tokens().size() + options.extra.size());
  vars.emplace_back("messages", jinja::Value::from_json(*to_render, "conversation 'messages'"));
  vars.emplace_back("tools", has_tools ? jinja::Value::from_json(*options.tools, "conversation 'tools'") : jinja::Value(nullptr));
  vars.emplace_back("documents", options.documents && !options.documents->is_null()
                                     ? jinja::Value::from_json(*options.documents, "conversation 'documents'")
                                     : jinja::Value(nullptr));
  vars.emplace_back("add_generation_prompt", jinja::Value(options.add_generation_prompt));
  for (const auto& [k, v] : templates.special_tokens()) vars.emplace_back(k, jinja::Value(v));
  if (!templates.additional_special_tokens().empty()) {
    std::vector<jinja::Value> toks;
    for (const auto& t : templates.additional_special_tokens()) toks.emplace_back(t);
    vars.emplace_back("additional_special_tokens", jinja::Value::list(std::move(toks)));
  }
  if (options.extra.is_object())
    for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
      auto existing = std::find_if(vars.begin(), vars.end(), [&](const auto& p) { return p.first == it.key(); });
      jinja::Value v = jinja::Value::from_json(it.value(), "conversation '" + it.key() + "'");
      if (existing != vars.end()) existing->second = std::move(v);
      else vars.emplace_back(it.key(), std::move(v));
    }

  jinja::RenderOptions ro;
  ro.now = options.now;
  ro.limits = options.limits;
  jinja::RenderResult r = tmpl->render(vars, ro);
  RenderedChat out{std::move(r.text), std::move(r.generation_spans), r.work, r.peak_memory_bytes};

  if (options.continue_final_message) {
    std::string stripped = jinja::strings::strip(final_text, std::nullopt, true, true);
    size_t tag_loc = out.text.rfind(kContinueTagStripped);
    TCPP_CHECK(out.text.find(stripped) != std::string::npos && tag_loc != std::string::npos, ValueError,
               "continue_final_message is set but the final message does not appear in the chat after applying the chat "
               "template! This can happen if the chat template deletes portions of the final message. Please verify the "
               "chat template and final message in your chat to ensure they are compatible.");
    if (out.text.compare(tag_loc, kContinueTag.size(), kContinueTag) == 0) {
      out.text.resize(tag_loc);  // the template kept the spacing
    } else {
      out.text = jinja::strings::strip(std::string_view(out.text).substr(0, tag_loc), std::nullopt, false, true);
    }
    for (auto& [b, e] : out.generation_spans) {
      b = std::min(b, out.text.size());
      e = std::min(e, out.text.size());
    }
  }
  return out;
}

ConversationFile parse_conversation(const OrderedJson& conversation) {
  ConversationFile f;
  TCPP_CHECK(conversation.is_object() || conversation.is_array(), FormatError,
             "conversation: expected an object {messages, ...} or a list of messages");
  check_json_depth(conversation, "conversation");
  if (conversation.is_array()) {
    f.messages = conversation;
    return f;
  }
  auto it = conversation.find("messages");
  TCPP_CHECK(it != conversation.end() && it->is_array(), FormatError, "conversation: missing list 'messages'");
  f.messages = *it;
  for (auto kv = conversation.begin(); kv != conversation.end(); ++kv) {
    const std::string& key = kv.key();
    if (key == "messages") continue;
    if (key == "tools") {
      if (!kv.value().is_null()) f.options.tools = kv.value();
    } else if (key == "documents") {
      if (!kv.value().is_null()) f.options.documents = kv.value();
    } else if (key == "add_generation_prompt") {
      f.options.add_generation_prompt = kv.value().is_boolean() ? kv.value().get<bool>() : !kv.value().is_null();
    } else if (key == "bos_token" || key == "eos_token" || key == "unk_token" || key == "sep_token" || key == "pad_token" ||
               key == "cls_token" || key == "mask_token" || key == "additional_special_tokens") {
      continue;
    } else {
      f.options.extra[key] = kv.value();
    }
  }
  return f;
}

}  // namespace transformers
