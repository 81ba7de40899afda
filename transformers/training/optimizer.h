// Optimizers over flat float32 buffers (as llm.c keeps them): each parameter is a span of values
// and a span of gradients; the state (Adam's moments, SGD's momentum) is flat vectors beside them.
// The arithmetic follows torch's non-fused single-tensor kernels operation by operation, in
// float32 with the scalars torch computes in double, so that results agree with torch's bit for bit
// where torch's CPU kernels round the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/training/training_arguments.h"

namespace transformers::training {

struct ParameterBuffer {
  std::string name;
  std::span<float> value;
  std::span<float> grad;
  bool weight_decay = true;  // in the decay group (else weight_decay 0 for it)
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter with learning rate `lr` (the scheduler's rate for this step).
  virtual void step(double lr) = 0;
  void zero_grad();
  const std::vector<ParameterBuffer>& parameters() const { return params_; }
  int64_t steps_taken() const { return steps_; }

  // The state as named flat tensors ("<param>.exp_avg", ...) and hyper-parameters + step as JSON,
  // written as optimizer.safetensors + optimizer.json (not torch's optimizer.pt pickle).
  void save(const std::filesystem::path& folder) const;
  void load(const std::filesystem::path& folder);

 protected:
  explicit Optimizer(std::vector<ParameterBuffer> params);
  virtual std::string kind() const = 0;
  virtual Json hyper_parameters() const = 0;
  // Named state vectors of parameter `index`, each as long as the parameter.
  virtual std::vector<std::pair<std::string, std::vector<float>*>> state_of(size_t index) = 0;

  std::vector<ParameterBuffer> params_;
  int64_t steps_ = 0;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// torch.optim.AdamW (foreach=False, fused=False): p *= 1 - lr*wd; m = m*b1 + g*(1-b1);
// v = v*b2 + (1-b2)*g*g; p += (-lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParameterBuffer> params, AdamWOptions options);
  void step(double lr) override;

 private:
  std::string kind() const override { return "adamw"; }
  Json hyper_parameters() const override;
  std::vector<std::pair<std::string, std::vector<float>*>> state_of(size_t index) override;
  AdamWOptions options_;
  std::vector<std::vector<float>> exp_avg_, exp_avg_sq_;
};

struct SgdOptions {
  double momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

// torch.optim.SGD: d = g + wd*p; buf = d (first step) or buf*momentum + (1-dampening)*d;
// d = nesterov ? d + momentum*buf : buf; p += -lr*d.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParameterBuffer> params, SgdOptions options);
  void step(double lr) override;

 private:
  std::string kind() const override { return "sgd"; }
  Json hyper_parameters() const override;
  std::vector<std::pair<std::string, std::vector<float>*>> state_of(size_t index) override;
  SgdOptions options_;
  std::vector<std::vector<float>> momentum_buffer_;
};

// The optimizer TrainingArguments name (optim, adam_*, weight_decay, optim_args for SGD's
// momentum, dampening and nesterov).
std::unique_ptr<Optimizer> make_optimizer(const TrainingArguments& args, std::vector<ParameterBuffer> params);

// torch.nn.utils.clip_grad_norm_: the total L2 norm of all gradients (float32 per-tensor norms,
// then the norm of those), and when max_norm > 0 every gradient times
// min(1, max_norm / (norm + 1e-6)). Returns the norm before clipping.
float clip_grad_norm(const std::vector<ParameterBuffer>& params, double max_norm);

}  // namespace transformers::training
