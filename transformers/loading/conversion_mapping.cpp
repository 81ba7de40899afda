#include "transformers/loading/conversion_mapping.h"

#include <map>
#include <mutex>

namespace transformers::loading {

namespace {

using R = WeightTransform;

// Mixtral's checkpoints keep one Linear per expert under block_sparse_moe; the model fuses them:
// gate_up_proj [E, 2I, H] (w1 = gate rows first, then w3 = up) and down_proj [E, H, I].
std::vector<WeightTransform> mixtral_rules() {
  return {
      R::renaming(".block_sparse_moe.", ".mlp."),
      R::converter({"experts.*.w1.weight", "experts.*.w3.weight"}, {"experts.gate_up_proj"},
                   {MergeModulelist(0), Concatenate(1)}),
      R::converter({"experts.*.w2.weight"}, {"experts.down_proj"}, {MergeModulelist(0)}),
  };
}

// Qwen2-MoE and the many families that copied its layout (per-expert gate/up/down_proj).
std::vector<WeightTransform> qwen2_moe_rules() {
  return {
      R::converter({"mlp.experts.*.gate_proj.weight", "mlp.experts.*.up_proj.weight"}, {"mlp.experts.gate_up_proj"},
                   {MergeModulelist(0), Concatenate(1)}),
      R::converter({"mlp.experts.*.down_proj.weight"}, {"mlp.experts.down_proj"}, {MergeModulelist(0)}),
  };
}

struct Tables {
  std::mutex mutex;
  std::map<std::string, std::vector<WeightTransform>> by_type;
};

Tables& tables() {
  static Tables t;
  static std::once_flag filled;
  std::call_once(filled, [] {
    // model_type -> base table, as _MODEL_TO_CONVERSION_PATTERN.
    for (const char* type : {"mixtral", "minimax"}) t.by_type[type] = mixtral_rules();
    for (const char* type : {"qwen2_moe", "qwen3_moe", "qwen3_next", "olmoe", "deepseek_v2", "deepseek_v3", "dots1",
                             "ernie4_5_moe", "glm4_moe", "hunyuan_v1_moe", "flex_olmo", "exaone_moe"})
      t.by_type[type] = qwen2_moe_rules();
  });
  return t;
}

}  // namespace

std::vector<WeightTransform> conversion_mapping(const std::string& model_type) {
  Tables& t = tables();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto it = t.by_type.find(model_type);
  return it == t.by_type.end() ? std::vector<WeightTransform>{} : it->second;
}

std::vector<WeightTransform> legacy_renamings() {
  return {
      R::renaming("LayerNorm.gamma", "LayerNorm.weight"),
      R::renaming("LayerNorm.beta", "LayerNorm.bias"),
      R::renaming(".weight_g$", ".parametrizations.weight.original0"),
      R::renaming(".weight_v$", ".parametrizations.weight.original1"),
  };
}

void register_conversion_mapping(const std::string& model_type, std::vector<WeightTransform> rules, bool overwrite) {
  Tables& t = tables();
  std::lock_guard<std::mutex> lock(t.mutex);
  TCPP_CHECK(overwrite || !t.by_type.count(model_type), ValueError, "a conversion mapping for model_type '",
             model_type, "' is already registered (pass overwrite)");
  t.by_type[model_type] = std::move(rules);
}

std::vector<WeightTransform> key_mapping_renamings(const std::vector<std::pair<std::string, std::string>>& mapping) {
  std::vector<WeightTransform> out;
  for (const auto& [from, to] : mapping) out.push_back(R::renaming(from, to));
  return out;
}

}  // namespace transformers::loading
