// The MoE auxiliary load-balancing loss against PyTorch: fixed router logits of two layers
// (tests/training/data/router_aux_loss_reference.json, written by
// tests/training/tools/router_aux_loss_reference.py with torch 1.13), without and with a padding
// mask: the loss and its gradient with respect to the logits, through softmax and the recorded
// probabilities as the MoE block hands them over.
#include "transformers/training/router_aux_loss.h"

#include <gtest/gtest.h>

#include "transformers/core/autograd.h"
#include "transformers/io/json.h"
#include "transformers/ops/ops.h"

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
