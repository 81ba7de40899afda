// The `transformers train` command line of the golden run (../shared/train_golden: its model,
// dataset and TrainingArguments) and the per-step entries of the trainer_state.json it writes,
// shared by the train and LoRA command tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "transformers/io/json.h"

namespace transformers::testing {

inline std::string golden_command(const std::filesystem::path& out, const std::string& extra = "") {
  return "train --model " + shared_path("train_golden").string() + " --data " +
         shared_path("train_golden/dataset.jsonl").string() + " --args " + shared_path("train_golden/args.json").string() +
         " output_dir=" + out.string() + " " + extra;
}

// The log_history entries that carry a training loss (one per logged step).
inline std::vector<Json> step_logs(const std::filesystem::path& out) {
  std::vector<Json> logs;
  const Json state = read_json_file(out / "trainer_state.json");
  for (const auto& entry : state.at("log_history"))
    if (entry.contains("loss")) logs.push_back(entry);
  return logs;
}

}  // namespace transformers::testing
