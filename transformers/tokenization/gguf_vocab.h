// Tokenizers as GGUF metadata (tokenizer.ggml.*) and back: a byte-level BPE tokenizer.json is
// llama.cpp's "gpt2" vocabulary (tokens, token types, merges, the pre-tokenizer by name); a
// SentencePiece-style BPE one (byte fallback, the ▁ marker: Llama 2, Mistral, Gemma) is its
// "llama" vocabulary (tokens, scores, token types; gguf_spm_vocab.h); a folder without a tokenizer
// gets a placeholder vocabulary of vocab_size tokens.
#pragma once

#include <filesystem>
#include <string>

#include "transformers/config/pretrained_config.h"
#include "transformers/io/gguf.h"
#include "transformers/tokenization/tokenizer_config.h"

namespace transformers::tokenization {

// Sets the tokenizer.* keys on `writer` from the tokenizer files of `tokenizer_folder`; returns the tokenizer model written ("gpt2" or "llama").
std::string write_gguf_vocabulary(GgufWriter& writer, const PretrainedConfig& config,
                                 const std::filesystem::path& tokenizer_folder);

// The other way: the tokenizer of a GGUF file as a tokenizer.json (text) and the settings
// tokenizer_config.json would hold (special tokens, chat template, add_bos_token). "gpt2"
// (byte-level BPE) and "llama" (SentencePiece BPE) vocabularies are converted; others are a
// ValueError naming the model.
struct GgufTokenizer {
  std::string tokenizer_json;
  TokenizerConfig config;
};
GgufTokenizer gguf_tokenizer(const GgufFile& file);

}  // namespace transformers::tokenization
