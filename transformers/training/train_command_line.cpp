#include "transformers/training/train_command_line.h"

#include <sstream>

namespace transformers::training {
namespace {

double number_of(const std::string& text, const std::string& where) {
  size_t used = 0;
  try {
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw ConfigError(where + ": expected a number, got '" + text + "'");
}

}  // namespace

LoraSpec parse_lora_spec(const std::string& text) {
  LoraSpec spec;
  std::stringstream items(text);
  std::string item, last_key;
  while (std::getline(items, item, ',')) {
    const size_t equals = item.find('=');
    const std::string key = equals == std::string::npos ? last_key : item.substr(0, equals);
    const std::string value = equals == std::string::npos ? item : item.substr(equals + 1);
    const std::string where = "--lora " + key;
    if (key == "r") {
      const double r = number_of(value, where);
      TCPP_CHECK(r >= 1 && r == static_cast<double>(static_cast<int64_t>(r)), ConfigError, where,
                 ": the rank must be a positive integer, got '", value, "'");
      spec.r = static_cast<int64_t>(r);
    } else if (key == "alpha" || key == "lora_alpha") {
      spec.alpha = number_of(value, where);
    } else if (key == "dropout" || key == "lora_dropout") {
      spec.dropout = number_of(value, where);
      TCPP_CHECK(spec.dropout >= 0 && spec.dropout < 1, ConfigError, where, ": must be in [0, 1)");
    } else if (key == "target" || key == "target_modules") {
      TCPP_CHECK(!value.empty(), ConfigError, where, ": empty module name");
      spec.target_modules.push_back(value);
    } else {
      throw ConfigError("--lora: unknown key '" + (key.empty() ? item : key) +
                        "' (r, alpha, dropout, target)");
    }
    last_key = key == "target_modules" ? "target" : key;
    TCPP_CHECK(equals != std::string::npos || last_key == "target", ConfigError, "--lora: '", item,
               "' is not key=value");
  }
  return spec;
}

TrainCommand parse_train_command_line(const std::vector<std::string>& words) {
  TrainCommand command;
  std::vector<std::string> argument_words;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    auto value = [&](const char* flag) -> std::string {
      TCPP_CHECK(i + 1 < words.size(), ConfigError, flag, ": missing value");
      return words[++i];
    };
    if (word == "--model")
      command.model = value("--model");
    else if (word == "--data")
      command.data = value("--data");
    else if (word == "--eval-data")
      command.eval_data = value("--eval-data");
    else if (word == "--args")
      command.args_file = value("--args");
    else if (word == "--lora")
      command.lora = parse_lora_spec(value("--lora"));
    else if (word == "--max-length") {
      const double n = number_of(value("--max-length"), "--max-length");
      TCPP_CHECK(n >= 2 && n == static_cast<double>(static_cast<int64_t>(n)), ConfigError,
                 "--max-length: must be an integer >= 2");
      command.max_length = static_cast<int64_t>(n);
    } else if (word == "--pack")
      command.pack = true;
    else
      argument_words.push_back(word);
  }
  TCPP_CHECK(!command.model.empty(), ConfigError, "train: --model is required");
  TCPP_CHECK(!command.data.empty(), ConfigError, "train: --data is required");
  TCPP_CHECK(!command.pack || command.max_length, ConfigError, "--pack needs --max-length (the block size)");
  if (command.args_file) command.args = TrainingArguments::from_json_file(*command.args_file);
  command.args.apply_command_line(argument_words);
  command.args.validate();
  return command;
}

}  // namespace transformers::training
