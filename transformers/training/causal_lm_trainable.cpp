#include "transformers/training/causal_lm_trainable.h"

#include <map>

#include "transformers/core/autograd.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/ops/ops.h"
#include "transformers/training/router_aux_loss.h"

namespace transformers::training {

namespace {

class TrainableCausalLM : public TrainableModel {
 public:
  explicit TrainableCausalLM(std::unique_ptr<CausalLM> model) : model_(std::move(model)) {
    TCPP_CHECK(model_, ValueError, "make_trainable: no model");
    // One owned copy and one gradient per storage region, so tied parameters stay tied.
    std::map<std::pair<const void*, size_t>, Tensor> owned;
    for (const nn::ParameterSlot& slot : model_->named_parameters()) {
      Tensor& t = *slot.tensor;
      if (!t.defined()) continue;
      const auto key = std::make_pair(static_cast<const void*>(t.storage().get()), t.byte_offset());
      auto found = owned.find(key);
      if (found != owned.end()) {
        t = found->second;
        continue;
      }
      Tensor value = t.dtype() == DType::F32 ? t.detach().contiguous().clone()
                                             : ops::cast(t.detach(), DType::F32);
      Tensor grad = Tensor::zeros(value.shape(), DType::F32, value.device());
      autograd::set_requires_grad(value, grad);
      owned.emplace(key, value);
      t = value;
      parameters_.push_back({slot.name, value.detach(), grad, uses_weight_decay(slot.name)});
    }
    model_->dtype = DType::F32;
  }

  std::vector<TrainableParameter*> parameters() override {
    std::vector<TrainableParameter*> out;
    for (auto& p : parameters_) out.push_back(&p);
    return out;
  }

  float forward_backward(const Batch& batch, int64_t num_items_in_batch) override {
    return causal_lm_forward_backward(*model_, batch, num_items_in_batch);
  }

  std::pair<double, int64_t> evaluate(const Batch& batch) override {
    return causal_lm_evaluate(*model_, batch);
  }

  float eval_loss(const Batch& batch) override { return causal_lm_eval_loss(*model_, batch); }

  double training_loss(const Batch& batch, int64_t num_items_in_batch) override {
    return causal_lm_training_loss(*model_, batch, num_items_in_batch);
  }

  void save_pretrained(const std::filesystem::path& folder) const override {
    transformers::save_pretrained(*model_, folder);
  }

 private:
  std::unique_ptr<CausalLM> model_;
  std::vector<TrainableParameter> parameters_;
};

const Tensor* mask_of(const Batch& batch) {
  return batch.attention_mask.defined() ? &batch.attention_mask : nullptr;
}

// The summed cross-entropy of the shifted targets (with a graph when grad mode is on).
Tensor summed_loss(const CausalLM& model, const Batch& batch) {
  TCPP_CHECK(batch.input_ids.dim() == 2 && batch.labels.shape() == batch.input_ids.shape(),
             ShapeError, "forward_backward: input_ids ", batch.input_ids.describe(), " and labels ",
             batch.labels.describe(), " must be [B, L] alike");
  ForwardOptions options;  // no cache: use_cache is off while training
  if (batch.attention_mask.defined()) {
    TCPP_CHECK(batch.attention_mask.shape() == batch.input_ids.shape(), ShapeError,
               "forward_backward: attention_mask ", batch.attention_mask.describe(),
               " for input_ids ", batch.input_ids.describe());
    options.attention_mask = &batch.attention_mask;
  }
  const CausalLMOutput out = model.forward(batch.input_ids, options);
  return ops::cross_entropy(out.logits, shift_labels(batch.labels), kIgnoreIndex);
}

}  // namespace

float causal_lm_forward_backward(const CausalLM& model, const Batch& batch,
                                 int64_t num_items_in_batch) {
  TCPP_CHECK(num_items_in_batch > 0, ValueError,
             "forward_backward: num_items_in_batch must be positive, got ", num_items_in_batch);
  autograd::GradMode on(true);
  const RouterAuxLoss aux(model);
  Tensor loss_sum = summed_loss(model, batch);
  // torch: loss = sum / num_items_in_batch (float32), whose backward seeds 1 / num_items_in_batch.
  const float n = static_cast<float>(num_items_in_batch);
  if (!aux.active()) {
    const float loss = ops::to_float_vector(loss_sum)[0] / n;
    autograd::backward(loss_sum, Tensor::from_values(std::vector<float>{1.0f / n}, Shape{}));
    return loss;
  }
  // MoE with output_router_logits: loss += router_aux_loss_coef · load_balancing_loss.
  ops::scale_(loss_sum, 1.0f / n);
  const Tensor total = ops::add(loss_sum.view({1, 1}), aux.weighted_loss(mask_of(batch)));
  autograd::backward(total, Tensor::from_values(std::vector<float>{1.0f}, Shape{1, 1}));
  return ops::to_float_vector(total)[0];
}

double causal_lm_training_loss(const CausalLM& model, const Batch& batch, int64_t num_items_in_batch) {
  autograd::NoGrad off;
  const RouterAuxLoss aux(model);
  const double ce = ops::to_float_vector(summed_loss(model, batch))[0] / static_cast<double>(num_items_in_batch);
  return aux.active() ? ce + ops::to_float_vector(aux.weighted_loss(mask_of(batch)))[0] : ce;
}

std::pair<double, int64_t> causal_lm_evaluate(const CausalLM& model, const Batch& batch) {
  autograd::NoGrad off;
  const Tensor loss_sum = summed_loss(model, batch);
  return {ops::to_float_vector(loss_sum)[0], count_shifted_targets(batch.labels)};
}

float causal_lm_eval_loss(const CausalLM& model, const Batch& batch) {
  // Under bf16 autocast the forward must take the recording path, where ops emulate torch's bf16
  // arithmetic (the inference kernels never round); the graph it records is dropped unused.
  autograd::GradMode grad(autograd::autocast_bf16());
  const RouterAuxLoss aux(model);
  const Tensor loss_sum = summed_loss(model, batch);
  // cross_entropy's mean in float32, then (MoE) + router_aux_loss_coef · aux in float32.
  const float mean = static_cast<float>(ops::to_float_vector(loss_sum)[0] /
                                        static_cast<double>(count_shifted_targets(batch.labels)));
  return aux.active() ? mean + ops::to_float_vector(aux.weighted_loss(mask_of(batch)))[0] : mean;
}

Tensor shift_labels(const Tensor& labels) {
  TCPP_CHECK(labels.dim() == 2 && labels.dtype() == DType::I64, ShapeError,
             "shift_labels: labels must be int64 [B, L], got ", labels.describe());
  const std::vector<int64_t> values = ops::to_int64_vector(labels);
  const int64_t B = labels.size(0), L = labels.size(1);
  std::vector<int64_t> shifted(values.size(), kIgnoreIndex);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < L; ++t) shifted[b * L + t] = values[b * L + t + 1];
  return Tensor::from_values(shifted, {B, L});
}

std::unique_ptr<TrainableModel> make_trainable(std::unique_ptr<CausalLM> model) {
  return std::make_unique<TrainableCausalLM>(std::move(model));
}

std::unique_ptr<TrainableModel> load_trainable_causal_lm(const std::filesystem::path& folder) {
  LoadOptions options;
  options.dtype = "float32";
  return make_trainable(AutoModelForCausalLM::from_pretrained(folder, options));
}

}  // namespace transformers::training
