// The Trainer: Transformers v5's training loop (trainer.py: _inner_training_loop, _run_epoch,
// _maybe_log_save_evaluate) over a TrainableModel, with the loss normalisation, logging and
// schedule of ../shared/train_golden/SEMANTICS.md:
//   - each optimizer step takes its micro-batches (GA of them, fewer at an epoch's end), counts
//     num_items_in_batch once over all of them (count_shifted_targets) and adds their gradients;
//   - the gradient is clipped (grad_norm = the norm before clipping), the optimizer steps with the
//     rate lr*lambda(step-1), and that rate is what is logged;
//   - the logged loss is a float32 running sum of micro-batch losses divided by the steps since
//     the last log (NaN/inf replaced by the running average when logging_nan_inf_filter).
// Checkpoints (checkpoint.h) resume exactly: the sampler order is a function of (seed, epoch).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "transformers/training/dataset.h"
#include "transformers/training/lr_schedule.h"
#include "transformers/training/optimizer.h"
#include "transformers/training/trainable.h"
#include "transformers/training/trainer_state.h"
#include "transformers/training/training_arguments.h"

namespace transformers::training {

struct TrainOutput {
  int64_t global_step = 0;
  double training_loss = 0;
  OrderedJson metrics;  // train_runtime, train_samples_per_second, ..., train_loss, epoch
};

class Trainer {
 public:
  // `pad_token_id` pads the micro-batches (the tokenizer's pad id, else its eos id, else 0).
  Trainer(TrainableModel& model, TrainingArguments args, std::vector<Example> train_dataset,
          std::vector<Example> eval_dataset = {}, int64_t pad_token_id = 0);

  void add_callback(std::shared_ptr<TrainerCallback> callback) { callbacks_.push_back(std::move(callback)); }

  // Trains to max_steps (or num_train_epochs), resuming first when args.resume_from_checkpoint
  // is a path or true (the latest complete checkpoint-N of output_dir). At the end writes
  // output_dir/trainer_state.json, training_args.json and loss.png.
  TrainOutput train();
  // The eval loss over eval_dataset (Transformers' per-sample mean of batch-mean losses) and
  // its perplexity, logged as eval_loss, eval_perplexity, eval_runtime, ...
  OrderedJson evaluate();
  // Writes output_dir/checkpoint-<global_step>/ (see checkpoint.h) and rotates old ones.
  std::filesystem::path save_checkpoint();
  // The model in Hugging Face's layout (TrainableModel::save_pretrained).
  void save_model(const std::filesystem::path& folder) const { model_.save_pretrained(folder); }

  const TrainerState& state() const { return state_; }
  const TrainingArguments& args() const { return args_; }
  Optimizer& optimizer() { return *optimizer_; }

 private:
  friend struct CheckpointAccess;
  struct Plan {
    int64_t micro_batches_per_epoch = 0, updates_per_epoch = 0, max_steps = 0, epochs = 0;
  };
  Plan plan() const;
  void resume(const std::filesystem::path& checkpoint);
  void run_optimizer_step(const std::vector<std::vector<size_t>>& window, int64_t epoch, int64_t window_end,
                          int64_t micro_batches_in_epoch);
  void maybe_log_save_evaluate(bool epoch_end);
  void log(OrderedJson logs);
  template <typename Hook>
  void for_each_callback(Hook hook) {
    for (auto& callback : callbacks_) hook(*callback);
  }

  TrainableModel& model_;
  TrainingArguments args_;
  std::vector<Example> train_dataset_, eval_dataset_;
  int64_t pad_token_id_;
  std::vector<std::shared_ptr<TrainerCallback>> callbacks_;
  std::vector<ParameterBuffer> buffers_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  TrainerState state_;
  TrainerControl control_;
  // The loop's running values (Trainer._tr_loss, _globalstep_last_logged, _total_loss_scalar),
  // saved with checkpoints so a resumed run logs exactly what the uninterrupted one logs.
  float running_loss_ = 0.0f;
  int64_t last_logged_step_ = 0;
  double total_loss_ = 0.0;
  float last_grad_norm_ = 0.0f;
  double last_learning_rate_ = 0.0;
  std::chrono::steady_clock::time_point start_time_;
  std::filesystem::path resume_checkpoint_;
};

}  // namespace transformers::training
