// NumPy .npy files (format 1.0/2.0): read f32/f64/i32/i64/bool little-endian C-order arrays
// (f64 is read as f32), write f32/i64. Used for the CLI's outputs and the golden test data.
#pragma once

#include <filesystem>

#include "transformers/core/tensor.h"

namespace transformers {

Tensor load_npy(const std::filesystem::path& path);
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace transformers
