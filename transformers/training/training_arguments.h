// TrainingArguments with Transformers v5's names and defaults (training_args.py of 5.16), read
// from a JSON file (the layout of ../shared/train_golden/args.json) or from command-line words
// (`key=value`, `--key value`, `--key=value`, a bare `--flag` for a boolean). Unknown keys are
// errors naming them; v4 arguments that v5 removed are errors naming their replacement.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::training {

struct TrainingArguments {
  std::string output_dir = "trainer_output";
  bool do_train = false, do_eval = false;
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  double learning_rate = 5e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // <= 0: no clipping (the norm is still logged, as v5 does)
  double num_train_epochs = 3.0;
  int64_t max_steps = -1;  // > 0 overrides num_train_epochs
  std::string optim = "adamw_torch_fused";  // adamw_torch, adamw_torch_fused (same math), sgd
  std::optional<std::string> optim_args;    // "momentum=0.9,nesterov=True" (sgd)
  std::string lr_scheduler_type = "linear";
  Json lr_scheduler_kwargs = Json::object();
  double warmup_steps = 0;  // >= 1: steps (truncated); < 1: ratio of the total, ceil
  std::string logging_strategy = "steps";  // no, steps, epoch
  double logging_steps = 500;              // < 1: ratio of max_steps, ceil
  bool logging_first_step = false;
  bool logging_nan_inf_filter = true;
  std::string eval_strategy = "no";  // no, steps, epoch
  std::optional<double> eval_steps;  // defaults to logging_steps
  bool eval_on_start = false;
  std::string save_strategy = "steps";  // no, steps, epoch
  double save_steps = 500;
  std::optional<int64_t> save_total_limit;
  bool save_only_model = false;
  int64_t seed = 42;
  std::optional<int64_t> data_seed;
  bool bf16 = false, fp16 = false;
  bool use_cpu = false;
  Json report_to = "none";
  Json resume_from_checkpoint = nullptr;  // null, a path, or true (the latest checkpoint-N)
  bool average_tokens_across_devices = true;
  std::string train_sampling_strategy = "random";  // random, sequential
  bool dataloader_drop_last = false;
  int64_t dataloader_num_workers = 0;
  double label_smoothing_factor = 0.0;
  bool load_best_model_at_end = false;
  std::optional<std::string> metric_for_best_model;
  std::optional<bool> greater_is_better;
  std::optional<std::string> run_name;
  bool disable_tqdm = false;
  bool remove_unused_columns = true;
  bool gradient_checkpointing = false;
  bool prediction_loss_only = false;
  bool push_to_hub = false;

  // Reads args.json's layout; keys not named here are errors. `what` names the source.
  static TrainingArguments from_json(const Json& json, const std::string& what);
  static TrainingArguments from_json_file(const std::filesystem::path& path);
  // Applies `key=value`, `--key value`, `--key=value` and bare `--bool_key` words in order.
  void apply_command_line(const std::vector<std::string>& words);
  // Sets one argument from its text form (as a command line gives it).
  void set(const std::string& key, const std::string& value);
  // Checks the combination (fp16 on CPU, label smoothing, unknown optimizer or schedule, ...).
  void validate() const;

  Json to_json() const;  // every argument, keys sorted (as to_json_string(sort_keys=True))
  void save(const std::filesystem::path& path) const;  // training_args.json

  // get_warmup_steps: an int >= 1 is a step count, a float < 1 a ratio: ceil(total * ratio).
  int64_t resolved_warmup_steps(int64_t total_steps) const;
  // logging_steps / eval_steps / save_steps < 1 are ratios of max_steps (ceil), as v5 resolves.
  static int64_t resolve_interval(double steps, int64_t max_steps);
};

}  // namespace transformers::training
