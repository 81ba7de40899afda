// The tokenizer as GGUF metadata (tokenizer.ggml.*): a byte-level BPE tokenizer.json as
// llama.cpp's "gpt2" vocabulary (tokens, token types, merges, the pre-tokenizer by name), or, for a
// folder without one, a placeholder vocabulary of vocab_size tokens.
#pragma once

#include <filesystem>
#include <string>

#include "transformers/config/pretrained_config.h"
#include "transformers/io/gguf.h"

namespace transformers::tokenization {

// Sets the tokenizer.* keys on `writer` from the tokenizer files of `tokenizer_folder`; returns the tokenizer model written ("gpt2" or "llama").
std::string write_gguf_vocabulary(GgufWriter& writer, const PretrainedConfig& config,
                                 const std::filesystem::path& tokenizer_folder);

}  // namespace transformers::tokenization
