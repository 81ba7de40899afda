// The op API of argmax, top-k and cat: checks, output allocation and the device switch
// (ops/cpu/reduce_op.cpp). cat is copy_ into slices of its output, so it needs no backend of its
// own.
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

Tensor argmax(const Tensor& x) {
  TCPP_CHECK(x.dtype() == DType::F32 && x.dim() >= 1, ShapeError, "argmax: expected f32, got ",
             x.describe());
  checks::require_one_device("argmax", {&x});
  Tensor xc = x.contiguous();
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor out = Tensor::empty(out_shape, DType::I64, x.device());
  on_device("argmax", x.device(), [&] { cpu_impl::argmax(xc, out); });
  return out;
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k) {
  if (autograd::recording({&x})) [[unlikely]] return recorded::topk(x, k);
  TCPP_CHECK(x.dtype() == DType::F32 && x.dim() >= 1, ShapeError, "topk: expected f32, got ",
             x.describe());
  checks::require_one_device("topk", {&x});
  const int64_t n = x.size(-1);
  TCPP_CHECK(k >= 1 && k <= n, ValueError, "topk: k=", k, " out of range for ", n, " values");
  Tensor xc = x.contiguous();
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty(out_shape, DType::F32, x.device()),
         indices = Tensor::empty(out_shape, DType::I64, x.device());
  on_device("topk", x.device(), [&] { cpu_impl::topk(xc, k, values, indices); });
  return {values, indices};
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  for (const Tensor& x : xs)
    if (autograd::recording({&x})) [[unlikely]] return recorded::cat(xs, dim);
  TCPP_CHECK(!xs.empty(), ValueError, "cat: no tensors");
  const Tensor& first = xs[0];
  if (dim < 0) dim += first.dim();
  TCPP_CHECK(dim >= 0 && dim < first.dim(), ShapeError, "cat: dimension ", dim,
             " out of range for ", first.describe());
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  for (const Tensor& t : xs) {
    checks::require_one_device("cat", {&first, &t});
    TCPP_CHECK(t.dtype() == first.dtype() && t.dim() == first.dim(), ShapeError,
               "cat: ", t.describe(), " vs ", first.describe());
    for (int64_t d = 0; d < t.dim(); ++d)
      TCPP_CHECK(d == dim || t.size(d) == first.size(d), ShapeError, "cat: ", t.describe(), " vs ",
                 first.describe());
    out_shape[dim] += t.size(dim);
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  int64_t offset = 0;
  for (const Tensor& t : xs) {
    Tensor dst = out.slice(dim, offset, offset + t.size(dim));
    copy_(dst, t);
    offset += t.size(dim);
  }
  return out;
}

}  // namespace transformers::ops
