#include "transformers/generation/generate.h"

#include <algorithm>

#include "transformers/ops/ops.h"

namespace transformers {

GenerateOutput generate(const CausalLM& model, const Tensor& input_ids, const GenerationConfig& cfg,
                        const GenerateOptions& options) {
  TCPP_CHECK(input_ids.dim() == 2 && input_ids.dtype() == DType::I64, ShapeError,
             "generate: input_ids must be int64 [batch, length], got ", input_ids.describe());
  TCPP_CHECK(!cfg.do_sample && cfg.num_beams == 1, NotImplementedError,
             "generate: only greedy search is implemented (do_sample=false, num_beams=1)");
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  const int64_t max_new = cfg.max_new_tokens ? *cfg.max_new_tokens : std::max<int64_t>(0, cfg.max_length - L);
  TCPP_CHECK(max_new >= 0, ValueError, "generate: max_new_tokens must be >= 0");

  GenerateOutput out;
  out.sequences.resize(B);
  Tensor ids = input_ids.contiguous();
  for (int64_t b = 0; b < B; ++b) out.sequences[b].assign(ids.data<int64_t>() + b * L, ids.data<int64_t>() + (b + 1) * L);
  const int64_t pad = cfg.pad_token_id ? *cfg.pad_token_id : (cfg.eos_token_ids.empty() ? 0 : cfg.eos_token_ids[0]);
  std::vector<bool> finished(B, false);
  auto is_eos = [&](int64_t t) { return std::find(cfg.eos_token_ids.begin(), cfg.eos_token_ids.end(), t) != cfg.eos_token_ids.end(); };

  std::unique_ptr<Cache> cache = options.use_cache ? model.make_cache() : nullptr;
  Tensor step_input = ids;
  for (int64_t step = 0; step < max_new; ++step) {
    ForwardOptions fo;
    fo.cache = cache.get();
    fo.logits_to_keep = 1;
    if (!cache) {
      const int64_t T = static_cast<int64_t>(out.sequences[0].size());
      step_input = Tensor::empty({B, T}, DType::I64);
      for (int64_t b = 0; b < B; ++b) std::copy(out.sequences[b].begin(), out.sequences[b].end(), step_input.data<int64_t>() + b * T);
    }
    Tensor logits = model.forward(step_input, fo).logits;  // [B, 1, V]
    Tensor last = logits.select(1, 0);
    if (options.output_scores) out.scores.push_back(last.clone());
    Tensor next = ops::argmax(last);
    Tensor next_input = Tensor::empty({B, 1}, DType::I64);
    std::vector<int64_t> chosen(B);
    for (int64_t b = 0; b < B; ++b) {
      int64_t t = finished[b] ? pad : next.data<int64_t>()[b];
      out.sequences[b].push_back(t);
      next_input.data<int64_t>()[b] = chosen[b] = t;
      if (!finished[b] && is_eos(t)) finished[b] = true;
    }
    if (options.on_step) options.on_step(chosen);
    step_input = next_input;
    if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) break;
  }
  return out;
}

}  // namespace transformers
