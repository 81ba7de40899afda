// TrainerState, TrainerControl and TrainerCallback as Transformers names them: the state is
// written as trainer_state.json in Transformers' layout (keys sorted, log_history a list of
// dicts), so tools that read a Transformers run read ours.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "transformers/io/json.h"
#include "transformers/training/training_arguments.h"

namespace transformers::training {

struct TrainerState {
  double epoch = 0;
  int64_t global_step = 0;
  int64_t max_steps = 0;
  int64_t num_train_epochs = 0;
  int64_t logging_steps = 500, eval_steps = 500, save_steps = 500;
  int64_t train_batch_size = 0;
  int64_t num_input_tokens_seen = 0;  // non-padding input tokens of the micro-batches trained on
  double total_flos = 0;
  OrderedJson log_history = OrderedJson::array();
  std::optional<double> best_metric;
  std::optional<std::string> best_model_checkpoint;

  // Takes the progress of a checkpoint's state (step, epoch, history, tokens, flos, best metric);
  // the schedule fields (max_steps, logging/eval/save steps, batch size) stay this run's.
  void continue_from(const TrainerState& saved);

  Json to_json() const;
  static TrainerState from_json(const Json& json, const std::string& what);
  void save(const std::filesystem::path& path) const;
  static TrainerState load(const std::filesystem::path& path);
};

struct TrainerControl {
  bool should_training_stop = false;
  bool should_epoch_stop = false;
  bool should_log = false, should_evaluate = false, should_save = false;
};

// Hooks called by the Trainer at the same points as Transformers' TrainerCallback; a callback
// may set the flags of `control` (e.g. should_training_stop).
class TrainerCallback {
 public:
  virtual ~TrainerCallback() = default;
  virtual void on_train_begin(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_train_end(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_epoch_begin(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_epoch_end(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_step_begin(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_step_end(const TrainingArguments&, const TrainerState&, TrainerControl&) {}
  virtual void on_log(const TrainingArguments&, const TrainerState&, TrainerControl&, const OrderedJson& /*logs*/) {}
  virtual void on_evaluate(const TrainingArguments&, const TrainerState&, TrainerControl&,
                           const OrderedJson& /*metrics*/) {}
  virtual void on_save(const TrainingArguments&, const TrainerState&, TrainerControl&,
                       const std::filesystem::path& /*checkpoint*/) {}
};

}  // namespace transformers::training
