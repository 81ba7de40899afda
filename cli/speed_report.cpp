#include "cli/speed_report.h"

namespace transformers::cli {

void SpeedReport::step(int64_t rows) {
  const Clock::time_point now = Clock::now();
  if (steps_ == 0) {
    first_ = now;
    first_rows_ = rows;
  }
  last_ = now;
  ++steps_;
  generated_ += rows;
}

void SpeedReport::print(std::FILE* out) const {
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  if (steps_ == 0) {
    std::fprintf(out, "prompt: %lld tokens | total: %.2f s\n", static_cast<long long>(prompt_tokens_),
                 seconds(Clock::now() - start_));
    return;
  }
  const double ttft = seconds(first_ - start_);
  std::fprintf(out, "prompt: %lld tokens, %.1f tokens/s | generation: %lld tokens", static_cast<long long>(prompt_tokens_),
               ttft > 0 ? static_cast<double>(prompt_tokens_) / ttft : 0.0, static_cast<long long>(generated_));
  // The first token comes with the prefill; the decode rate is over the steps after it.
  const double decode = seconds(last_ - first_);
  if (steps_ > 1 && decode > 0)
    std::fprintf(out, ", %.1f tokens/s", static_cast<double>(generated_ - first_rows_) / decode);
  std::fprintf(out, " | time to first token: %.1f ms\n", ttft * 1e3);
}

}  // namespace transformers::cli
