// LoRA on the golden Llama: only the adapters train (the mmapped base stays as it was), the loss
// falls under plain SGD, the adapter is saved in PEFT's layout, its gradient matches finite
// differences, and merging the saved adapter into a fresh base gives the logits of base + adapter
// applied at run time.
#include "transformers/training/lora.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "autograd/gradcheck.h"
#include "common/test_util.h"
#include "training/model_gradcheck.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/models/auto.h"
#include "transformers/nn/layers.h"
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
  config.lora_dropout = 1.0;
  EXPECT_THROW(load_lora(golden(), config), ValueError);
}

TEST(LoraDropout, MaskKeepsOneMinusPScaledAndDependsOnItsKeyAlone) {
  const Tensor mask = dropout_mask({100, 1000}, 0.25, 42);
  const std::vector<float> m = ops::to_float_vector(mask);
  const int64_t kept = std::count(m.begin(), m.end(), 1.0f / 0.75f);
  const int64_t dropped = std::count(m.begin(), m.end(), 0.0f);
  EXPECT_EQ(kept + dropped, 100000);
  EXPECT_NEAR(static_cast<double>(dropped) / 100000.0, 0.25, 0.005);  // 3.6 sigma of a binomial
  EXPECT_EQ(ops::to_float_vector(dropout_mask({100, 1000}, 0.25, 42)), m);
  EXPECT_NE(ops::to_float_vector(dropout_mask({100, 1000}, 0.25, 43)), m);
}

// PEFT's order: y = W x + s · B (A dropout(x)). With a fixed mask the branch is a smooth function
// of x, A and B: its backward against double-precision central differences.
TEST(LoraDropout, BranchBackwardMatchesFiniteDifferencesWithAFixedMask) {
  constexpr int64_t kRows = 6, kIn = 8, kOut = 5, kRank = 3;
  constexpr double kP = 0.4, kScaling = 1.5;
  constexpr uint64_t kKey = 99;
  const std::vector<float> mask = ops::to_float_vector(dropout_mask({kRows, kIn}, kP, kKey));
  ASSERT_GT(std::count(mask.begin(), mask.end(), 0.0f), 0);
  gradcheck::Case c;
  c.inputs = {{{kRows, kIn}}, {{kRank, kIn}}, {{kOut, kRank}}};
  c.op = [&](const std::vector<Tensor>& in) {
    LoraLinear lora;
    lora.a = in[1];
    lora.b = in[2];
    lora.scaling = static_cast<float>(kScaling);
    lora.dropout = kP;
    lora.dropout_key = kKey;
    Tensor y = Tensor::zeros({kRows, kOut}, DType::F32);
    lora.add_to(in[0], y);
    return y;
  };
  c.reference = [&](const gradcheck::Values& v) {
    std::vector<double> y(kRows * kOut, 0.0);
    for (int64_t i = 0; i < kRows; ++i)
      for (int64_t r = 0; r < kRank; ++r) {
        double ax = 0.0;
        for (int64_t k = 0; k < kIn; ++k) ax += v[1][r * kIn + k] * v[0][i * kIn + k] * mask[i * kIn + k];
        for (int64_t o = 0; o < kOut; ++o) y[i * kOut + o] += kScaling * v[2][o * kRank + r] * ax;
      }
    return y;
  };
  EXPECT_EQ(gradcheck::check(c), "");
}

// Dropout acts in forward_backward only, with masks fixed by the random stream's key.
TEST(LoraDropout, ActsInTrainingStepsOnlyAndFollowsTheStreamKey) {
  const Tensor ids = load_npy(golden() / "dataset.npy").slice(0, 0, 2).contiguous();
  const Batch batch{ids, ids.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  LoraConfig config;
  config.r = 4;
  config.lora_alpha = 8;
  config.lora_dropout = 0.5;
  auto lora = load_lora(golden(), config);
  lora->set_random_stream(1);
  lora->forward_backward(batch, n);
  sgd_step(*lora, 0.5f);  // B is no longer zero: the branch, and so its dropout, changes the loss
  const double evaluated = lora->evaluate(batch).first / n;
  auto step_loss = [&](uint64_t key) {
    lora->set_random_stream(key);
    const float loss = lora->forward_backward(batch, n);
    for (TrainableParameter* p : lora->parameters()) ops::scale_(p->grad, 0.0f);
    return loss;
  };
  const float seven = step_loss(7);
  EXPECT_EQ(step_loss(7), seven);
  EXPECT_NE(step_loss(8), seven);
  EXPECT_GT(std::abs(seven - evaluated), 1e-6) << "dropout did not act in the training step";
  EXPECT_EQ(lora->evaluate(batch).first / n, evaluated) << "dropout leaked into evaluation";
}

namespace {

// A saved adapter (r = 4, q_proj and v_proj of both layers) to take apart.
std::filesystem::path saved_adapter(const std::string& name) {
  LoraConfig config;
  config.r = 4;
  config.lora_alpha = 8;
  const auto dir = transformers::testing::scratch_dir(name);
  load_lora(golden(), config)->save_pretrained(dir);
  return dir;
}

// Rewrites the adapter's tensors through `edit` (name -> tensor).
void edit_tensors(const std::filesystem::path& dir,
                  const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  std::map<std::string, Tensor> tensors;
  {
    const auto file = SafetensorsFile::open(dir / "adapter_model.safetensors");
    for (const auto& name : file->names()) tensors[name] = file->tensor(name).clone();
  }
  edit(tensors);
  save_safetensors(dir / "adapter_model.safetensors", {tensors.begin(), tensors.end()}, {});
}

void edit_config(const std::filesystem::path& dir, const std::function<void(Json&)>& edit) {
  Json config = read_json_file(dir / "adapter_config.json");
  edit(config);
  std::ofstream(dir / "adapter_config.json") << config.dump();
}

const std::string kQ0A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";

const Tensor& q_proj_weight(const CausalLM& model) {
  for (const auto& [name, module] : model.named_modules())
    if (name == "model.layers.0.self_attn.q_proj") return dynamic_cast<nn::Linear&>(*module).weight;
  throw std::runtime_error("no model.layers.0.self_attn.q_proj");
}

}  // namespace

TEST(Lora, AttachedAdapterLeavesTheBaseAsLoadedAndDetaches) {
  const auto dir = saved_adapter("lora_attach");
  // A non-zero B, so that the adapter changes the logits.
  edit_tensors(dir, [](auto& t) {
    for (auto& [name, tensor] : t)
      if (name.ends_with("lora_B.weight")) {
        std::vector<float> values(static_cast<size_t>(tensor.numel()));
        for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(i % 7) - 0.03f;
        tensor = Tensor::from_values(values, tensor.shape());
      }
  });
  auto model = AutoModelForCausalLM::from_pretrained(golden());
  const Tensor ids = Tensor::from_values(std::vector<int64_t>{1, 167, 176, 185, 194}, {1, 5});
  const Tensor before = model->forward(ids).logits;
  const Tensor weight_before = q_proj_weight(*model);
  {
    const auto attached = attach_adapter(*model, dir);
    EXPECT_EQ(attached->adapters().size(), 4u);
    EXPECT_GT(transformers::testing::max_abs_diff(model->forward(ids).logits, before), 1e-3f);
    EXPECT_EQ(q_proj_weight(*model).data<float>(), weight_before.data<float>()) << "the base weight was replaced";
  }
  EXPECT_EQ(transformers::testing::max_abs_diff(model->forward(ids).logits, before), 0.0f) << "not detached";
}

TEST(Lora, AdapterThatDoesNotFitIsRefusedNamingFileAndKey) {
  using transformers::testing::expect_error_naming;
  auto model = AutoModelForCausalLM::from_pretrained(golden());

  const auto missing = transformers::testing::scratch_dir("lora_missing");
  expect_error_naming<IoError>([&] { attach_adapter(*model, missing); }, "adapter_config.json");

  const auto unknown = saved_adapter("lora_unknown_key");
  edit_tensors(unknown, [](auto& t) { t["base_model.model.model.embed_tokens.lora_embedding_A"] = t.at(kQ0A); });
  expect_error_naming<FormatError>([&] { attach_adapter(*model, unknown); }, "lora_embedding_A");

  const auto not_linear = saved_adapter("lora_not_linear");
  edit_tensors(not_linear, [](auto& t) { t["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = t.at(kQ0A); });
  expect_error_naming<ValueError>([&] { attach_adapter(*model, not_linear); }, "model.layers.7.self_attn.q_proj");

  const auto one_factor = saved_adapter("lora_one_factor");
  edit_tensors(one_factor, [](auto& t) { t.erase("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"); });
  expect_error_naming<FormatError>([&] { attach_adapter(*model, one_factor); },
                                   "model.layers.1.self_attn.v_proj.lora_B.weight' is missing");

  const auto rank = saved_adapter("lora_rank");
  edit_config(rank, [](Json& c) { c["r"] = 8; });
  expect_error_naming<ShapeError>([&] { attach_adapter(*model, rank); }, "r = 8");

  const auto target = saved_adapter("lora_target");
  edit_config(target, [](Json& c) { c["target_modules"] = Json::array({"q_proj", "v_proj", "o_proj"}); });
  expect_error_naming<ValueError>([&] { attach_adapter(*model, target); }, "target module model.layers.0.self_attn.o_proj");

  const auto dora = saved_adapter("lora_dora");
  edit_config(dora, [](Json& c) { c["use_dora"] = true; });
  expect_error_naming<NotImplementedError>([&] { merge_adapter(*model, dora); }, "use_dora");
}

// QLoRA's premise: the base stays as stored (bf16, or quantized to Q8_0 / Q4_0 blocks while
// loading), only the f32 adapters train, and the loss still falls.
TEST(Lora, TrainsOnAFrozenBf16OrQuantizedBase) {
  const Tensor ids = load_npy(golden() / "dataset.npy").slice(0, 0, 4).contiguous();
  const Batch batch{ids, ids.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  LoadOptions bf16, q8_0, q4_0;
  bf16.dtype = "bfloat16";
  q8_0.quantization_config = QuantizationConfig{.quant_method = "q8_0"};
  q4_0.quantization_config = QuantizationConfig{.quant_method = "q4_0"};
  for (const auto& [label, options] : {std::pair{"bf16", bf16}, std::pair{"q8_0", q8_0}, std::pair{"q4_0", q4_0}}) {
    SCOPED_TRACE(label);
    LoraConfig config;
    config.r = 4;
    config.lora_alpha = 8;
    LoraModel lora(AutoModelForCausalLM::from_pretrained(golden(), options), config);
    const Tensor q_proj = q_proj_weight(lora.model());
    const DType stored = q_proj.dtype();
    EXPECT_NE(stored, DType::F32);
    const auto* bytes = static_cast<const char*>(q_proj.raw_data());
    const std::string stored_bytes(bytes, bytes + q_proj.nbytes());
    for (TrainableParameter* p : lora.parameters()) EXPECT_EQ(p->value.dtype(), DType::F32) << p->name;
    const float first = lora.forward_backward(batch, n);
    float last = first;
    for (int step = 0; step < 6; ++step) {
      sgd_step(lora, 0.5f);
      last = lora.forward_backward(batch, n);
    }
    EXPECT_LT(last, first - 0.01f) << first << " -> " << last;
    // The very same base tensor, unchanged in dtype and storage.
    EXPECT_EQ(q_proj_weight(lora.model()).dtype(), stored);
    EXPECT_EQ(q_proj_weight(lora.model()).raw_data(), q_proj.raw_data());
    EXPECT_EQ(std::string(bytes, bytes + q_proj.nbytes()), stored_bytes);
  }
}

// An adapter on a tied LM head (fortune-llama ties it to the embeddings) runs at run time, but a
// merge is refused: save_pretrained writes the tied head through the embeddings only.
TEST(Lora, MergeIntoATiedHeadIsRefused) {
  const auto model_dir = std::filesystem::path(TCPP_SOURCE_DIR) / "models/fortune-llama";
  LoraConfig config;
  config.r = 2;
  config.target_modules = {"lm_head"};
  const auto dir = transformers::testing::scratch_dir("lora_tied_head");
  load_lora(model_dir, config)->save_pretrained(dir);
  auto model = AutoModelForCausalLM::from_pretrained(model_dir);
  EXPECT_EQ(attach_adapter(*model, dir)->adapters().size(), 1u);
  transformers::testing::expect_error_naming<NotImplementedError>([&] { merge_adapter(*model, dir); },
                                                                  "lm_head, whose weight is tied");
}
