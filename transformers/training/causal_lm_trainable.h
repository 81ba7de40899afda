// A causal LM as a TrainableModel (training/trainable.h): the model generation uses
// (AutoModelForCausalLM, the same forward with no cache), with every parameter copied into owned,
// writable f32 memory (never the mmapped checkpoint) and made an autograd leaf whose gradient
// buffer is the TrainableParameter's grad. forward_backward runs that forward with grad mode on,
// v5's ForCausalLMLoss (labels shifted left inside the loss, summed cross-entropy divided by
// num_items_in_batch) and the backward of core/autograd.h.
//
// Parameter names are the model's runtime names (named_parameters); for models whose loading
// fuses or renames tensors (conversion tables) they differ from the checkpoint's, and
// save_pretrained writes the checkpoint's layout back.
#pragma once

#include <filesystem>
#include <memory>

#include "transformers/models/causal_lm.h"
#include "transformers/training/trainable.h"

namespace transformers::training {

// Loads `folder` (config.json + safetensors) in float32 and makes it trainable.
std::unique_ptr<TrainableModel> load_trainable_causal_lm(const std::filesystem::path& folder);
// Makes an in-memory model trainable (its parameters are replaced by owned f32 copies; tied
// parameters stay one tensor with one gradient).
std::unique_ptr<TrainableModel> make_trainable(std::unique_ptr<CausalLM> model);

// What forward_backward and evaluate do on any causal LM whose trainable tensors are autograd
// leaves (shared with training/lora.h). A MoE config with output_router_logits true adds
// router_aux_loss_coef · the load-balancing loss (training/router_aux_loss.h) to the training
// loss, as v5's forward does when given labels; evaluate reports the language-model loss alone,
// eval_loss the batch's mean cross-entropy with the same term (what v5's evaluation averages),
// under bf16 autocast when it is on (through the recording path, whose ops emulate it).
float causal_lm_forward_backward(const CausalLM& model, const Batch& batch,
                                 int64_t num_items_in_batch);
// The loss forward_backward returns, computed without gradients (in double after the forward):
// what finite-difference checks differentiate.
double causal_lm_training_loss(const CausalLM& model, const Batch& batch, int64_t num_items_in_batch);
std::pair<double, int64_t> causal_lm_evaluate(const CausalLM& model, const Batch& batch);
float causal_lm_eval_loss(const CausalLM& model, const Batch& batch);

// The labels ForCausalLMLoss predicts: labels [B, L] shifted left by one, kIgnoreIndex last.
Tensor shift_labels(const Tensor& labels);

}  // namespace transformers::training
