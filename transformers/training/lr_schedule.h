// Learning-rate schedules of Transformers (optimization.py: get_scheduler) as torch's LambdaLR
// applies them: the rate of optimizer step k (1-based) is base_lr * lambda(k - 1). Formulas are
// those of Transformers, evaluated in double as Python does.
#pragma once

#include <cstdint>
#include <string>

#include "transformers/io/json.h"

namespace transformers::training {

class LrSchedule {
 public:
  // `kwargs` is lr_scheduler_kwargs (num_cycles, lr_end, power, num_decay_steps,
  // num_stable_steps, warmup_type, decay_type, min_lr_ratio); unknown keys are errors.
  LrSchedule(std::string type, double base_lr, int64_t warmup_steps, int64_t total_steps,
             const Json& kwargs = Json::object());

  double lambda(int64_t step) const;  // LambdaLR's lr_lambda(last_epoch)
  // The rate optimizer step `step` (1-based) uses: base_lr * lambda(step - 1).
  double rate_for_step(int64_t step) const { return base_lr_ * lambda(step - 1); }
  double base_lr() const { return base_lr_; }
  int64_t warmup_steps() const { return warmup_; }
  int64_t total_steps() const { return total_; }

 private:
  std::string type_;
  double base_lr_;
  int64_t warmup_, total_;
  double num_cycles_ = 0.5, lr_end_ = 1e-7, power_ = 1.0, min_lr_ratio_ = 0.0;
  int64_t num_stable_steps_ = 0, num_decay_steps_ = 0;
  std::string warmup_type_ = "linear", decay_type_ = "cosine";
};

}  // namespace transformers::training
