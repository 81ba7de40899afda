// LoRA on the fused projections whose checkpoint layout differs from a plain Linear: GPT-2's
// c_attn (a Conv1D, stored [in, out] in checkpoints and transposed once at load) and Phi-3's
// qkv_proj (q, k and v in one matrix). Loading keeps their checkpoint names, so PEFT's
// target_modules and key names apply unchanged: A is [r, in] and B [out, r] as PEFT shapes them
// for Conv1D too (with fan_in_fan_out, which PEFT sets itself for Conv1D). Checked: the saved
// keys and shapes, the adapters' gradients against finite differences, and merging the saved
// adapter into a fresh copy of the base giving the run-time adapter's logits.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.h"
#include "training/model_gradcheck.h"
#include "transformers/io/json.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/save.h"
#include "transformers/ops/ops.h"
#include "transformers/training/lora.h"

using namespace transformers;
using namespace transformers::training;

namespace {

PretrainedConfig tiny(const std::string& arch) {
  Json c = {{"model_type", arch},     {"vocab_size", 61},       {"hidden_size", 24},
            {"intermediate_size", 40}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
            {"num_key_value_heads", 4}, {"rms_norm_eps", 1e-5},  {"max_position_embeddings", 64},
            {"tie_word_embeddings", false}};
  if (arch == "gpt2") c.update(Json{{"n_embd", 24}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", 64}});
  return PretrainedConfig::from_json(c);
}

void check_fused_target(const std::string& arch, const std::string& target, const std::string& first_module,
                        int64_t out_features) {
  SCOPED_TRACE(arch);
  LoraConfig config;
  config.r = 2;
  config.lora_alpha = 4;
  config.target_modules = {target};
  auto lora = std::make_unique<LoraModel>(make_random_model(tiny(arch), 5, 0.3), config);
  ASSERT_EQ(lora->parameters().size(), 4u);  // 2 layers x {A, B}
  EXPECT_EQ(lora->parameters()[0]->name, lora_key(first_module, "lora_A"));

  const Tensor input = Tensor::from_values(std::vector<int64_t>{1, 7, 3, 9, 12, 4, 33, 5, 2, 8}, {2, 5});
  const Batch batch{input, input.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  lora->forward_backward(batch, n);
  for (TrainableParameter* p : lora->parameters()) {  // a step, so that B is no longer zero
    float* v = p->value.data<float>();
    const float* g = p->grad.data<float>();
    for (int64_t i = 0; i < p->value.numel(); ++i) v[i] -= 0.5f * g[i];
    ops::scale_(p->grad, 0.0f);
  }
  lora->forward_backward(batch, n);
  for (TrainableParameter* p : lora->parameters()) {
    const size_t i = model_gradcheck::largest_gradient(*p);
    const double numeric = model_gradcheck::numeric_gradient(*lora, batch, n, *p, i);
    EXPECT_NEAR(model_gradcheck::gradient_at(*p, i), numeric, 2e-3 * std::abs(numeric) + 5e-5) << p->name;
  }

  const auto dir = transformers::testing::scratch_dir("lora_fused_" + arch);
  lora->save_pretrained(dir);
  const auto file = SafetensorsFile::open(dir / "adapter_model.safetensors");
  EXPECT_EQ(file->tensor(lora_key(first_module, "lora_A")).shape(), (Shape{2, 24}));
  EXPECT_EQ(file->tensor(lora_key(first_module, "lora_B")).shape(), (Shape{out_features, 2}));
  EXPECT_EQ(read_json_file(dir / "adapter_config.json").at("fan_in_fan_out"), arch == "gpt2");

  auto merged = make_random_model(tiny(arch), 5, 0.3);
  merge_adapter(*merged, dir);
  const Tensor adapted = lora->model().forward(input).logits;
  const Tensor base = make_random_model(tiny(arch), 5, 0.3)->forward(input).logits;
  EXPECT_LT(transformers::testing::max_abs_diff(merged->forward(input).logits, adapted),
            1e-5f * std::max(1.0f, transformers::testing::max_abs(adapted)));
  EXPECT_GT(transformers::testing::max_abs_diff(base, adapted), 1e-4f) << "the adapter changed nothing";
}

}  // namespace

TEST(LoraFusedLayouts, Gpt2Conv1DCAttn) { check_fused_target("gpt2", "c_attn", "transformer.h.0.attn.c_attn", 72); }
TEST(LoraFusedLayouts, Phi3QkvProj) { check_fused_target("phi3", "qkv_proj", "model.layers.0.self_attn.qkv_proj", 72); }
