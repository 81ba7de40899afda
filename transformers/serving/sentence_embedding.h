// Sentence embeddings as sentence-transformers computes them: the model's last hidden state over
// one input's tokens, pooled (mean over tokens, the first token, or the last token). Shared by
// serve's POST /v1/embeddings and `transformers embed`, so the two give the same vectors.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/models/causal_lm.h"
#include "transformers/models/encoder.h"

namespace transformers::serving {

enum class Pooling { kMean, kCls, kLast };

// "mean", "cls" or "last" (ValueError naming `field` otherwise).
Pooling parse_pooling(const std::string& name, const std::string& field = "pooling");
const char* pooling_name(Pooling pooling);

// The pooling a model folder asks for in sentence-transformers' 1_Pooling/config.json:
// pooling_mode_cls_token -> CLS, pooling_mode_lasttoken -> last token, else (or without the file)
// the mean over tokens.
Pooling folder_pooling(const std::filesystem::path& folder);

// One input's embedding from a decoder (its hidden state after the final norm) or an encoder (its
// last_hidden_state); exactly one of the two is given. The forward runs unpadded, so every token
// counts.
std::vector<float> sentence_embedding(const CausalLM* decoder, const EncoderModel* encoder,
                                      const std::vector<int64_t>& ids, Pooling pooling);

// Scales `v` to unit L2 norm (sentence-transformers' Normalize module); a zero vector stays zero.
void l2_normalize(std::vector<float>& v);

}  // namespace transformers::serving
