// GenerationConfig.update(**kwargs) from JSON: what `transformers generate --generation-config`
// and the C API's generation_config_json apply over a model's generation_config.json.
#pragma once

#include <string>

#include "transformers/config/generation_config.h"

namespace transformers {

// A copy of `base` with the keys of `patch` (a JSON object, else ValueError naming `where`) set
// over its generation_config.json keys. Token ids that `base` took from the model config (absent
// from its file) stay unless the patch sets them.
GenerationConfig with_overrides(const GenerationConfig& base, const Json& patch,
                                const std::string& where);

}  // namespace transformers
