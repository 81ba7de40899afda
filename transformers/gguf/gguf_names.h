// The correspondence between Hugging Face's state_dict names and llama.cpp's GGUF names for the
// Llama-family decoders (llama, mistral, qwen2, qwen3) and the Gemma family (gemma, gemma2,
// gemma3), and GGUF's architecture names. Export maps one way, import the other, from the same
// table.
#pragma once

#include <optional>
#include <string>

#include "transformers/config/pretrained_config.h"
#include "transformers/core/tensor.h"

namespace transformers::gguf {

// "llama" (also for mistral), "qwen2", "qwen3", "gemma", "gemma2", "gemma3" (gemma3_text);
// nullopt for a model_type GGUF export does not cover yet.
std::optional<std::string> gguf_architecture(const std::string& model_type);

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"; nullopt for names outside
// the table (the caller names them in its error).
// `arch` is the GGUF architecture: gemma2 / gemma3 name their four norms per layer differently.
std::optional<std::string> gguf_tensor_name(const std::string& hf_name, const std::string& arch);
// The inverse: "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight".
std::optional<std::string> hf_tensor_name(const std::string& gguf_name, const std::string& arch);

// Gemma's RMSNorm multiplies by (1 + w), GGML's by w: llama.cpp's converter stores 1 + w for
// every Gemma-family norm weight, so export adds 1 and import subtracts it.
bool stores_norms_plus_one(const std::string& arch, const std::string& hf_name);
// x + delta elementwise, in f32 (norm weights: vectors).
Tensor plus(const Tensor& x, float delta);

// Whether llama.cpp's "llama" architecture stores this projection with its rows permuted
// (GGML's rope rotates adjacent pairs, Transformers' rotate_half the two halves of each head):
// q_proj and k_proj weights and biases.
bool is_rope_permuted(const std::string& hf_name);

// convert_hf_to_gguf's LlamaModel.permute on the rows of a weight [heads * D, ...] or bias:
// within each head, rows [2, D/2] become [D/2, 2] (GGML's rope rotates adjacent pairs what
// rotate_half rotated as two halves); `inverse` undoes it. Any dtype (rows move whole).
Tensor permute_rows_for_ggml_rope(const Tensor& x, int64_t heads, bool inverse = false);

// llama.cpp applies llama3 rope scaling as per-frequency divisors (the rope_freqs.weight tensor),
// which its converter computes from the rope parameters as this does: f32 [head_dim / 2].
Tensor llama3_rope_factors(const RopeParameters& rope, int64_t head_dim);

}  // namespace transformers::gguf
