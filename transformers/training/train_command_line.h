// The command line of `transformers train` as a value, parsed apart from the CLI so it can be
// tested on its own:
//   transformers train --model PATH --data train.jsonl [--eval-data eval.jsonl] [--args args.json]
//     [--lora r=8,alpha=16,dropout=0.05,target=q_proj,v_proj] [--max-length N] [--pack]
//     [TrainingArguments words: key=value, --key value, --flag]
// --args is read first, whatever its position; the TrainingArguments words then override it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "transformers/training/training_arguments.h"

namespace transformers::training {

struct LoraSpec {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  std::vector<std::string> target_modules;  // empty: the model's default targets
};

struct TrainCommand {
  std::string model, data;
  std::optional<std::string> eval_data, args_file;
  std::optional<LoraSpec> lora;
  std::optional<int64_t> max_length;
  bool pack = false;
  TrainingArguments args;
};

// `words` are the arguments after "train". Errors name the flag at fault.
TrainCommand parse_train_command_line(const std::vector<std::string>& words);
// "r=8,alpha=16,target=q_proj,v_proj": a word without '=' continues the previous list (target).
LoraSpec parse_lora_spec(const std::string& text);

}  // namespace transformers::training
