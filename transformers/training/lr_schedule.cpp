#include "transformers/training/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

namespace transformers::training {
namespace {

double warmup_fraction(int64_t step, int64_t warmup) {
  return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
}

void check_kwargs(const Json& kwargs, const std::string& type, std::set<std::string> allowed) {
  TCPP_CHECK(kwargs.is_object(), ConfigError, "lr_scheduler_kwargs must be an object");
  for (const auto& [key, value] : kwargs.items())
    TCPP_CHECK(allowed.count(key), ConfigError, "lr_scheduler_kwargs: '", key, "' is not an argument of the '",
               type, "' schedule");
}

}  // namespace

LrSchedule::LrSchedule(std::string type, double base_lr, int64_t warmup_steps, int64_t total_steps,
                       const Json& kwargs)
    : type_(std::move(type)), base_lr_(base_lr), warmup_(warmup_steps), total_(total_steps) {
  const std::string where = "lr_scheduler_kwargs";
  if (type_ == "cosine") {
    check_kwargs(kwargs, type_, {"num_cycles"});
    num_cycles_ = json_get_or<double>(kwargs, "num_cycles", 0.5, where);
  } else if (type_ == "cosine_with_restarts") {
    check_kwargs(kwargs, type_, {"num_cycles"});
    num_cycles_ = json_get_or<double>(kwargs, "num_cycles", 1.0, where);
  } else if (type_ == "polynomial") {
    check_kwargs(kwargs, type_, {"lr_end", "power"});
    lr_end_ = json_get_or<double>(kwargs, "lr_end", 1e-7, where);
    power_ = json_get_or<double>(kwargs, "power", 1.0, where);
    TCPP_CHECK(base_lr_ > lr_end_, ConfigError, "lr_scheduler_kwargs: lr_end (", lr_end_,
               ") must be smaller than the initial lr (", base_lr_, ")");
  } else if (type_ == "warmup_stable_decay") {
    check_kwargs(kwargs, type_,
                 {"num_decay_steps", "num_stable_steps", "warmup_type", "decay_type", "min_lr_ratio", "num_cycles"});
    num_decay_steps_ = json_get<int64_t>(kwargs, "num_decay_steps", where);
    num_stable_steps_ = json_get_or<int64_t>(kwargs, "num_stable_steps", total_ - warmup_ - num_decay_steps_, where);
    warmup_type_ = json_get_or<std::string>(kwargs, "warmup_type", "linear", where);
    decay_type_ = json_get_or<std::string>(kwargs, "decay_type", "cosine", where);
    min_lr_ratio_ = json_get_or<double>(kwargs, "min_lr_ratio", 0.0, where);
    num_cycles_ = json_get_or<double>(kwargs, "num_cycles", 0.5, where);
    for (const std::string* shape : {&warmup_type_, &decay_type_})
      TCPP_CHECK(*shape == "linear" || *shape == "cosine" || *shape == "1-sqrt", ConfigError,
                 "lr_scheduler_kwargs: unknown warmup/decay type '", *shape, "' (linear, cosine or 1-sqrt)");
  } else if (type_ == "linear" || type_ == "constant" || type_ == "constant_with_warmup" ||
             type_ == "inverse_sqrt") {
    // get_scheduler passes no specific kwargs to these (linear takes none).
    check_kwargs(kwargs, type_, {});
  } else {
    throw ConfigError("lr_scheduler_type: unknown schedule '" + type_ + "'");
  }
}

double LrSchedule::lambda(int64_t step) const {
  const double pi = std::numbers::pi;
  if (type_ == "constant") return 1.0;
  if (type_ == "warmup_stable_decay") {
    if (step < warmup_) {
      const double progress = warmup_fraction(step, warmup_);
      double factor = progress;
      if (warmup_type_ == "cosine") factor = 0.5 * (1.0 - std::cos(pi * progress));
      if (warmup_type_ == "1-sqrt") factor = 1.0 - std::sqrt(1.0 - progress);
      return std::max(0.0, factor * (1.0 - min_lr_ratio_) + min_lr_ratio_);
    }
    if (step < warmup_ + num_stable_steps_) return 1.0;
    if (step < warmup_ + num_stable_steps_ + num_decay_steps_) {
      const double progress = static_cast<double>(step - warmup_ - num_stable_steps_) /
                              static_cast<double>(std::max<int64_t>(1, num_decay_steps_));
      double factor = 1.0 - progress;
      if (decay_type_ == "cosine") factor = 0.5 * (1.0 + std::cos(pi * num_cycles_ * 2.0 * progress));
      if (decay_type_ == "1-sqrt") factor = 1.0 - std::sqrt(progress);
      return std::max(0.0, factor * (1.0 - min_lr_ratio_) + min_lr_ratio_);
    }
    return min_lr_ratio_;
  }
  if (step < warmup_) return warmup_fraction(step, warmup_);
  const double progress =
      static_cast<double>(step - warmup_) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
  if (type_ == "constant_with_warmup") return 1.0;
  if (type_ == "linear")
    return std::max(0.0, static_cast<double>(total_ - step) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_)));
  if (type_ == "cosine") return std::max(0.0, 0.5 * (1.0 + std::cos(pi * num_cycles_ * 2.0 * progress)));
  if (type_ == "cosine_with_restarts") {
    if (progress >= 1.0) return 0.0;
    return std::max(0.0, 0.5 * (1.0 + std::cos(pi * std::fmod(num_cycles_ * progress, 1.0))));
  }
  if (type_ == "polynomial") {
    if (step > total_) return lr_end_ / base_lr_;
    const double lr_range = base_lr_ - lr_end_;
    const double decay_steps = static_cast<double>(total_ - warmup_);
    const double pct_remaining = 1.0 - static_cast<double>(step - warmup_) / decay_steps;
    return (lr_range * std::pow(pct_remaining, power_) + lr_end_) / base_lr_;
  }
  // inverse_sqrt: timescale = num_warmup_steps or 10_000 (get_scheduler passes no timescale).
  const int64_t timescale = warmup_ != 0 ? warmup_ : 10000;
  const int64_t shift = timescale - warmup_;
  return 1.0 / std::sqrt(static_cast<double>(step + shift) / static_cast<double>(timescale));
}

}  // namespace transformers::training
