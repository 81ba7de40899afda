// The speed line `generate` prints on stderr, as llama.cpp's and Transformers' users expect one:
// prompt tokens and their rate (prefill, up to the first new token), generated tokens and their
// rate after the first, and the time to the first token.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace transformers::cli {

class SpeedReport {
 public:
  // prompt_tokens: all rows together. The clock starts here.
  explicit SpeedReport(int64_t prompt_tokens) : prompt_tokens_(prompt_tokens), start_(Clock::now()) {}
  // One generation step produced `rows` tokens (one per row).
  void step(int64_t rows);
  // "prompt: 12 tokens, 245.3 tokens/s | generation: 31 tokens, 20.1 tokens/s | time to first
  // token: 49.0 ms"; steps the decoding loop does not report (beam search) leave the total only.
  void print(std::FILE* out) const;

 private:
  using Clock = std::chrono::steady_clock;
  int64_t prompt_tokens_ = 0, steps_ = 0, generated_ = 0, first_rows_ = 0;
  Clock::time_point start_, first_, last_;
};

}  // namespace transformers::cli
