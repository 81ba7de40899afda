// LoRA on the golden Llama: only the adapters train (the mmapped base stays as it was), the loss
// falls under plain SGD, the adapter is saved in PEFT's layout, its gradient matches finite
// differences, and merging the saved adapter into a fresh base gives the logits of base + adapter
// applied at run time.
#include "transformers/training/lora.h"

#include <gtest/gtest.h>

#include "common/test_util.h"
#include "training/model_gradcheck.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/ops/ops.h"

using namespace transformers;
using namespace transformers::training;

namespace {

std::filesystem::path golden() { return transformers::testing::shared_path("train_golden"); }

void sgd_step(TrainableModel& model, float lr) {
  for (TrainableParameter* p : model.parameters()) {
    float* v = p->value.data<float>();
    float* g = p->grad.data<float>();
    for (int64_t i = 0; i < p->value.numel(); ++i) v[i] -= lr * g[i], g[i] = 0.0f;
  }
}

}  // namespace

TEST(Lora, TrainsAdaptersOnlySavesPeftLayoutAndMergesExactly) {
  const Tensor dataset = load_npy(golden() / "dataset.npy");
  const Tensor ids = dataset.slice(0, 0, 4).contiguous();
  const Batch batch{ids, ids.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  LoraConfig config;
  config.r = 4;
  config.lora_alpha = 8;
  auto lora = load_lora(golden(), config);
  ASSERT_EQ(lora->parameters().size(), 8u);  // 2 layers x {q_proj, v_proj} x {A, B}
  EXPECT_EQ(lora->parameters()[0]->name,
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");

  const float first = lora->forward_backward(batch, n);
  float last = first;
  for (int step = 0; step < 6; ++step) {
    sgd_step(*lora, 0.5f);
    last = lora->forward_backward(batch, n);
  }
  EXPECT_LT(last, first - 0.01f) << first << " -> " << last;

  // B is no longer zero: A's and B's gradients now both matter; check one element of each.
  for (TrainableParameter* p : {lora->parameters()[0], lora->parameters()[3]}) {
    const size_t i = model_gradcheck::largest_gradient(*p);
    const double numeric = model_gradcheck::numeric_gradient(*lora, batch, n, *p, i);
    EXPECT_NEAR(model_gradcheck::gradient_at(*p, i), numeric, 2e-3 * std::abs(numeric) + 5e-5)
        << p->name;
  }

  const auto dir = transformers::testing::process_scratch_root() / "lora_adapter";
  lora->save_pretrained(dir);
  const Json saved = read_json_file(dir / "adapter_config.json");
  EXPECT_EQ(saved.at("peft_type"), "LORA");
  EXPECT_EQ(saved.at("r"), 4);
  EXPECT_EQ(saved.at("lora_alpha"), 8.0);
  const auto file = SafetensorsFile::open(dir / "adapter_model.safetensors");
  EXPECT_EQ(file->names().size(), 8u);
  EXPECT_EQ(file->tensor("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape(),
            (Shape{32, 4}));

  LoadOptions f32;
  f32.dtype = "float32";
  auto merged = AutoModelForCausalLM::from_pretrained(golden(), f32);
  auto base = AutoModelForCausalLM::from_pretrained(golden(), f32);
  merge_adapter(*merged, dir);
  const Tensor with_adapter = lora->model().forward(ids).logits;
  const Tensor merged_logits = merged->forward(ids).logits;
  const Tensor base_logits = base->forward(ids).logits;
  const float scale = std::max(1.0f, transformers::testing::max_abs(with_adapter));
  EXPECT_LT(transformers::testing::max_abs_diff(merged_logits, with_adapter), 1e-5f * scale);
  EXPECT_GT(transformers::testing::max_abs_diff(base_logits, with_adapter), 1e-3f)
      << "the adapter changed nothing";
}

TEST(Lora, RefusesWhatItCannotDo) {
  LoraConfig config;
  config.target_modules = {"no_such_proj"};
  EXPECT_THROW(load_lora(golden(), config), ValueError);
  config.target_modules = {"q_proj"};
  config.lora_dropout = 0.1;
  EXPECT_THROW(load_lora(golden(), config), NotImplementedError);
}
