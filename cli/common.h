// Helpers shared by the subcommands.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/loading/quantization.h"

namespace CLI {
class App;
}

namespace transformers::cli {

// A model folder with tokenizer files (tokenizer.json or a sentencepiece tokenizer.model), or a
// GGUF file (its tokenizer is in its metadata).
bool has_tokenizer(const std::filesystem::path& model);

// "1,17,42;1,5,5" -> int64 [2, 3]. Rows are separated by ';', ids by ',' (spaces allowed).
// Throws ValueError naming `flag` for empty rows, non-integers or rows of unequal length.
Tensor parse_id_matrix(const std::string& text, const std::string& flag);

// Whether `path` is `folder` or lies below it, comparing the paths as written (resolve links
// first with canonical / weakly_canonical).
bool is_within(const std::filesystem::path& path, const std::filesystem::path& folder);

// An output file given on the command line, with the flag that named it.
struct OutputFile {
  std::string flag, path;
};

// Refuses (ValueError naming the flag) outputs that would destroy an input or each other: two
// outputs that are the same file, or an output that is the model folder's own file (through a
// link or a hard link too) or lies inside the model folder. Empty paths are unused flags.
void check_outputs(const std::string& model_dir, const std::vector<OutputFile>& outputs);

// --threads N: sets the process's thread pool size. The pool is created on first use from
// TRANSFORMERS_NUM_THREADS, so this must run before anything runs a kernel; ValueError when the
// pool already runs another number of threads.
void use_threads(int threads);

// --quantization q8_0|q4_0|bnb-4bit|bnb-fp4|bnb-8bit (v5's quantization_config, loading/quantization.h): weight matrices
// quantized while loading, embeddings and lm_head kept in float as v5 does; a "-all" suffix
// (q8_0-all) quantizes those too, as llama.cpp's files of that type do. Empty: none.
// --imatrix FILE: llama.cpp's importance matrix (`transformers imatrix`, llama-imatrix) for GGML's
// importance-weighted quantizers (loading/importance_matrix.h).
struct QuantizationFlags {
  std::string method, imatrix;
};
void add_quantization_flag(CLI::App* sub, QuantizationFlags* flags);
std::optional<QuantizationConfig> quantization_from_flag(const QuantizationFlags& flags);
// The --imatrix option alone (export-gguf); nullptr when empty.
void add_imatrix_flag(CLI::App* sub, std::string* path);
std::shared_ptr<const ImportanceMatrix> importance_from_flag(const std::string& path);

}  // namespace transformers::cli
