// The basic layers: Linear, Embedding, RMSNorm, LayerNorm. Linear is the one place weights are
// multiplied: its weight may be f32, bf16 or f16 today, and quantized formats later, without any
// model knowing which.
#pragma once

#include "transformers/nn/module.h"
#include "transformers/ops/ops.h"

namespace transformers::nn {

// Something added to a Linear's output at run time (a LoRA adapter, training/lora.h): y += f(x).
class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  virtual void add_to(const Tensor& x, Tensor& y) const = 0;
};

class Linear : public Module {
 public:
  // stored_transposed: the checkpoint holds the weight as [in, out] (GPT-2's Conv1D); it is
  // transposed once at load so that every Linear multiplies the same [out, in] layout.
  Linear(int64_t in_features, int64_t out_features, bool bias, bool stored_transposed = false);
  Tensor forward(const Tensor& x) const;
  void mark_stored_transposed() { mark_parameter_transposed("weight"); }
  void mark_optional() { mark_parameters_optional(); }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Tensor weight;  // [out, in]
  Tensor bias;    // [out] f32, undefined when absent
  // Not owned; null (the inference path: one pointer check) unless an adapter is attached.
  const LinearAdapter* adapter = nullptr;

 private:
  int64_t in_, out_;
};

// Linear::forward of each of `linears` on one x, their products in one op (ops::linear_group):
// the separate q/k/v or gate/up projections of a checkpoint, read back to back in decode.
std::vector<Tensor> forward_group(const Tensor& x, std::initializer_list<const Linear*> linears);

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim);
  Tensor forward(const Tensor& ids) const { return ops::embedding(weight, ids); }
  Tensor weight;  // [num_embeddings, dim]
};

class RMSNorm : public Module {
 public:
  // unit_offset: Gemma's (1 + weight) scaling.
  RMSNorm(int64_t dim, double eps, bool unit_offset = false);
  Tensor forward(const Tensor& x) const { return ops::rms_norm(x, weight, static_cast<float>(eps_), unit_offset_); }
  Tensor weight;

 private:
  double eps_;
  bool unit_offset_;
};

class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, double eps, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;

 private:
  double eps_;
};

// The norm a decoder skeleton uses, chosen by the model's config: RMSNorm (Llama, Gemma's (1+w)
// form) or LayerNorm (Phi-2, StarCoder2, Cohere; with or without bias). Parameter names are
// "weight" (and "bias") either way, as in the checkpoints.
struct NormConfig {
  enum class Kind { RMS, Layer } kind = Kind::RMS;
  double eps = 1e-6;
  bool unit_offset = false;  // RMS only: x * (1 + weight)
  bool bias = true;          // Layer only
  // > 0: one weight row per head, weight [heads, dim], normalising each head of x [..., heads,
  // dim] over dim (Cohere's q/k LayerNorm). Layer kind without bias only.
  int64_t heads = 0;
};

class Norm : public Module {
 public:
  Norm(int64_t dim, const NormConfig& config);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;

 private:
  NormConfig config_;
};

}  // namespace transformers::nn
