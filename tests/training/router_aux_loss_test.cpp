// The MoE auxiliary load-balancing loss against PyTorch: fixed router logits of two layers
// (tests/training/data/router_aux_loss_reference.json, written by
// tests/training/tools/router_aux_loss_reference.py with torch 1.13), without and with a padding
// mask: the loss and its gradient with respect to the logits, through softmax and the recorded
// probabilities as the MoE block hands them over. And Trainer.evaluate's eval_loss on the golden
// Mixtral with output_router_logits, against v5's evaluation computed by the same script.
#include "transformers/training/router_aux_loss.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/test_util.h"
#include "training/reference_eval.h"
#include "transformers/core/autograd.h"
#include "transformers/io/json.h"
#include "transformers/ops/ops.h"
#include "transformers/training/causal_lm_trainable.h"
#include "transformers/training/trainer.h"

using namespace transformers;

namespace {

const Json& reference() {
  static const Json j = read_json_file(std::filesystem::path(TCPP_SOURCE_DIR) / "tests/training/data/router_aux_loss_reference.json");
  return j;
}

void check_case(const std::string& name, bool masked) {
  SCOPED_TRACE(name);
  const Json& ref = reference();
  const int64_t E = ref.at("num_experts"), k = ref.at("top_k"), B = ref.at("batch"), L = ref.at("length");
  const Json& expected = ref.at("cases").at(name);
  nn::RouterRecord record;
  std::vector<Tensor> logits;
  for (const Json& layer : ref.at("logits")) {
    std::vector<float> values;
    for (const Json& row : layer)
      for (const Json& v : row) values.push_back(v.get<float>());
    Tensor x = Tensor::from_values(values, {B * L, E});
    autograd::set_requires_grad(x);
    logits.push_back(x);
    Tensor probs = x.clone();
    ops::softmax_(probs);
    auto [weights, chosen] = ops::topk(probs, k);
    record.layers.emplace_back(probs, chosen);
  }
  std::vector<int64_t> mask_values;
  for (const Json& row : ref.at("attention_mask"))
    for (const Json& v : row) mask_values.push_back(v.get<int64_t>());
  const Tensor mask = Tensor::from_values(mask_values, {B, L});
  autograd::GradMode on(true);
  const Tensor loss = training::load_balancing_loss(record, E, masked ? &mask : nullptr);
  EXPECT_NEAR(ops::to_float_vector(loss)[0], expected.at("loss").get<double>(), 2e-6 * expected.at("loss").get<double>());
  autograd::backward(loss, Tensor::from_values(std::vector<float>{1.0f}, Shape{1, 1}));
  for (size_t l = 0; l < logits.size(); ++l) {
    const std::vector<float> grad = ops::to_float_vector(autograd::grad_of(logits[l]));
    size_t i = 0;
    for (const Json& row : expected.at("grad").at(l))
      for (const Json& v : row) {
        EXPECT_NEAR(grad[i], v.get<double>(), 1e-6) << "layer " << l << " logit " << i;
        ++i;
      }
  }
}

}  // namespace

TEST(RouterAuxLoss, MatchesPyTorchWithoutMask) { check_case("no_mask", false); }
TEST(RouterAuxLoss, MatchesPyTorchLeavingPaddingOut) { check_case("mask", true); }

TEST(RouterAuxLoss, RefusesAMaskOfTheWrongSize) {
  nn::RouterRecord record;
  record.layers.emplace_back(Tensor::zeros({6, 4}, DType::F32), Tensor::zeros({6, 2}, DType::I64));
  const Tensor mask = Tensor::from_values(std::vector<int64_t>{1, 1, 1, 1}, {2, 2});
  EXPECT_THROW(training::load_balancing_loss(record, 4, &mask), ShapeError);
}

// v5's prediction_step takes the model's own loss (mean cross-entropy + router_aux_loss_coef · aux,
// padding masked) per batch; evaluation_loop repeats it per row and eval_loss is their mean.
TEST(RouterAuxLoss, EvalLossIncludesTheAuxiliaryLossAsV5Does) {
  const Json& expected = reference().at("eval");
  const std::filesystem::path golden = transformers::testing::shared_path("golden/mixtral");
  const std::filesystem::path dir = transformers::testing::scratch_dir("router_aux_eval_model");
  Json config = read_json_file(golden / "config.json");
  config["output_router_logits"] = expected.at("output_router_logits");
  config["router_aux_loss_coef"] = expected.at("router_aux_loss_coef");
  std::ofstream(dir / "config.json") << config.dump(2);
  std::filesystem::copy_file(golden / "model.safetensors", dir / "model.safetensors");
  auto model = training::load_trainable_causal_lm(dir);

  const double eval_loss = transformers::testing::reference_eval_loss(*model, expected, "router_aux_eval_out", false,
                                                                     config.at("pad_token_id").get<int64_t>());
  const double want = expected.at("eval_loss").get<double>(), lm_only = expected.at("eval_loss_lm_only").get<double>();
  ASSERT_GT(want - lm_only, 0.1) << "the reference's auxiliary term is too small to tell apart";
  EXPECT_NEAR(eval_loss, want, 2e-6 * want);
}
