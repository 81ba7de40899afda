// A TrainableModel whose gradient is derived by hand, for testing the Trainer without autograd:
// logits[t] = W[input_id[t]] + b (a bigram table plus a bias), loss = summed cross-entropy of the
// shifted targets / num_items_in_batch. d loss / d logits[t] = (softmax(logits[t]) - onehot) / n.
#pragma once

#include <cmath>
#include <filesystem>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/io/files.h"
#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"
#include "transformers/training/trainable.h"

namespace transformers::training::testing {

class BigramModel : public TrainableModel {
 public:
  explicit BigramModel(int64_t vocab, uint32_t seed = 7) : vocab_(vocab) {
    weight_.name = "bigram.weight";
    bias_.name = "bigram.bias";
    weight_.weight_decay = uses_weight_decay(weight_.name);
    bias_.weight_decay = uses_weight_decay(bias_.name);
    std::vector<float> w(static_cast<size_t>(vocab * vocab)), b(static_cast<size_t>(vocab));
    uint32_t state = seed;  // a fixed LCG: the same start on every platform
    auto next = [&] {
      state = state * 1664525u + 1013904223u;
      return (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.2f;
    };
    for (float& x : w) x = next();
    for (float& x : b) x = next();
    weight_.value = Tensor::from_values(w, {vocab, vocab});
    bias_.value = Tensor::from_values(b, {vocab});
    weight_.grad = Tensor::zeros({vocab, vocab}, DType::F32);
    bias_.grad = Tensor::zeros({vocab}, DType::F32);
  }

  std::vector<TrainableParameter*> parameters() override { return {&weight_, &bias_}; }

  float forward_backward(const Batch& batch, int64_t num_items_in_batch) override {
    seen_num_items.push_back(num_items_in_batch);
    const double sum = run(batch, static_cast<double>(num_items_in_batch), true).first;
    const float loss = static_cast<float>(sum / static_cast<double>(num_items_in_batch));
    if (nan_on_call >= 0 && calls++ == nan_on_call) return std::nanf("");
    return loss;
  }

  std::pair<double, int64_t> evaluate(const Batch& batch) override { return run(batch, 1.0, false); }

  void save_pretrained(const std::filesystem::path& folder) const override {
    std::filesystem::create_directories(folder);
    save_safetensors(folder / "model.safetensors", {{weight_.name, weight_.value}, {bias_.name, bias_.value}});
    write_file_atomically(folder / "config.json", Json{{"model_type", "bigram"}, {"vocab_size", vocab_}}.dump(2));
  }

  float* weight() { return weight_.value.data<float>(); }
  float* weight_grad() { return weight_.grad.data<float>(); }
  float* bias() { return bias_.value.data<float>(); }
  std::vector<int64_t> seen_num_items;
  int64_t nan_on_call = -1;  // forward_backward call (0-based) whose loss is reported as NaN
  int64_t calls = 0;

 private:
  // Summed CE over the shifted targets and their count; with `backward`, adds the gradient of
  // sum / divisor into the grads. Arithmetic in double.
  std::pair<double, int64_t> run(const Batch& batch, double divisor, bool backward) {
    const std::vector<int64_t> ids = ops::to_int64_vector(batch.input_ids);
    const std::vector<int64_t> labels = ops::to_int64_vector(batch.labels);
    const int64_t rows = batch.input_ids.size(0), length = batch.input_ids.size(1);
    const float* w = weight_.value.data<float>();
    const float* b = bias_.value.data<float>();
    float* gw = weight_.grad.data<float>();
    float* gb = bias_.grad.data<float>();
    double total = 0;
    int64_t count = 0;
    std::vector<double> logits(static_cast<size_t>(vocab_));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t + 1 < length; ++t) {
        const int64_t target = labels[r * length + t + 1];
        if (target == kIgnoreIndex) continue;
        const int64_t input = ids[r * length + t];
        double top = -INFINITY;
        for (int64_t v = 0; v < vocab_; ++v) {
          logits[v] = static_cast<double>(w[input * vocab_ + v]) + b[v];
          top = std::max(top, logits[v]);
        }
        double z = 0;
        for (int64_t v = 0; v < vocab_; ++v) z += std::exp(logits[v] - top);
        total += std::log(z) + top - logits[target];
        ++count;
        if (!backward) continue;
        for (int64_t v = 0; v < vocab_; ++v) {
          const double g = (std::exp(logits[v] - top) / z - (v == target ? 1.0 : 0.0)) / divisor;
          gw[input * vocab_ + v] += static_cast<float>(g);
          gb[v] += static_cast<float>(g);
        }
      }
    return {total, count};
  }

  int64_t vocab_;
  TrainableParameter weight_, bias_;
};

}  // namespace transformers::training::testing
