// `transformers export-gguf`: a causal LM written as a GGUF file that llama.cpp runs, with the
// conventions of llama.cpp's own converter (convert_hf_to_gguf.py): Q/K rows permuted for the
// "llama" architecture, a rope_freqs tensor for llama3 rope scaling, no output tensor when the
// embeddings are tied, norms and biases in F32 (Gemma's as 1 + w, gguf_gemma.h), and the tokenizer
// and chat template as metadata.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "transformers/io/gguf.h"
#include "transformers/models/causal_lm.h"

namespace transformers {
struct ImportanceMatrix;
}

namespace transformers::gguf {

struct GgufExportOptions {
  std::string outtype = "f16";  // f32, f16, bf16 (and the quantized types the build has kernels for)
  std::string name{};  // general.name (default: the model_type)
  // Writes the tokenizer.* keys and returns the tokenizer model written ("gpt2", "llama"): the
  // tokenizer layer's tokenization::write_gguf_vocabulary for the model's folder.
  std::function<std::string(GgufWriter&)> write_tokenizer{};
  // llama.cpp's importance matrix (loading/importance_matrix.h): the matrices it has entries for
  // are quantized by GGML's importance-weighted quantizers, as llama-quantize --imatrix does.
  std::shared_ptr<const ImportanceMatrix> importance{};
};

struct GgufExportReport {
  size_t tensors = 0;
  std::string architecture, tokenizer_model;  // "llama"/"qwen2"/..., "gpt2"/"llama"
  uint64_t bytes = 0;
};

// The outtypes export_gguf accepts, for messages.
std::string gguf_outtypes();

// Writes `model` to `out` (atomically). ValueError naming the field for what llama.cpp cannot
// express (an unsupported model_type, rope type, a sliding window it would ignore, a tokenizer
// kind not converted yet).
GgufExportReport export_gguf(const CausalLM& model, const std::filesystem::path& out, const GgufExportOptions& options);

}  // namespace transformers::gguf
