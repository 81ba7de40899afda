#include "transformers/tokenization/tokenizer_config.h"

#include <cstring>
#include <set>

#include "transformers/io/json.h"

namespace transformers::tokenization {

namespace {

// A special token is a string or an AddedToken object {"content": ...}.
std::optional<std::string> token_text(const Json& value, const std::string& where) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return json_get<std::string>(value, "content", where);
  throw ConfigError(where + ": a special token must be a string or an object with 'content'");
}

void read_special_tokens(const Json& json, const std::string& file, SpecialTokens& out,
                         bool overwrite) {
  struct Field {
    const char* key;
    std::optional<std::string>* slot;
  } fields[] = {{"bos_token", &out.bos_token}, {"eos_token", &out.eos_token},
                {"unk_token", &out.unk_token}, {"sep_token", &out.sep_token},
                {"pad_token", &out.pad_token}, {"cls_token", &out.cls_token},
                {"mask_token", &out.mask_token}};
  for (auto& f : fields) {
    auto it = json.find(f.key);
    if (it == json.end()) continue;
    if (!overwrite && *f.slot) continue;
    *f.slot = token_text(*it, file + ": " + f.key);
  }
  if (auto it = json.find("additional_special_tokens");
      it != json.end() && it->is_array() && (overwrite || out.additional_special_tokens.empty())) {
    out.additional_special_tokens.clear();
    for (size_t i = 0; i < it->size(); ++i)
      if (auto t = token_text((*it)[i], file + ": additional_special_tokens[" +
                                            std::to_string(i) + "]"))
        out.additional_special_tokens.push_back(*t);
  }
  if (auto it = json.find("extra_special_tokens"); it != json.end()) {
    if (it->is_object()) {
      for (auto e = it->begin(); e != it->end(); ++e)
        if (auto t = token_text(e.value(), file + ": extra_special_tokens." + e.key()))
          out.extra_special_tokens[e.key()] = *t;
    } else if (it->is_array()) {
      for (size_t i = 0; i < it->size(); ++i)
        if (auto t = token_text((*it)[i], file + ": extra_special_tokens"))
          out.additional_special_tokens.push_back(*t);
    }
  }
}

Side parse_side(const Json& json, const char* key, Side fallback, const std::string& file) {
  auto v = json_get_optional<std::string>(json, key, file);
  if (!v) return fallback;
  if (*v == "left") return Side::kLeft;
  if (*v == "right") return Side::kRight;
  throw ConfigError(detail::concat(file, ": '", key, "' must be \"left\" or \"right\", not '", *v, "'"));
}

// v5's tokenizer classes whose model_input_names leave out token_type_ids (the base class's default
// keeps them, as BERT's tokenizer does).
bool class_without_token_types(std::string name) {
  for (const char* suffix : {"TokenizerFast", "Tokenizer"})
    if (name.size() > std::strlen(suffix) && name.ends_with(suffix)) {
      name.resize(name.size() - std::strlen(suffix));
      break;
    }
  static const std::set<std::string> names = {"Llama", "CodeLlama", "GPT2", "Qwen2", "Gemma", "T5", "Roberta",
                                              "XLMRoberta", "Bart", "GPTNeoX", "Bloom", "Whisper", "Cohere",
                                              "CLIP", "Mistral", "Phi3", "MBart", "Nllb", "Marian", "Pegasus"};
  return names.contains(name);
}

}  // namespace

TokenizerConfig load_tokenizer_config(const std::filesystem::path& folder) {
  TokenizerConfig config;
  auto config_path = folder / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    std::string file = config_path.string();
    config.config_json = read_text_file(config_path);
    Json json = parse_json(config.config_json, file);
    TCPP_CHECK(json.is_object(), FormatError, file, ": the top level must be a JSON object");
    read_special_tokens(json, file, config.special, true);
    if (auto it = json.find("model_max_length"); it != json.end() && it->is_number()) {
      double v = it->get<double>();
      if (v >= 0 && v < 1e18) config.model_max_length = static_cast<size_t>(v);
    }
    config.padding_side = parse_side(json, "padding_side", Side::kRight, file);
    config.truncation_side = parse_side(json, "truncation_side", Side::kRight, file);
    config.clean_up_tokenization_spaces =
        json_get_or(json, "clean_up_tokenization_spaces", false, file);
    config.add_bos_token = json_get_optional<bool>(json, "add_bos_token", file);
    config.add_eos_token = json_get_optional<bool>(json, "add_eos_token", file);
    if (auto names = json_get_optional<std::vector<std::string>>(json, "model_input_names", file)) {
      config.model_input_names = *names;
    } else if (auto cls = json_get_optional<std::string>(json, "tokenizer_class", file);
               cls && class_without_token_types(*cls)) {
      config.model_input_names = {"input_ids", "attention_mask"};
    }
    if (auto it = json.find("chat_template"); it != json.end() && !it->is_null()) {
      if (it->is_string()) {
        config.chat_templates["default"] = it->get<std::string>();
        config.chat_template_files["default"] = file;
      } else if (it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
          std::string at = file + ": chat_template[" + std::to_string(i) + "]";
          const auto name = json_get<std::string>((*it)[i], "name", at);
          config.chat_templates[name] = json_get<std::string>((*it)[i], "template", at);
          config.chat_template_files[name] = file;
        }
      } else {
        throw ConfigError(file + ": 'chat_template' must be a string or a list of {name, template}");
      }
    }
  }
  auto map_path = folder / "special_tokens_map.json";
  if (std::filesystem::exists(map_path)) {
    Json json = read_json_file(map_path);
    if (json.is_object()) read_special_tokens(json, map_path.string(), config.special, false);
  }
  auto jinja = folder / "chat_template.jinja";
  if (std::filesystem::exists(jinja)) {
    config.chat_templates["default"] = read_text_file(jinja);
    config.chat_template_files["default"] = jinja.string();
  }
  auto templates_dir = folder / "additional_chat_templates";
  if (std::filesystem::is_directory(templates_dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(templates_dir))
      if (entry.path().extension() == ".jinja") {
        config.chat_templates[entry.path().stem().string()] = read_text_file(entry.path());
        config.chat_template_files[entry.path().stem().string()] = entry.path().string();
      }
  }
  return config;
}

}  // namespace transformers::tokenization
