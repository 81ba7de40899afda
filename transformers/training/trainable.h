// What the Trainer (training/trainer.h) needs from a model, and what autograd provides for a
// causal LM (training/causal_lm_trainable.h): parameters as flat f32 buffers with their
// gradients, and one call that runs a micro-batch forward and backward.
//
// The loss is v5's ForCausalLMLoss (../shared/train_golden/SEMANTICS.md §1): labels shifted left
// by one inside the loss, token cross-entropies (ignoring -100) summed and divided by
// num_items_in_batch, the number of predicted targets counted once over all micro-batches of an
// optimizer step. Gradients add up over the micro-batches until the optimizer zeroes them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers::training {

// -100: the label of a position that is never a target (padding, prompt tokens).
constexpr int64_t kIgnoreIndex = -100;

struct TrainableParameter {
  std::string name;   // state_dict name, e.g. "model.layers.0.self_attn.q_proj.weight"
  Tensor value;       // f32, contiguous, owned and writable (never the mmapped checkpoint)
  Tensor grad;        // f32, same shape; forward_backward adds into it
  bool weight_decay;  // Trainer.get_decay_parameter_names (uses_weight_decay below)
};

// One micro-batch of token rows.
struct Batch {
  Tensor input_ids;       // I64 [B, L]
  Tensor labels;          // I64 [B, L], kIgnoreIndex where no target; shifted inside the loss
  Tensor attention_mask;  // I64 [B, L] (1 = real token), or undefined when there is no padding
};

class TrainableModel {
 public:
  // Sets the process's allocator to keep freed memory for reuse (see trainable.cpp).
  TrainableModel();
  virtual ~TrainableModel() = default;
  // Every trainable parameter once (tied weights share one entry and one gradient).
  virtual std::vector<TrainableParameter*> parameters() = 0;
  // Forward with gradients on; returns the loss (CE sum / num_items_in_batch, as float32 gives
  // it) and adds its gradient into every parameter's grad.
  virtual float forward_backward(const Batch& batch, int64_t num_items_in_batch) = 0;
  // The random stream of the next forward_backward (dropout masks): the Trainer derives it from
  // (seed, global_step, micro-batch), so a resumed run draws the masks the uninterrupted one drew.
  virtual void set_random_stream(uint64_t /*key*/) {}
  // No gradients: the summed cross-entropy of the shifted targets and their number (the
  // language-model loss alone).
  virtual std::pair<double, int64_t> evaluate(const Batch& batch) = 0;
  // No gradients: the loss v5's prediction_step reads from the model for one eval batch (compute_loss
  // without num_items_in_batch): the float32 mean cross-entropy of the shifted targets, plus any
  // term the model's forward adds (the MoE auxiliary loss). The Trainer's eval_loss averages it.
  virtual float eval_loss(const Batch& batch) {
    const auto [loss_sum, targets] = evaluate(batch);
    return static_cast<float>(loss_sum / static_cast<double>(targets));
  }
  // No gradients: the loss forward_backward would return (what finite differences check); the
  // cross-entropy mean unless the model adds a term (the MoE auxiliary loss). No dropout.
  virtual double training_loss(const Batch& batch, int64_t num_items_in_batch) {
    return evaluate(batch).first / static_cast<double>(num_items_in_batch);
  }
  // The model in Hugging Face's layout (model.safetensors, config.json, generation_config.json).
  virtual void save_pretrained(const std::filesystem::path& folder) const = 0;
};

// The targets after the causal shift that are not kIgnoreIndex: labels[..., 1:] != -100 (what
// v5 >= 5.10 counts as num_items_in_batch for a causal LM).
int64_t count_shifted_targets(const Tensor& labels);

// Transformers' decay split (Trainer.get_decay_parameter_names): no decay for biases and norm
// weights (names containing "bias", "layernorm" or "rmsnorm", a path component exactly "norm" or
// ending in "_norm"), decay for everything else.
bool uses_weight_decay(std::string_view parameter_name);

}  // namespace transformers::training
