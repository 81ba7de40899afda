// llama.cpp's importance matrix ("imatrix"): for every weight matrix of a model, the sum over
// calibration tokens of the square of each input column's activation, with the number of tokens.
// Divided, it is the mean square of what each column of W multiplies, so an error in a column that
// meets large activations costs more: the weighted quantizers (ops::quantize_weighted, GGML's
// quantize_row_*_impl) spend their precision there. Quantize-on-load and export-gguf take one
// (QuantizationConfig::importance, `--imatrix FILE`).
//
// Files are llama.cpp's GGUF imatrix format (what llama-imatrix writes since 2025): general.type
// "imatrix", imatrix.datasets (strings), imatrix.chunk_count and imatrix.chunk_size (u32), and per
// matrix two f32 tensors, "<name>.in_sum2" [matrices, K] and "<name>.counts" [matrices, 1]
// (matrices > 1 for stacked experts). <name> is llama.cpp's tensor name ("blk.0.attn_q.weight")
// for the matrices gguf/gguf_names.h maps (the same for every architecture it covers), so
// llama-quantize can use our files with our exported GGUF and we can use llama.cpp's; else the
// Transformers name. load() also reads llama-imatrix's legacy binary file (imatrix.dat, its only
// format before 2025; from_legacy).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers {

class CausalLM;
class GgufFile;

struct ImportanceMatrix {
  struct Entry {
    int64_t columns = 0;              // K
    std::vector<double> sum_squares;  // [matrices * K]
    std::vector<double> counts;       // [matrices]: tokens seen by each matrix
  };
  std::map<std::string, Entry> entries;  // by the model's parameter name (Transformers naming)
  std::vector<std::string> datasets;
  int64_t chunk_count = 0, chunk_size = 0;

  // The importances of a parameter for ops::quantize_weighted: f32 [K], or [matrices, K] for
  // stacked experts; sum / count, and 1 for a matrix no calibration token reached (as
  // llama-quantize reads them). nullopt when the matrix has no entry; ValueError naming the
  // parameter when its shape does not match the entry's.
  std::optional<Tensor> importance(const std::string& name, const Shape& weight_shape) const;

  // Writes the GGUF imatrix file atomically.
  void save(const std::filesystem::path& path) const;
  // Reads one (GGUF tensor names mapped back), in either format (a GGUF file by its magic, else
  // the legacy one). FormatError naming the file and tensor for a file that is not an imatrix,
  // mismatched or misshapen sums and counts, negative or non-finite values.
  static ImportanceMatrix load(const std::filesystem::path& path);
  static ImportanceMatrix from_gguf(const GgufFile& file);
  // The legacy layout, little-endian int32 and f32: n_entries, then per entry the name's length and
  // bytes, ncall, nval and nval values (each mean square times ncall, experts' matrices one after
  // another), then optionally the last chunk's number and the dataset's name. An entry becomes
  // one matrix of nval columns counted ncall times (importance() splits it by the weight's shape),
  // so values / ncall are the importances, as llama-quantize reads them (the values themselves
  // where ncall is 0). `what` names the bytes in errors.
  static ImportanceMatrix from_legacy(const unsigned char* data, size_t size, const std::string& what);
};

// Runs `model` over `ids` in chunks of `chunk_size` tokens, each chunk a sequence of its own (as
// llama-imatrix does), adding the input of every matrix product to the matrix of each weight
// parameter it multiplies (experts separately). `dataset` is recorded in the file.
ImportanceMatrix compute_importance_matrix(const CausalLM& model, const std::vector<int64_t>& ids, int64_t chunk_size,
                                           const std::string& dataset);

}  // namespace transformers
