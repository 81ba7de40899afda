// tokenizer_config.json (+ special_tokens_map.json, chat_template.jinja): the settings that sit
// beside the pipeline in a checkpoint folder.
#pragma once

#include <cstddef>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "transformers/tokenization/tokenizer.h"

namespace transformers::tokenization {

struct TokenizerConfig {
  SpecialTokens special;
  std::map<std::string, std::string> chat_templates;  // "default" for an unnamed template
  std::map<std::string, std::string> chat_template_files;  // name -> the file it was read from
  size_t model_max_length = std::numeric_limits<size_t>::max();
  Side padding_side = Side::kRight;
  Side truncation_side = Side::kRight;
  bool clean_up_tokenization_spaces = false;
  std::optional<bool> add_bos_token, add_eos_token;
  // What tokenizer(text) returns: tokenizer_config.json's model_input_names, else the default of
  // its tokenizer_class as v5 defines it (token_type_ids only for BERT-like classes).
  std::vector<std::string> model_input_names = {"input_ids", "token_type_ids", "attention_mask"};
  std::string config_json = "{}";
};

// Reads the configuration files of `folder` (all optional; FormatError/ConfigError naming the
// file when one is malformed).
TokenizerConfig load_tokenizer_config(const std::filesystem::path& folder);

}  // namespace transformers::tokenization
