// SentencePiece-style BPE vocabularies (Llama 2, Mistral, Phi-3, Gemma: BPE with byte_fallback
// over "▁"-marked text) as llama.cpp's "llama" GGUF vocabulary, and back (gguf_vocab.h uses it).
//
// GGUF keeps SentencePiece's form: tokens, a score per token (the higher, the earlier merged) and
// a token type (normal, unknown, control, user-defined, unused, byte <0xNN>); no merges. Written
// from a tokenizer.json, a token's score is minus the rank of the first merge that makes it
// (-1e30 for tokens no merge makes), so the order of merging is the file's. Read back, the merges
// are rebuilt as Transformers' SentencePiece converter builds them: every split of a token into two
// vocabulary pieces, by descending score of the token, splits of one token by their pieces' ids.
// For the Llama 2 and Gemma tokenizer.json files this gives their merges list exactly.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/io/gguf.h"
#include "transformers/io/json.h"

namespace transformers::tokenization {

// llama.cpp's token types (llama_token_type).
enum GgufTokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// model.merges of a BPE tokenizer.json as (left, right) pairs, from either of its two spellings,
// and as "left right" strings (GGUF's tokenizer.ggml.merges form).
std::vector<std::pair<std::string, std::string>> tokenizer_json_merge_pairs(const Json& model,
                                                                           const std::string& where);
std::vector<std::string> tokenizer_json_merges(const Json& model, const std::string& where);

// A BPE tokenizer.json with byte_fallback: SentencePiece's BPE converted by Transformers.
bool is_sentencepiece_bpe(const Json& tokenizer);

struct SpmVocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  bool add_space_prefix = true;       // "▁" before the text (a Prepend normalizer or Metaspace)
  bool add_bos = false, add_eos = false;  // the post-processor's template adds them
};
// The vocabulary of `vocab_size` ids (ids without a token are "[PAD<i>]", unused, as llama.cpp's
// converter pads); FormatError / ValueError naming `where` and the field.
SpmVocabulary spm_vocabulary(const Json& tokenizer, int64_t vocab_size, const std::string& where);

// The tokenizer.json of a GGUF "llama" vocabulary (Transformers' form of the same tokenizer);
// `bos` / `eos` / `unk` are token ids or -1.
OrderedJson spm_tokenizer_json(const GgufFile& file, int64_t bos, int64_t eos, int64_t unk, bool add_bos, bool add_eos);

// A TemplateProcessing post-processor adding (token, id) `bos` before and `eos` after each text.
OrderedJson template_post_processor(const std::optional<std::pair<std::string, int64_t>>& bos,
                                    const std::optional<std::pair<std::string, int64_t>>& eos);

}  // namespace transformers::tokenization
