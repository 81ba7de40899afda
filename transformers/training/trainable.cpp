#include "transformers/training/trainable.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "transformers/core/storage.h"
#include "transformers/ops/ops.h"

namespace transformers::training {

// Every training step allocates and frees the same large tensors (a step of the demo model's
// shape: 32 MiB logits and their gradient, 6 MiB MLP activations, ...).
TrainableModel::TrainableModel() { keep_freed_memory_for_reuse(); }

int64_t count_shifted_targets(const Tensor& labels) {
  TCPP_CHECK(labels.dim() == 2 && labels.dtype() == DType::I64, ShapeError,
             "count_shifted_targets: labels must be int64 [B, L], got ", labels.describe());
  const std::vector<int64_t> values = ops::to_int64_vector(labels);
  const int64_t rows = labels.size(0), length = labels.size(1);
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 1; t < length; ++t) count += values[r * length + t] != kIgnoreIndex;
  return count;
}

bool uses_weight_decay(std::string_view parameter_name) {
  std::string lower(parameter_name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("bias") != std::string::npos || lower.find("layernorm") != std::string::npos ||
      lower.find("rmsnorm") != std::string::npos)
    return false;
  // Path components: "model.norm.weight" -> model, norm, weight.
  size_t begin = 0;
  while (begin <= lower.size()) {
    size_t end = lower.find('.', begin);
    if (end == std::string::npos) end = lower.size();
    std::string_view component(lower.data() + begin, end - begin);
    if (component == "norm" || (component.size() >= 5 && component.ends_with("_norm"))) return false;
    begin = end + 1;
  }
  return true;
}

}  // namespace transformers::training
