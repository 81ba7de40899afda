// Every decoder family the ops support, trained through the same code: a tiny random model of
// each (make_random_model) made trainable, its forward_backward gradient checked against
// Richardson-extrapolated central differences of its own loss (evaluate) on a few parameters.
// The families exercise the ops the golden Llama does not: unit-offset norms and embedding scale
// (Gemma), softcaps and sandwich norms with sliding windows (Gemma-2/3), q/k norms (Qwen3,
// OLMo-2), LayerNorm, biases, learned positions and Conv1D weights (GPT-2), parallel blocks with
// partial rotary (Phi), fused projections (Phi-3), logit scale with per-head norms (Cohere),
// mixtures of experts (Mixtral, Qwen2-MoE's shared expert; the golden Mixtral and Qwen3-MoE).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/test_util.h"
#include "training/model_gradcheck.h"
#include "transformers/models/save.h"
#include "transformers/ops/ops.h"
#include "transformers/training/causal_lm_trainable.h"

using namespace transformers;
using namespace transformers::training;

namespace {

Json tiny(const std::string& arch) {
  Json c = {{"model_type", arch},       {"vocab_size", 61},
            {"hidden_size", 24},        {"intermediate_size", 40},
            {"num_hidden_layers", 2},   {"num_attention_heads", 4},
            {"num_key_value_heads", 2}, {"head_dim", 6},
            {"rms_norm_eps", 1e-5},     {"max_position_embeddings", 64},
            {"rope_theta", 10000.0}};
  if (arch == "gpt2")
    c.update(Json{{"n_embd", 24}, {"n_layer", 2}, {"n_head", 4}, {"n_positions", 64}});
  if (arch == "gemma2" || arch == "gemma3_text") {
    c["sliding_window"] = 3;
    c["attn_logit_softcapping"] = 2.0;
    c["final_logit_softcapping"] = 3.0;
  }
  if (arch == "cohere") c["use_qk_norm"] = true;
  if (arch == "phi") c["partial_rotary_factor"] = 2.0 / 3.0;  // 4 of the 6 head dims rotate
  return c;
}

// The gradient of a few parameters (each one's largest element) against finite differences: every
// params/7-th one, and those whose name contains one of `also` (e.g. the MoE routers).
void check_gradients(TrainableModel& model, const std::vector<std::string>& also = {}, float h = 1e-2f) {
  const std::vector<int64_t> ids = {1, 7, 3, 9, 12, 4, 33, 5, 2, 8, 41, 6, 17, 3, 29, 11, 50, 23};
  const Tensor input = Tensor::from_values(ids, {2, 9});
  const Batch batch{input, input.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  const float loss = model.forward_backward(batch, n);
  ASSERT_TRUE(std::isfinite(loss));
  const auto params = model.parameters();
  ASSERT_FALSE(params.empty());
  int checked = 0, named_checked = 0;
  const size_t stride = std::max<size_t>(1, params.size() / 7);
  for (size_t k = 0; k < params.size(); ++k) {
    TrainableParameter* p = params[k];
    const bool named = std::any_of(also.begin(), also.end(),
                                   [&](const std::string& part) { return p->name.find(part) != std::string::npos; });
    if (k % stride != 0 && !named) continue;
    const size_t i = model_gradcheck::largest_gradient(*p);
    const double numeric = model_gradcheck::numeric_gradient(model, batch, n, *p, i, h);
    EXPECT_NEAR(model_gradcheck::gradient_at(*p, i), numeric, 2e-3 * std::abs(numeric) + 1e-4)
        << p->name << "[" << i << "]";
    checked += named ? 0 : 1;
    named_checked += named ? 1 : 0;
  }
  EXPECT_GE(checked, 5);
  if (!also.empty()) EXPECT_GE(named_checked, 4);  // two layers' worth
}

// The finite-difference step for mixtures of experts: at 1e-2 a token of the golden Mixtral
// changes experts (the loss jumps), at 4e-3 and below none does.
constexpr float kMoeStep = 4e-3f;

void check_family(const std::string& arch, const Json& extra = Json::object(),
                  const std::vector<std::string>& also = {}) {
  SCOPED_TRACE(arch);
  Json c = tiny(arch);
  c.update(extra);
  auto model = make_trainable(make_random_model(PretrainedConfig::from_json(c), 5, 0.3));
  check_gradients(*model, also, also.empty() ? 1e-2f : kMoeStep);
}

}  // namespace

TEST(FamiliesTrainable, Llama) { check_family("llama"); }
TEST(FamiliesTrainable, Gemma) { check_family("gemma"); }
TEST(FamiliesTrainable, Gemma2) { check_family("gemma2"); }
TEST(FamiliesTrainable, Gemma3) { check_family("gemma3_text"); }
TEST(FamiliesTrainable, Qwen2) { check_family("qwen2"); }
TEST(FamiliesTrainable, Qwen3) { check_family("qwen3"); }
TEST(FamiliesTrainable, Mistral) { check_family("mistral"); }
TEST(FamiliesTrainable, Olmo2) { check_family("olmo2"); }
TEST(FamiliesTrainable, Gpt2) { check_family("gpt2"); }
TEST(FamiliesTrainable, Phi) { check_family("phi"); }
TEST(FamiliesTrainable, Phi3) { check_family("phi3"); }
TEST(FamiliesTrainable, Cohere) { check_family("cohere"); }
TEST(FamiliesTrainable, Starcoder2) { check_family("starcoder2"); }

// Mixture of experts: the router's softmax, top-k and renormalisation, the per-expert gather and
// the weighted scatter (the experts' fused [E, ...] weights get one gradient each). The checked
// elements sit away from routing ties, so the finite differences keep every token's experts.
// The routers and the fused expert weights of every sparse layer, beside the sampled parameters.
const std::vector<std::string> kMoeParts = {"mlp.gate.weight", "experts.gate_up_proj", "experts.down_proj"};
TEST(FamiliesTrainable, Mixtral) {
  check_family("mixtral", {{"num_local_experts", 4}, {"num_experts_per_tok", 2}}, kMoeParts);
}
TEST(FamiliesTrainable, Qwen2MoeWithSharedExpert) {
  check_family("qwen2_moe",
               {{"num_experts", 4},
                {"num_experts_per_tok", 2},
                {"moe_intermediate_size", 16},
                {"shared_expert_intermediate_size", 20},
                {"norm_topk_prob", false}},
               {"mlp.gate.weight", "shared_expert_gate.weight"});  // the shared expert's sigmoid gate
}
// With output_router_logits, the loss adds router_aux_loss_coef · the load-balancing loss (a large
// coefficient here, so that its share of the router gradient is far beyond the tolerance).
TEST(FamiliesTrainable, MixtralWithRouterAuxLoss) {
  const Json moe = {{"num_local_experts", 4}, {"num_experts_per_tok", 2}, {"output_router_logits", true},
                    {"router_aux_loss_coef", 0.5}};
  Json c = tiny("mixtral");
  c.update(moe);
  auto model = make_trainable(make_random_model(PretrainedConfig::from_json(c), 5, 0.3));
  const Tensor input = Tensor::from_values(std::vector<int64_t>{1, 7, 3, 9, 12, 4, 33, 5}, {2, 4});
  const Batch batch{input, input.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  // The term is there: a load-balancing loss near top_k (2) for a router this close to uniform.
  EXPECT_GT(model->training_loss(batch, n) - model->evaluate(batch).first / n, 0.5);
  check_family("mixtral", moe, kMoeParts);
}
TEST(FamiliesTrainable, GoldenMixtral) {
  check_gradients(*load_trainable_causal_lm(transformers::testing::shared_path("golden/mixtral")), kMoeParts, kMoeStep);
}
TEST(FamiliesTrainable, GoldenQwen3Moe) {
  check_gradients(*load_trainable_causal_lm(transformers::testing::shared_path("golden/qwen3_moe")), kMoeParts, kMoeStep);
}
