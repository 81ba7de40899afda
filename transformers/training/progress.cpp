#include "transformers/training/progress.h"

namespace transformers::training {

void ProgressCallback::on_train_begin(const TrainingArguments&, const TrainerState& state, TrainerControl&) {
  start_ = std::chrono::steady_clock::now();
  start_tokens_ = state.num_input_tokens_seen;
}

void ProgressCallback::on_log(const TrainingArguments&, const TrainerState&, TrainerControl&, const OrderedJson& logs) {
  if (logs.contains("loss")) {
    loss_ = logs["loss"].get<double>();
    have_loss_ = true;
  }
  if (logs.contains("learning_rate")) learning_rate_ = logs["learning_rate"].get<double>();
}

void ProgressCallback::on_step_end(const TrainingArguments&, const TrainerState& state, TrainerControl&) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double tokens_per_second =
      seconds > 0 ? static_cast<double>(state.num_input_tokens_seen - start_tokens_) / seconds : 0.0;
  std::fprintf(out_, "\r\033[Kstep %lld/%lld", static_cast<long long>(state.global_step),
               static_cast<long long>(state.max_steps));
  if (have_loss_) std::fprintf(out_, " | loss %.4f | lr %.3e", loss_, learning_rate_);
  std::fprintf(out_, " | %.0f tokens/s", tokens_per_second);
  std::fflush(out_);
}

void ProgressCallback::on_train_end(const TrainingArguments&, const TrainerState&, TrainerControl&) {
  std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace transformers::training
