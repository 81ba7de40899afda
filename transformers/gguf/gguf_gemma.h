// The Gemma family (gemma, gemma2, gemma3) in GGUF, as llama.cpp's converter writes it and its
// graphs read it: what differs from the Llama family beyond the tensor names (gguf_names.h).
//   - Norm weights are stored as 1 + w (gguf_names.h's stores_norms_plus_one).
//   - No query_pre_attn_scalar key: llama.cpp scales attention by 1/sqrt(head_dim) (27B models:
//     1/sqrt(hidden / heads)). Export folds sqrt(that / query_pre_attn_scalar) into the queries
//     (gemma3: the q_norm weight, gemma2: the attn_q rows; exact in real arithmetic, as both
//     scale q linearly before rope), so a file holds what llama.cpp computes the model with; import
//     sets query_pre_attn_scalar to llama.cpp's value.
//   - gemma2: {arch}.attn_logit_softcapping, final_logit_softcapping, attention.sliding_window, even
//     layers sliding. gemma3: attention.sliding_window, five sliding layers to one global, local
//     rope base 10000 without scaling (llama.cpp hard-codes these), linear scaling on the global.
#pragma once

#include <string>

#include "transformers/config/pretrained_config.h"
#include "transformers/io/gguf.h"
#include "transformers/io/json.h"

namespace transformers::gguf {

bool is_gemma_architecture(const std::string& arch);

// Export: ValueError naming the key for what llama.cpp would compute differently (an activation
// other than tanh GELU, gemma2 without softcaps, gemma3 with them or another layer pattern or local
// rope). Returns the rope parameters of the global layers (what {arch}.rope.* describe).
RopeParameters check_gemma_exportable(const PretrainedConfig& c, const std::string& arch);
void write_gemma_metadata(GgufWriter& w, const PretrainedConfig& c, const std::string& arch);
// The factor export multiplies the queries by (1 when query_pre_attn_scalar is llama.cpp's).
double gemma_query_scale(const PretrainedConfig& c, const std::string& arch);

// Import: the Gemma keys of config.json from the file's metadata (model_type, activation,
// softcaps, sliding window and layer pattern, local rope, query_pre_attn_scalar).
void read_gemma_config(const GgufFile& f, const std::string& arch, Json& config);

}  // namespace transformers::gguf
