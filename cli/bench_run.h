// The measurements behind `transformers bench`: what one token costs a model (weight bytes read,
// FLOPs), and timed repetitions of prompt processing + greedy decode, each redone while other
// processes disturbed it (bench/cpu_snapshot.h), as ../shared/tools/peer-bench/llama_bench.mjs
// does for llama.cpp, so the two sides are measured alike.
#pragma once

#include <cstdint>

#include "transformers/models/causal_lm.h"

namespace transformers::cli {

struct ModelCost {
  int64_t params = 0;        // distinct parameters (a tied head counted once)
  int64_t weight_bytes = 0;  // bytes of those parameters as stored
  // Bytes one decode step reads: every weight but the input embedding tables, of which a step
  // reads one row (unless the LM head shares the table, which it then reads whole).
  int64_t step_weight_bytes = 0;
  int64_t layer_matmul_params = 0;  // weights multiplied per token in the decoder layers
  int64_t head_matmul_params = 0;   // the LM head's, multiplied once per kept position
  // Multiply-adds of attention for one token at context length t: 2 (QK, PV) x layers x heads x
  // head_dim x t.
  int64_t attention_macs_per_context_token = 0;

  // FLOPs of one forward over `batch` rows of `n_prompt` tokens from an empty cache keeping one
  // position's logits (causal attention: token i attends to i + 1 positions).
  double prefill_flops(int64_t batch, int64_t n_prompt) const;
};

ModelCost model_cost(const CausalLM& model);

struct RepPlan {
  int64_t n_prompt = 128, n_gen = 32, batch = 1;
  double max_others = 0.1;  // cores other processes may use during a rep before it is redone
  int max_tries = 3;        // tries per rep; the least disturbed is kept (marked) if none was quiet
  double quiet_wait_s = 5.0;  // before each try, wait up to this long for a quiet moment
};

struct RepFigures {
  double prompt_s = 0;  // the forward over the prompt
  double ttft_s = 0;    // the prompt forward + choosing the first token
  double gen_s = 0;     // n_gen decode steps, each one forward of one token per row + argmax
  double others_cores = 0;
  int tries = 0;
  bool disturbed = false;  // kept although others used more than max_others
};

// One timed prompt + decode pass, whatever else runs meanwhile; `seed` picks the prompt ids.
RepFigures time_once(const CausalLM& model, const RepPlan& plan, uint64_t seed);

// time_once, redone up to plan.max_tries times while other processes were busy; when no try was
// quiet, the least disturbed one is kept and marked.
RepFigures time_rep(const CausalLM& model, const RepPlan& plan, uint64_t seed);

}  // namespace transformers::cli
