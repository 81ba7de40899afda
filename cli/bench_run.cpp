#include "cli/bench_run.h"

#include <chrono>
#include <set>
#include <string>

#include "bench/cpu_snapshot.h"
#include "transformers/ops/ops.h"

namespace transformers::cli {
namespace {

bool is_input_embedding(const std::string& name) {
  return name.find("embed_tokens") != std::string::npos || name.find("wte.") != std::string::npos ||
         name.find("wpe.") != std::string::npos ||
         name.find("embed_positions") != std::string::npos;
}

bool is_lm_head(const std::string& name) { return name.rfind("lm_head.", 0) == 0; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Deterministic prompt ids spread over the vocabulary (the rows differ).
Tensor prompt_ids(int64_t batch, int64_t n, int64_t vocab, uint64_t seed) {
  Tensor ids = Tensor::empty({batch, n}, DType::I64);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < batch * n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    ids.data<int64_t>()[i] = static_cast<int64_t>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

}  // namespace

double ModelCost::prefill_flops(int64_t batch, int64_t n_prompt) const {
  const double positions = static_cast<double>(n_prompt) * static_cast<double>(n_prompt + 1) / 2;
  return 2.0 * static_cast<double>(batch) *
         (static_cast<double>(layer_matmul_params) * static_cast<double>(n_prompt) +
          static_cast<double>(head_matmul_params) +
          static_cast<double>(attention_macs_per_context_token) * positions);
}

ModelCost model_cost(const CausalLM& model) {
  ModelCost c;
  std::set<const void*> seen;
  for (const auto& p : model.named_parameters()) {
    if (!p.tensor->defined()) continue;
    const bool fresh = seen.insert(p.tensor->raw_data()).second;
    const bool embedding = is_input_embedding(p.name), head = is_lm_head(p.name);
    const auto bytes = static_cast<int64_t>(p.tensor->nbytes());
    if (head) c.head_matmul_params = p.tensor->numel();
    // A head tied to the embedding table (met after it) reads that table whole every step.
    if (head && !fresh) c.step_weight_bytes += bytes;
    if (!fresh) continue;
    c.params += p.tensor->numel();
    c.weight_bytes += bytes;
    if (!embedding) c.step_weight_bytes += bytes;
    if (!embedding && !head && p.role == nn::ParamRole::Matrix)
      c.layer_matmul_params += p.tensor->numel();
  }
  const PretrainedConfig& cfg = model.config();
  const int64_t head_dim = cfg.head_dim > 0              ? cfg.head_dim
                           : cfg.num_attention_heads > 0 ? cfg.hidden_size / cfg.num_attention_heads
                                                         : 0;
  c.attention_macs_per_context_token =
      2 * cfg.num_hidden_layers * cfg.num_attention_heads * head_dim;
  return c;
}

RepFigures time_once(const CausalLM& model, const RepPlan& plan, uint64_t seed) {
  RepFigures f;
  auto cache = model.make_cache();
  const Tensor ids = prompt_ids(plan.batch, plan.n_prompt, model.config().vocab_size, seed);
  const ForwardOptions options{.cache = cache.get(), .logits_to_keep = 1};
  auto t0 = std::chrono::steady_clock::now();
  Tensor logits = model.forward(ids, options).logits;
  f.prompt_s = seconds_since(t0);
  Tensor next = ops::argmax(logits).reshape({plan.batch, 1});
  f.ttft_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < plan.n_gen; ++step)
    next = ops::argmax(model.forward(next, options).logits).reshape({plan.batch, 1});
  f.gen_s = seconds_since(t0);
  return f;
}

RepFigures time_rep(const CausalLM& model, const RepPlan& plan, uint64_t seed) {
  RepFigures quietest;
  for (int attempt = 1; attempt <= plan.max_tries; ++attempt) {
    bench::wait_for_quiet(plan.quiet_wait_s, plan.max_others);
    const auto before = bench::CpuSnapshot::now();
    RepFigures f = time_once(model, plan, seed);
    f.others_cores = bench::CpuSnapshot::now().others_since(before);
    if (attempt == 1 || f.others_cores < quietest.others_cores) quietest = f;
    quietest.tries = attempt;
    if (f.others_cores <= plan.max_others) return quietest;
  }
  quietest.disturbed = true;
  return quietest;
}

}  // namespace transformers::cli
