#include "transformers/config/generation_config_overrides.h"

#include <utility>

namespace transformers {

GenerationConfig with_overrides(const GenerationConfig& base, const Json& patch,
                                const std::string& where) {
  TCPP_CHECK(patch.is_object(), ValueError, where,
             " must be a JSON object, e.g. '{\"top_k\": 20}'");
  Json merged = base.raw.is_object() ? base.raw : Json::object();
  merged.update(patch);
  GenerationConfig patched = GenerationConfig::from_json(merged, where);
  if (!patched.bos_token_id) patched.bos_token_id = base.bos_token_id;
  if (!patched.pad_token_id) patched.pad_token_id = base.pad_token_id;
  if (patched.eos_token_ids.empty() && !patch.contains("eos_token_id"))
    patched.eos_token_ids = base.eos_token_ids;
  return patched;
}

}  // namespace transformers
