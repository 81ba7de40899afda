// The one-line progress display of a run on a terminal: step, loss, learning rate and training
// tokens per second, redrawn in place on stderr (the Trainer adds it when stderr is a tty and
// disable_tqdm is false).
#pragma once

#include <chrono>
#include <cstdio>

#include "transformers/training/trainer_state.h"

namespace transformers::training {

class ProgressCallback : public TrainerCallback {
 public:
  explicit ProgressCallback(std::FILE* out = stderr) : out_(out) {}
  void on_train_begin(const TrainingArguments&, const TrainerState& state, TrainerControl&) override;
  void on_step_end(const TrainingArguments&, const TrainerState& state, TrainerControl&) override;
  void on_log(const TrainingArguments&, const TrainerState& state, TrainerControl&, const OrderedJson& logs) override;
  void on_train_end(const TrainingArguments&, const TrainerState& state, TrainerControl&) override;

 private:
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
  int64_t start_tokens_ = 0;
  double loss_ = 0, learning_rate_ = 0;
  bool have_loss_ = false;
};

}  // namespace transformers::training
