// Fills a module's parameters from a safetensors checkpoint through v5's conversion pipeline:
// every header is parsed first, a plan maps checkpoint keys to parameters (renamings, then at
// most one converter per key: MoE expert fusion, q/k/v splits, ...), and the plan's items are
// read and converted on the thread pool. A tensor that needs no op and no cast is used in place
// (mmapped); otherwise only the items being worked on hold temporary memory, so the peak is the
// model plus one group of tensors per thread, never the checkpoint twice.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "transformers/io/safetensors.h"
#include "transformers/loading/quantization.h"
#include "transformers/loading/weight_transform.h"
#include "transformers/nn/module.h"

namespace transformers {

struct PretrainedConfig;

struct LoadReport {
  std::vector<std::string> missing;      // in the model, not in the checkpoint
  std::vector<std::string> unexpected;   // in the checkpoint, not in the model
  std::vector<std::string> mismatched;   // "name: checkpoint [..] vs model [..]"
  size_t mapped = 0;                     // tensors used in place (zero-copy)
  size_t converted = 0;                  // tensors copied with a dtype conversion or an op
  // Rules that fired, in table order (what save_pretrained reverses), and for each the number
  // of model tensors it produced.
  std::vector<loading::WeightTransform> conversions;
  std::map<std::string, size_t> conversion_counts;  // rule description -> tensors
  double seconds = 0;                               // wall time of the load
  // Quantize-on-load (LoadWeightsOptions::quantization): the method, the matrices quantized with
  // their float and quantized bytes, and each matrix kept in float with the reason.
  std::string quantization;
  size_t quantized = 0;
  uint64_t quantized_source_bytes = 0, quantized_bytes = 0;
  std::vector<std::string> kept_in_float;  // "name (reason)"

  // A v5-style "LOAD REPORT" table (status, key, detail), for logs and the CLI.
  std::string to_string() const;
};

struct LoadWeightsOptions {
  DType dtype = DType::F32;  // weight matrices; vectors are kept in f32
  // (target, source): the target shares the source's tensor and need not be in the checkpoint.
  std::vector<std::pair<std::string, std::string>> tied;
  // The rules: user key_mapping renamings, the model_type's table, the legacy renames.
  std::vector<loading::WeightTransform> rules;
  const PretrainedConfig* config = nullptr;  // for ops that need it (PermuteForRope)
  std::string base_model_prefix = "model";
  // Quantize weight matrices while loading (loading/quantization.h); nullptr: as stored / dtype.
  const QuantizationConfig* quantization = nullptr;
  // A pre-quantized checkpoint (loading/prequantized.h), named here ("gptq", ...): its packed
  // integer / fp8 tensors may be read, and the block dtypes its rules repack into are kept as
  // they are (counted as quantized in the report) instead of being cast to `dtype`.
  std::string prequantized;
  // Unexpected checkpoint keys are an error too (default: reported).
  bool strict = false;
  // Called after each group of tensors is in place with (groups done, groups in all), from the
  // pool's threads, possibly at once: a progress display for long loads (conversions, casts).
  std::function<void(size_t done, size_t total)> on_progress = {};
};

// Missing, shape-mismatched or unconvertible tensors always throw (a model cannot run without
// them), naming the keys; unexpected keys throw only when strict.
LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& checkpoint, const LoadWeightsOptions& options);

// The original entry point: no conversion rules.
LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& checkpoint, DType matrix_dtype,
                        const std::vector<std::pair<std::string, std::string>>& tied = {});

}  // namespace transformers
