// Finite differences of a whole TrainableModel's loss (training_loss: summed CE / n, plus the MoE
// auxiliary loss where the config asks for it) with respect to
// one parameter element: central differences at h and h/2 (h = 1e-2 unless given) combined by Richardson extrapolation
// (cancelling the h^2 term), in float32 forward passes.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "transformers/ops/ops.h"
#include "transformers/training/trainable.h"

namespace model_gradcheck {

using transformers::training::Batch;
using transformers::training::TrainableModel;
using transformers::training::TrainableParameter;

// The element of p with the largest |gradient|.
inline size_t largest_gradient(const TrainableParameter& p) {
  const std::vector<float> g = transformers::ops::to_float_vector(p.grad);
  return static_cast<size_t>(
      std::max_element(g.begin(), g.end(),
                       [](float a, float b) { return std::abs(a) < std::abs(b); }) -
      g.begin());
}

// h: the larger step (the smaller is h / 2). A mixture of experts needs one small enough that no
// token's top-k choice flips between the evaluations (the loss jumps where it does).
inline double numeric_gradient(TrainableModel& model, const Batch& batch, int64_t n,
                               TrainableParameter& p, size_t i, float h = 1e-2f) {
  float* w = p.value.data<float>() + i;
  const float original = *w;
  auto central = [&](float h) {
    *w = original + h;
    const double plus = model.training_loss(batch, n);
    *w = original - h;
    const double minus = model.training_loss(batch, n);
    *w = original;
    return (plus - minus) / (static_cast<double>(original + h) - static_cast<double>(original - h));
  };
  return (4.0 * central(h / 2) - central(h)) / 3.0;
}

inline float gradient_at(const TrainableParameter& p, size_t i) {
  return transformers::ops::to_float_vector(p.grad)[i];
}

}  // namespace model_gradcheck
