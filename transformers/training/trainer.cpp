#include "transformers/training/trainer.h"

#include <cmath>

#include <unistd.h>

#include "transformers/core/autograd.h"
#include "transformers/io/files.h"
#include "transformers/training/checkpoint.h"
#include "transformers/training/loss_plot.h"
#include "transformers/training/progress.h"

namespace transformers::training {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(value * scale) / scale;
}

std::vector<ParameterBuffer> buffers_of(TrainableModel& model) {
  std::vector<ParameterBuffer> buffers;
  for (TrainableParameter* p : model.parameters()) {
    TCPP_CHECK(p->value.dtype() == DType::F32 && p->grad.dtype() == DType::F32 && p->value.is_contiguous() &&
                   p->grad.is_contiguous() && p->value.numel() == p->grad.numel(),
               ShapeError, "Trainer: parameter '", p->name, "' must be contiguous float32 with a gradient of its shape");
    const auto n = static_cast<size_t>(p->value.numel());
    buffers.push_back({p->name, {p->value.data<float>(), n}, {p->grad.data<float>(), n}, p->weight_decay});
  }
  TCPP_CHECK(!buffers.empty(), ValueError, "Trainer: the model has no trainable parameters");
  return buffers;
}

int64_t input_tokens(std::span<const Example* const> rows) {
  int64_t n = 0;
  for (const Example* row : rows) n += static_cast<int64_t>(row->input_ids.size());
  return n;
}

}  // namespace

Trainer::Trainer(TrainableModel& model, TrainingArguments args, std::vector<Example> train_dataset,
                 std::vector<Example> eval_dataset, int64_t pad_token_id)
    : model_(model),
      args_(std::move(args)),
      train_dataset_(std::move(train_dataset)),
      eval_dataset_(std::move(eval_dataset)),
      pad_token_id_(pad_token_id) {
  args_.validate();
  TCPP_CHECK(args_.eval_strategy == "no" || !eval_dataset_.empty(), ConfigError,
             "Trainer: eval_strategy='", args_.eval_strategy, "' needs an eval dataset");
  buffers_ = buffers_of(model_);
  optimizer_ = make_optimizer(args_, buffers_);
  if (!args_.disable_tqdm && ::isatty(STDERR_FILENO)) add_callback(std::make_shared<ProgressCallback>());
}

Trainer::Plan Trainer::plan() const {
  Plan p;
  const auto n = static_cast<int64_t>(train_dataset_.size());
  const int64_t batch = args_.per_device_train_batch_size, accumulation = args_.gradient_accumulation_steps;
  p.micro_batches_per_epoch = args_.dataloader_drop_last ? n / batch : (n + batch - 1) / batch;
  TCPP_CHECK(p.micro_batches_per_epoch > 0, ValueError, "Trainer: the train dataset (", n,
             " rows) gives no full batch of ", batch);
  p.updates_per_epoch = std::max<int64_t>(1, (p.micro_batches_per_epoch + accumulation - 1) / accumulation);
  if (args_.max_steps > 0) {
    p.max_steps = args_.max_steps;
    p.epochs = (p.max_steps + p.updates_per_epoch - 1) / p.updates_per_epoch;
  } else {
    p.max_steps = static_cast<int64_t>(std::ceil(args_.num_train_epochs * static_cast<double>(p.updates_per_epoch)));
    p.epochs = static_cast<int64_t>(std::ceil(args_.num_train_epochs));
  }
  return p;
}

TrainOutput Trainer::train() {
  TCPP_CHECK(!train_dataset_.empty(), ValueError, "Trainer: the train dataset is empty");
  const Plan p = plan();
  const int64_t warmup = args_.resolved_warmup_steps(p.max_steps);
  schedule_ = std::make_unique<LrSchedule>(args_.lr_scheduler_type, args_.learning_rate, warmup, p.max_steps,
                                           args_.lr_scheduler_kwargs);
  state_ = TrainerState{};
  state_.max_steps = p.max_steps;
  state_.num_train_epochs = p.epochs;
  state_.train_batch_size = args_.per_device_train_batch_size;
  state_.logging_steps = TrainingArguments::resolve_interval(args_.logging_steps, p.max_steps);
  state_.eval_steps = TrainingArguments::resolve_interval(args_.eval_steps.value_or(args_.logging_steps), p.max_steps);
  state_.save_steps = TrainingArguments::resolve_interval(args_.save_steps, p.max_steps);
  running_loss_ = 0.0f;
  last_logged_step_ = 0;
  total_loss_ = 0.0;
  control_ = TrainerControl{};
  optimizer_->zero_grad();

  resume_checkpoint_.clear();
  const Json& resume_from = args_.resume_from_checkpoint;
  if (resume_from.is_string()) {
    resume_checkpoint_ = resume_from.get<std::string>();
  } else if (resume_from.is_boolean() && resume_from.get<bool>()) {
    auto latest = latest_checkpoint(args_.output_dir);
    TCPP_CHECK(latest, IoError, "resume_from_checkpoint=true: no complete checkpoint-N in ", args_.output_dir);
    resume_checkpoint_ = *latest;
  }
  if (!resume_checkpoint_.empty()) resume(resume_checkpoint_);

  start_time_ = std::chrono::steady_clock::now();
  for_each_callback([&](TrainerCallback& c) { c.on_train_begin(args_, state_, control_); });
  if (args_.eval_on_start && state_.global_step == 0) evaluate();

  const int64_t accumulation = args_.gradient_accumulation_steps;
  const int64_t first_epoch = state_.global_step / p.updates_per_epoch;
  const int64_t skipped_micro_batches = (state_.global_step % p.updates_per_epoch) * accumulation;
  const uint64_t seed = static_cast<uint64_t>(args_.data_seed.value_or(args_.seed));
  for (int64_t epoch = first_epoch; epoch < p.epochs && state_.global_step < p.max_steps; ++epoch) {
    const std::vector<size_t> order = epoch_order(train_dataset_.size(), args_.train_sampling_strategy, seed, epoch);
    std::vector<std::vector<size_t>> micro_batches;
    for (int64_t b = 0; b < p.micro_batches_per_epoch; ++b) {
      const size_t begin = static_cast<size_t>(b * args_.per_device_train_batch_size);
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(args_.per_device_train_batch_size));
      micro_batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                 order.begin() + static_cast<std::ptrdiff_t>(end));
    }
    control_.should_epoch_stop = false;
    for_each_callback([&](TrainerCallback& c) { c.on_epoch_begin(args_, state_, control_); });
    const int64_t start = epoch == first_epoch ? skipped_micro_batches : 0;
    for (int64_t window_start = start; window_start < p.micro_batches_per_epoch; window_start += accumulation) {
      const int64_t window_end = std::min(p.micro_batches_per_epoch, window_start + accumulation);
      std::vector<std::vector<size_t>> window(micro_batches.begin() + window_start, micro_batches.begin() + window_end);
      run_optimizer_step(window, epoch, window_end, p.micro_batches_per_epoch);
      if (state_.global_step >= p.max_steps) control_.should_training_stop = true;
      maybe_log_save_evaluate(false);
      if (control_.should_training_stop || control_.should_epoch_stop) break;
    }
    for_each_callback([&](TrainerCallback& c) { c.on_epoch_end(args_, state_, control_); });
    maybe_log_save_evaluate(true);
    if (control_.should_training_stop) break;
  }

  // The remainder since the last log joins the total, as Trainer.train's final accounting does.
  total_loss_ += static_cast<double>(running_loss_);
  running_loss_ = 0.0f;
  const double runtime = seconds_since(start_time_);
  const double steps = std::max<double>(static_cast<double>(state_.global_step), 0.001);
  const double samples = args_.max_steps > 0
                             ? static_cast<double>(p.max_steps * args_.per_device_train_batch_size * accumulation)
                             : static_cast<double>(train_dataset_.size()) * args_.num_train_epochs;
  TrainOutput output;
  output.global_step = state_.global_step;
  output.training_loss = total_loss_ / steps;
  output.metrics = {{"train_runtime", round_to(runtime, 4)},
                    {"train_samples_per_second", round_to(samples / std::max(runtime, 1e-9), 3)},
                    {"train_steps_per_second", round_to(static_cast<double>(p.max_steps) / std::max(runtime, 1e-9), 3)},
                    {"total_flos", state_.total_flos},
                    {"train_loss", output.training_loss}};
  log(output.metrics);
  for_each_callback([&](TrainerCallback& c) { c.on_train_end(args_, state_, control_); });

  fs::create_directories(args_.output_dir);
  state_.save(fs::path(args_.output_dir) / "trainer_state.json");
  args_.save(fs::path(args_.output_dir) / "training_args.json");
  write_loss_plot(state_.log_history, fs::path(args_.output_dir) / "loss.png");
  return output;
}

void Trainer::run_optimizer_step(const std::vector<std::vector<size_t>>& window, int64_t epoch, int64_t window_end,
                                 int64_t micro_batches_in_epoch) {
  for_each_callback([&](TrainerCallback& c) { c.on_step_begin(args_, state_, control_); });
  // get_batch_samples: the step's micro-batches fetched first, the targets counted once over all.
  std::vector<std::vector<const Example*>> rows(window.size());
  std::vector<Batch> batches;
  int64_t num_items_in_batch = 0;
  for (size_t i = 0; i < window.size(); ++i) {
    for (size_t index : window[i]) rows[i].push_back(&train_dataset_[index]);
    batches.push_back(collate(rows[i], pad_token_id_));
    num_items_in_batch += count_shifted_targets(batches.back().labels);
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    // A function of (seed, step, micro-batch) alone: resuming at a step draws the same masks.
    model_.set_random_stream((static_cast<uint64_t>(args_.seed) << 32) ^
                             (static_cast<uint64_t>(state_.global_step) * static_cast<uint64_t>(args_.gradient_accumulation_steps) + i));
    // bf16: the step's linears under bf16 autocast; weights, gradients and optimizer state stay f32.
    const autograd::AutocastBf16 autocast(args_.bf16);
    const float loss = model_.forward_backward(batches[i], num_items_in_batch);
    if (args_.logging_nan_inf_filter && !std::isfinite(loss))
      running_loss_ = running_loss_ + running_loss_ / static_cast<float>(1 + state_.global_step - last_logged_step_);
    else
      running_loss_ = running_loss_ + loss;
    state_.num_input_tokens_seen += input_tokens(rows[i]);
  }
  last_grad_norm_ = clip_grad_norm(buffers_, args_.max_grad_norm);
  last_learning_rate_ = schedule_->rate_for_step(state_.global_step + 1);
  optimizer_->step(last_learning_rate_);
  optimizer_->zero_grad();
  state_.global_step += 1;
  state_.epoch = static_cast<double>(epoch) + static_cast<double>(window_end) / static_cast<double>(micro_batches_in_epoch);
  for_each_callback([&](TrainerCallback& c) { c.on_step_end(args_, state_, control_); });
}

void Trainer::maybe_log_save_evaluate(bool epoch_end) {
  const int64_t step = state_.global_step;
  // DefaultFlowCallback's decisions.
  if (epoch_end) {
    control_.should_log |= args_.logging_strategy == "epoch";
    control_.should_evaluate |= args_.eval_strategy == "epoch";
    control_.should_save |= args_.save_strategy == "epoch";
  } else {
    control_.should_log |= (args_.logging_first_step && step == 1) ||
                           (args_.logging_strategy == "steps" && step % state_.logging_steps == 0);
    control_.should_evaluate |= args_.eval_strategy == "steps" && step % state_.eval_steps == 0;
    control_.should_save |= args_.save_strategy == "steps" && step % state_.save_steps == 0;
    if (step >= state_.max_steps && args_.save_strategy == "steps") control_.should_save = true;
  }
  if (control_.should_log && step > last_logged_step_) {
    const double loss_sum = static_cast<double>(running_loss_);
    running_loss_ = 0.0f;
    OrderedJson logs;
    logs["loss"] = loss_sum / static_cast<double>(step - last_logged_step_);
    logs["grad_norm"] = static_cast<double>(last_grad_norm_);
    logs["learning_rate"] = last_learning_rate_;
    total_loss_ += loss_sum;
    last_logged_step_ = step;
    log(std::move(logs));
  }
  control_.should_log = false;
  if (control_.should_evaluate) {
    control_.should_evaluate = false;
    evaluate();
  }
  if (control_.should_save) {
    control_.should_save = false;
    save_checkpoint();
  }
}

void Trainer::log(OrderedJson logs) {
  logs["epoch"] = state_.epoch;
  logs["step"] = state_.global_step;
  state_.log_history.push_back(logs);
  for_each_callback([&](TrainerCallback& c) { c.on_log(args_, state_, control_, logs); });
}

OrderedJson Trainer::evaluate() {
  TCPP_CHECK(!eval_dataset_.empty(), ValueError, "Trainer.evaluate: no eval dataset");
  const auto start = std::chrono::steady_clock::now();
  double weighted_loss = 0;
  int64_t batches = 0;
  const auto batch_size = static_cast<size_t>(args_.per_device_eval_batch_size);
  for (size_t begin = 0; begin < eval_dataset_.size(); begin += batch_size, ++batches) {
    std::vector<const Example*> rows;
    for (size_t i = begin; i < std::min(eval_dataset_.size(), begin + batch_size); ++i) rows.push_back(&eval_dataset_[i]);
    // The model's loss of the batch in float32, repeated once per row (evaluation_loop); with
    // bf16, under the autocast of the training forward (accelerate wraps the model's forward).
    const autograd::AutocastBf16 autocast(args_.bf16);
    const float batch_loss = model_.eval_loss(collate(rows, pad_token_id_));
    weighted_loss += static_cast<double>(batch_loss) * static_cast<double>(rows.size());
  }
  const double eval_loss = weighted_loss / static_cast<double>(eval_dataset_.size());
  const double runtime = seconds_since(start);
  OrderedJson metrics;
  metrics["eval_loss"] = eval_loss;
  metrics["eval_perplexity"] = std::exp(eval_loss);  // run_clm's math.exp (inf on overflow)
  metrics["eval_runtime"] = round_to(runtime, 4);
  metrics["eval_samples_per_second"] = round_to(static_cast<double>(eval_dataset_.size()) / std::max(runtime, 1e-9), 3);
  metrics["eval_steps_per_second"] = round_to(static_cast<double>(batches) / std::max(runtime, 1e-9), 3);
  log(metrics);
  for_each_callback([&](TrainerCallback& c) { c.on_evaluate(args_, state_, control_, metrics); });
  return metrics;
}

fs::path Trainer::save_checkpoint() {
  const fs::path target = fs::path(args_.output_dir) / ("checkpoint-" + std::to_string(state_.global_step));
  write_folder_atomically(target, [&](const fs::path& folder) {
    model_.save_pretrained(folder);
    if (!args_.save_only_model) {
      optimizer_->save(folder);
      const double last_rate = schedule_->rate_for_step(state_.global_step + 1);
      const Json scheduler = {{"type", args_.lr_scheduler_type},
                              {"last_epoch", state_.global_step},
                              {"base_lrs", {schedule_->base_lr()}},
                              {"_last_lr", {last_rate}},
                              {"num_warmup_steps", schedule_->warmup_steps()},
                              {"num_training_steps", schedule_->total_steps()}};
      write_file_atomically(folder / "scheduler.json", scheduler.dump(2) + "\n");
      const Json rng = {{"seed", args_.seed},
                        {"data_seed", args_.data_seed ? Json(*args_.data_seed) : Json(nullptr)},
                        {"train_sampling_strategy", args_.train_sampling_strategy},
                        {"generator", "mt19937_64 seeded by (seed, epoch); no state beyond them"}};
      write_file_atomically(folder / "rng_state.json", rng.dump(2) + "\n");
      const Json loop = {{"running_loss", static_cast<double>(running_loss_)},
                         {"globalstep_last_logged", last_logged_step_},
                         {"total_loss", total_loss_},
                         {"last_grad_norm", static_cast<double>(last_grad_norm_)},
                         {"last_learning_rate", last_learning_rate_}};
      write_file_atomically(folder / "trainer_loop.json", loop.dump(2) + "\n");
    }
    state_.save(folder / "trainer_state.json");
    args_.save(folder / "training_args.json");
  });
  if (args_.save_total_limit) rotate_checkpoints(args_.output_dir, *args_.save_total_limit);
  for_each_callback([&](TrainerCallback& c) { c.on_save(args_, state_, control_, target); });
  return target;
}

void Trainer::resume(const fs::path& checkpoint) {
  TCPP_CHECK(fs::is_directory(checkpoint), IoError, "resume_from_checkpoint: ", checkpoint.string(), " is not a folder");
  const TrainerState saved = TrainerState::load(checkpoint / "trainer_state.json");
  TCPP_CHECK(saved.max_steps == state_.max_steps, ConfigError, checkpoint.string(),
             ": trainer_state.json was written for max_steps=", saved.max_steps, ", this run has ", state_.max_steps);
  load_model_weights(checkpoint, buffers_);
  optimizer_->load(checkpoint);
  const fs::path loop_file = checkpoint / "trainer_loop.json";
  const Json loop = read_json_file(loop_file);
  running_loss_ = static_cast<float>(json_get<double>(loop, "running_loss", loop_file.string()));
  last_logged_step_ = json_get<int64_t>(loop, "globalstep_last_logged", loop_file.string());
  total_loss_ = json_get<double>(loop, "total_loss", loop_file.string());
  last_grad_norm_ = static_cast<float>(json_get<double>(loop, "last_grad_norm", loop_file.string()));
  last_learning_rate_ = json_get<double>(loop, "last_learning_rate", loop_file.string());
  TCPP_CHECK(optimizer_->steps_taken() == saved.global_step, FormatError, checkpoint.string(),
             ": the optimizer state has ", optimizer_->steps_taken(), " steps, trainer_state.json ", saved.global_step);
  state_.continue_from(saved);
}

}  // namespace transformers::training
