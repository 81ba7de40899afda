// The sentencepiece fallback: a checkpoint with only tokenizer.model runs Google's
// libsentencepiece (Debian), with BOS/EOS added per tokenizer_config.json's add_bos_token /
// add_eos_token, as Transformers' light sentencepiece backend does.
#pragma once

#include <filesystem>
#include <memory>

#include "transformers/tokenization/backend.h"

namespace transformers::tokenization {

std::unique_ptr<TokenizerBackend> make_sentencepiece_backend(const std::filesystem::path& model,
                                                             bool add_bos, bool add_eos);

}  // namespace transformers::tokenization
