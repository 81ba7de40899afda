// Trainer.evaluate on the rows of a PyTorch reference output (tests/training/data/*.json: "rows",
// each its own labels, and "per_device_eval_batch_size"), shared by the tests that compare
// eval_loss with torch's (the MoE auxiliary term, bf16 autocast).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "transformers/io/json.h"
#include "transformers/training/trainer.h"

namespace transformers::testing {

inline double reference_eval_loss(training::TrainableModel& model, const Json& reference, const std::string& scratch,
                                  bool bf16, int64_t pad_token_id) {
  std::vector<training::Example> rows;
  for (const Json& row : reference.at("rows")) {
    const auto ids = row.get<std::vector<int64_t>>();
    rows.push_back({ids, ids});
  }
  training::TrainingArguments args;
  args.output_dir = scratch_dir(scratch).string();
  args.per_device_eval_batch_size = reference.at("per_device_eval_batch_size").get<int64_t>();
  args.bf16 = bf16;
  training::Trainer trainer(model, args, {}, rows, pad_token_id);
  return trainer.evaluate().at("eval_loss").get<double>();
}

}  // namespace transformers::testing
