// Configs with the real dimensions of small public checkpoints, for speed measurements on random
// weights (no checkpoint needed): the same shapes as ../shared/tools/peer-bench/
// make_bench_model.py writes, so figures compare with llama.cpp on those files.
#pragma once

#include <string>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/io/json.h"

namespace transformers::cli {

inline std::vector<std::string> model_preset_names() { return {"qwen2.5-0.5b", "llama-3.2-1b"}; }

// The config.json of a preset; ValueError naming `flag` for an unknown name.
inline Json model_preset_config(const std::string& name, const std::string& flag) {
  if (name == "llama-3.2-1b")
    return {{"model_type", "llama"},
            {"vocab_size", 128256},
            {"hidden_size", 2048},
            {"intermediate_size", 8192},
            {"num_hidden_layers", 16},
            {"num_attention_heads", 32},
            {"num_key_value_heads", 8},
            {"head_dim", 64},
            {"rms_norm_eps", 1e-5},
            {"max_position_embeddings", 131072},
            {"tie_word_embeddings", true},
            {"rope_theta", 500000.0},
            {"rope_scaling",
             {{"rope_type", "llama3"},
              {"factor", 32.0},
              {"high_freq_factor", 4.0},
              {"low_freq_factor", 1.0},
              {"original_max_position_embeddings", 8192}}}};
  if (name == "qwen2.5-0.5b")
    return {{"model_type", "qwen2"},       {"vocab_size", 151936},
            {"hidden_size", 896},          {"intermediate_size", 4864},
            {"num_hidden_layers", 24},     {"num_attention_heads", 14},
            {"num_key_value_heads", 2},    {"head_dim", 64},
            {"rms_norm_eps", 1e-6},        {"max_position_embeddings", 32768},
            {"tie_word_embeddings", true}, {"rope_theta", 1000000.0}};
  throw ValueError(detail::concat(flag, ": unknown model preset '", name,
                                  "' (presets: qwen2.5-0.5b, llama-3.2-1b)"));
}

}  // namespace transformers::cli
