#include "transformers/models/registry.h"

#include "transformers/models/model_files.h"

namespace transformers {

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> entries = {
      {"llama", {"LlamaForCausalLM"}, make_llama_for_causal_lm},
      {"mistral", {"MistralForCausalLM"}, make_mistral_for_causal_lm},
      {"qwen2", {"Qwen2ForCausalLM"}, make_qwen2_for_causal_lm},
      {"qwen3", {"Qwen3ForCausalLM"}, make_qwen3_for_causal_lm},
      {"mixtral", {"MixtralForCausalLM"}, make_mixtral_for_causal_lm},
      {"qwen2_moe", {"Qwen2MoeForCausalLM"}, make_qwen2_moe_for_causal_lm},
      {"qwen3_moe", {"Qwen3MoeForCausalLM"}, make_qwen3_moe_for_causal_lm},
      {"gemma", {"GemmaForCausalLM"}, make_gemma_for_causal_lm},
      {"gemma2", {"Gemma2ForCausalLM"}, make_gemma2_for_causal_lm},
      {"gemma3_text", {"Gemma3ForCausalLM"}, make_gemma3_for_causal_lm},
      {"phi3", {"Phi3ForCausalLM"}, make_phi3_for_causal_lm},
      {"gpt2", {"GPT2LMHeadModel"}, make_gpt2_for_causal_lm},
      {"olmo2", {"Olmo2ForCausalLM"}, make_olmo2_for_causal_lm},
      {"starcoder2", {"Starcoder2ForCausalLM"}, make_starcoder2_for_causal_lm},
      {"cohere", {"CohereForCausalLM"}, make_cohere_for_causal_lm},
      {"phi", {"PhiForCausalLM"}, make_phi_for_causal_lm},
  };
  return entries;
}

const ModelEntry& find_model(const PretrainedConfig& config) {
  std::string known;
  for (const auto& e : model_registry()) {
    if (e.model_type == config.model_type) return e;
    known += (known.empty() ? "" : ", ") + e.model_type;
  }
  throw ConfigError(detail::concat(config.where(), ": unknown model_type '", config.model_type, "' (supported: ", known, ")"));
}

}  // namespace transformers
