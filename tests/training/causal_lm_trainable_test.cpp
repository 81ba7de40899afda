// The trainable causal LM against PyTorch: the golden Llama of ../shared/train_golden, step 1's
// three micro-batches (rows 0-3, 4-7, 8-11, num_items_in_batch from the trace) give the trace's
// micro-batch losses and, summed, the gradient whose norm the trace logs before clipping. And the
// whole model's gradient against central finite differences of its own loss.
#include "transformers/training/causal_lm_trainable.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/test_util.h"
#include "training/model_gradcheck.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/ops/ops.h"

using namespace transformers;
using namespace transformers::training;

namespace {

std::filesystem::path golden() { return transformers::testing::shared_path("train_golden"); }

// Rows [first, first + count) of the dataset, labels = input_ids, no mask (as the trace's
// collator).
Batch rows(const Tensor& dataset, int64_t first, int64_t count) {
  Tensor ids = dataset.slice(0, first, first + count).contiguous();
  return {ids, ids.clone(), Tensor{}};
}

double grad_norm(TrainableModel& model) {
  double sum = 0.0;
  for (TrainableParameter* p : model.parameters())
    for (float g : ops::to_float_vector(p->grad)) sum += static_cast<double>(g) * g;
  return std::sqrt(sum);
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

}  // namespace

TEST(CausalLMTrainable, GoldenLlamaStepOneMatchesPyTorch) {
  const Json trace = read_json_file(golden() / "trace.json");
  const Json& step = trace.at("steps").at(0);
  const int64_t items = step.at("num_items_in_batch").get<int64_t>();
  const auto expected = step.at("micro_batch_losses").get<std::vector<double>>();
  const Tensor dataset = load_npy(golden() / "dataset.npy");
  ASSERT_EQ(items, 276);  // 12 rows x 23 targets

  auto model = load_trainable_causal_lm(golden());
  int64_t counted = 0;
  for (int64_t mb = 0; mb < 3; ++mb)
    counted += count_shifted_targets(rows(dataset, 4 * mb, 4).labels);
  EXPECT_EQ(counted, items);
  for (int64_t mb = 0; mb < 3; ++mb) {
    const float loss = model->forward_backward(rows(dataset, 4 * mb, 4), items);
    EXPECT_LT(relative(loss, expected[static_cast<size_t>(mb)]), 1e-5)
        << "micro-batch " << mb << ": " << loss;
  }
  const double norm = grad_norm(*model);
  EXPECT_LT(relative(norm, step.at("grad_norm").get<double>()), 1e-4) << norm;

  // The parameters are the model's, owned and f32, one entry per tensor, decay as Transformers
  // splits it.
  const auto names = trace.at("no_weight_decay_params").get<std::vector<std::string>>();
  int64_t no_decay = 0;
  for (TrainableParameter* p : model->parameters()) {
    EXPECT_EQ(p->value.dtype(), DType::F32) << p->name;
    EXPECT_TRUE(p->value.storage()->writable()) << p->name;
    no_decay += !p->weight_decay;
    if (!p->weight_decay)
      EXPECT_NE(std::find(names.begin(), names.end(), p->name), names.end()) << p->name;
  }
  EXPECT_EQ(no_decay, static_cast<int64_t>(names.size()));
}

TEST(CausalLMTrainable, EvaluateGivesTheSummedLossWithoutGradients) {
  const Tensor dataset = load_npy(golden() / "dataset.npy");
  auto model = load_trainable_causal_lm(golden());
  const Batch batch = rows(dataset, 0, 4);
  const auto [sum, count] = model->evaluate(batch);
  EXPECT_EQ(count, 4 * 23);
  for (TrainableParameter* p : model->parameters())
    for (float g : ops::to_float_vector(p->grad)) ASSERT_EQ(g, 0.0f) << p->name;
  const float loss = model->forward_backward(batch, count);
  EXPECT_LT(relative(loss, sum / count), 1e-6);
}

TEST(CausalLMTrainable, PaddedRowsMatchTheUnpaddedLossAndGradient) {
  // A row padded on the right (mask 0, labels -100) contributes exactly what the short row does.
  const Tensor dataset = load_npy(golden() / "dataset.npy");
  const std::vector<int64_t> all = ops::to_int64_vector(dataset.slice(0, 0, 1).contiguous());
  const int64_t L = dataset.size(1), keep = 15;
  std::vector<int64_t> ids(all.begin(), all.begin() + keep), padded_ids = all, labels = all,
                                                             mask(L, 1);
  for (int64_t t = keep; t < L; ++t) padded_ids[t] = 0, labels[t] = kIgnoreIndex, mask[t] = 0;
  auto short_model = load_trainable_causal_lm(golden());
  auto padded_model = load_trainable_causal_lm(golden());
  const Tensor short_ids = Tensor::from_values(ids, {1, keep});
  const float a = short_model->forward_backward({short_ids, short_ids.clone(), Tensor{}}, keep - 1);
  const float b = padded_model->forward_backward(
      {Tensor::from_values(padded_ids, {1, L}), Tensor::from_values(labels, {1, L}),
       Tensor::from_values(mask, {1, L})},
      keep - 1);
  EXPECT_LT(relative(b, a), 1e-6);
  EXPECT_LT(relative(grad_norm(*padded_model), grad_norm(*short_model)), 1e-5);
}

TEST(CausalLMTrainable, WholeModelGradientMatchesFiniteDifferences) {
  const Tensor dataset = load_npy(golden() / "dataset.npy");
  auto model = load_trainable_causal_lm(golden());
  const Batch batch = rows(dataset, 0, 2);
  const int64_t n = count_shifted_targets(batch.labels);
  model->forward_backward(batch, n);
  int checked = 0;
  for (TrainableParameter* p : model->parameters()) {
    // The element with the largest gradient of each of a few parameters (one of every kind).
    if (p->name.find("layers.1.") == std::string::npos &&
        p->name.find("embed") == std::string::npos &&
        p->name.find("lm_head") == std::string::npos && p->name != "model.norm.weight")
      continue;
    const size_t i = model_gradcheck::largest_gradient(*p);
    const double numeric = model_gradcheck::numeric_gradient(*model, batch, n, *p, i);
    EXPECT_NEAR(model_gradcheck::gradient_at(*p, i), numeric, 1e-3 * std::abs(numeric) + 5e-5)
        << p->name << "[" << i << "]";
    ++checked;
  }
  EXPECT_GE(checked, 10);
}
