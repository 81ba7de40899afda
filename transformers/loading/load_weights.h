// Fills a module's parameters from a safetensors checkpoint. Matrices are used in place
// (mmapped) when the checkpoint's dtype is the requested one, and converted otherwise; vectors
// (norms, biases) are converted to f32. The loading/ layer is also where v5's WeightConverter
// tables apply (renames, MoE fusion) before tensors reach the model.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "transformers/io/safetensors.h"
#include "transformers/nn/module.h"

namespace transformers {

struct LoadReport {
  std::vector<std::string> missing;      // in the model, not in the checkpoint
  std::vector<std::string> unexpected;   // in the checkpoint, not in the model
  std::vector<std::string> mismatched;   // "name: checkpoint [..] vs model [..]"
  size_t mapped = 0;                     // tensors used in place (zero-copy)
  size_t converted = 0;                  // tensors copied with a dtype conversion
};

// Loads every registered parameter. `tied` lists (target, source) pairs: the target shares the
// source's tensor and need not be in the checkpoint. Missing or shape-mismatched tensors throw
// ShapeError naming them (the model cannot run with them); unexpected ones are reported.
LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& checkpoint, DType matrix_dtype,
                        const std::vector<std::pair<std::string, std::string>>& tied = {});

}  // namespace transformers
