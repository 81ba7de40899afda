// The finite-difference harness of the ops' backward passes. A case gives the op (run on f32 or
// bf16 tensors through ops.h, with autograd) and an independent double-precision reference of
// the same function. The harness checks the op's forward against the reference, then the
// gradient of <r, op(x)> (r a fixed random projection) from the op's backward against central
// differences of <r, reference(x)> computed in double (h = 1e-6), for every element of every
// input that needs a gradient. It returns its complaints (empty: passed), so a test can also show
// that it catches a wrong backward.
#pragma once

#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "transformers/core/autograd.h"
#include "transformers/ops/ops.h"

namespace gradcheck {

using transformers::DType;
using transformers::Shape;
using transformers::Tensor;
using Values = std::vector<std::vector<double>>;  // one row-major vector per input

struct Input {
  Shape shape;
  bool needs_grad = true;
  DType dtype = DType::F32;  // BF16: a bf16 weight (the reference sees its rounded values)
  double scale = 1.0;        // values uniform in [-scale, scale]
};

struct Case {
  std::vector<Input> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> op;
  std::function<std::vector<double>(const Values&)> reference;
  double tolerance = 2e-4;  // of the largest |gradient| of each input (and of the largest output)
  unsigned seed = 7;
};

inline std::string check(const Case& c) {
  std::mt19937 rng(c.seed);
  std::vector<Tensor> xs;
  Values values;
  for (const Input& in : c.inputs) {
    std::uniform_real_distribution<float> u(static_cast<float>(-in.scale),
                                            static_cast<float>(in.scale));
    std::vector<float> v(static_cast<size_t>(transformers::shape_numel(in.shape)));
    for (float& f : v) f = u(rng);
    Tensor t = Tensor::from_values(v, in.shape);
    if (in.dtype != DType::F32) t = transformers::ops::cast(t, in.dtype);
    const std::vector<float> exact =
        transformers::ops::to_float_vector(transformers::ops::cast(t, DType::F32));
    values.emplace_back(exact.begin(), exact.end());
    if (in.needs_grad) transformers::autograd::set_requires_grad(t);
    xs.push_back(t);
  }
  std::ostringstream errors;
  Tensor y = c.op(xs);
  const std::vector<double> expected = c.reference(values);
  const std::vector<float> got = transformers::ops::to_float_vector(y.detach().contiguous());
  if (got.size() != expected.size())
    return "output has " + std::to_string(got.size()) + " values, reference " +
           std::to_string(expected.size());
  double out_scale = 1e-6;
  for (double e : expected) out_scale = std::max(out_scale, std::abs(e));
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - expected[i]) <= 1e-5 * out_scale + 1e-6)) {  // NaN fails too
      errors << "forward[" << i << "] " << got[i] << " vs reference " << expected[i] << "\n";
      break;
    }
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> r(got.size());
  for (float& f : r) f = u(rng);
  transformers::autograd::backward(y, Tensor::from_values(r, y.shape()));

  auto projected = [&](const Values& v) {
    const std::vector<double> out = c.reference(v);
    double s = 0.0;
    for (size_t i = 0; i < out.size(); ++i) s += r[i] * out[i];
    return s;
  };
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!c.inputs[k].needs_grad) continue;
    const std::vector<float> analytic =
        transformers::ops::to_float_vector(transformers::autograd::grad_of(xs[k]));
    if (analytic.size() != values[k].size()) errors << "input " << k << ": no gradient\n";
    std::vector<double> numeric(analytic.size());
    double largest = 1e-3;
    for (size_t i = 0; i < numeric.size(); ++i) {
      Values v = values;
      const double h = 1e-6;
      v[k][i] = values[k][i] + h;
      const double plus = projected(v);
      v[k][i] = values[k][i] - h;
      numeric[i] = (plus - projected(v)) / (2 * h);
      largest = std::max(largest, std::abs(numeric[i]));
    }
    for (size_t i = 0; i < numeric.size(); ++i)
      if (!(std::abs(analytic[i] - numeric[i]) <= c.tolerance * largest)) {
        errors << "input " << k << " gradient[" << i << "] " << analytic[i]
               << " vs finite difference " << numeric[i] << " (largest " << largest << ")\n";
        break;
      }
  }
  return errors.str();
}

}  // namespace gradcheck
