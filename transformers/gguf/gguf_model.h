// Loading a GGUF file as a causal LM: its metadata becomes a config.json (in Transformers' names),
// its tensors the model's parameters under their Transformers names (gguf_names.h), the Q/K rows
// of the "llama" architecture put back in rotate_half order. Tensors are used where they lie in
// the mapping when no conversion is needed (no copy), as safetensors weights are.
#pragma once

#include <filesystem>
#include <memory>

#include "transformers/config/pretrained_config.h"
#include "transformers/io/gguf.h"
#include "transformers/models/auto.h"

namespace transformers::gguf {

// Whether `path` is a GGUF file (a regular file starting with GGUF's magic).
bool is_gguf_file(const std::filesystem::path& path);

// The config (as config.json would hold it) of a GGUF model; FormatError/ValueError naming the
// file and key for missing or unsupported metadata.
PretrainedConfig gguf_config(const GgufFile& file);

std::unique_ptr<CausalLM> load_gguf_causal_lm(const std::filesystem::path& path, const LoadOptions& options = {});

}  // namespace transformers::gguf
