// Backward of cat, index_select, index_add_ and top-k (the mixture-of-experts routing, gather and
// scatter).
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops::recorded {

using autograd::NoGrad;

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor y;
  {
    NoGrad off;
    y = ops::cat(xs, dim);
  }
  std::vector<std::shared_ptr<autograd::Meta>> inputs;
  std::vector<int64_t> sizes;
  for (const Tensor& x : xs) {
    inputs.push_back(x.autograd());
    sizes.push_back(x.size(dim));
  }
  autograd::record(y, "cat", std::move(inputs), [sizes, dim](const Tensor& g) {
    std::vector<Tensor> out;
    int64_t offset = 0;
    for (int64_t n : sizes) {
      out.push_back(g.slice(dim, offset, offset + n));
      offset += n;
    }
    return out;
  });
  return y;
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k) {
  std::pair<Tensor, Tensor> out;
  {
    NoGrad off;
    out = ops::topk(x, k);
  }
  const Tensor idx = out.second.detach();
  const Shape x_shape = x.shape();
  autograd::record(out.first, "topk", {x.autograd()}, [idx, x_shape](const Tensor& g) {
    Tensor dx = Tensor::empty(x_shape, DType::F32, g.device());
    const Tensor gc = g.contiguous();
    on_device("topk backward", g.device(), [&] { cpu_impl::topk_backward(idx, gc, dx); });
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor index_select(const Tensor& x, const Tensor& ids) {
  Tensor y;
  {
    NoGrad off;
    y = ops::index_select(x, ids);
  }
  const Tensor idx = ids.detach();
  const Shape x_shape = x.shape();
  autograd::record(y, "index_select", {x.autograd()}, [idx, x_shape](const Tensor& g) {
    Tensor dx = Tensor::zeros(x_shape, DType::F32, g.device());
    ops::index_add_(dx, idx, g.contiguous());
    return std::vector<Tensor>{dx};
  });
  return y;
}

void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights) {
  auto inputs = std::vector{out.autograd(), src.autograd(), autograd::meta_of(weights)};
  {
    NoGrad off;
    ops::index_add_(out, ids, src, weights);
  }
  const Tensor idx = ids.detach(), ss = src.contiguous().detach(),
               ws = weights ? weights->detach() : Tensor{};
  const bool want_src = src.autograd() != nullptr, want_w = weights && weights->autograd();
  autograd::record(out, "index_add_", std::move(inputs), [=](const Tensor& g) {
    Tensor rows = ops::index_select(g.contiguous(), idx);  // g[ids[i]], [n, ...]
    Tensor dsrc, dw;
    if (want_w) {
      // d weights[i] = <g[ids[i]], src[i]>
      const int64_t n = rows.size(0), inner = rows.numel() / std::max<int64_t>(n, 1);
      const std::vector<float> r = ops::to_float_vector(rows), s = ops::to_float_vector(ss);
      std::vector<float> d(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        double acc = 0.0;
        for (int64_t j = 0; j < inner; ++j)
          acc += static_cast<double>(r[i * inner + j]) * s[i * inner + j];
        d[i] = static_cast<float>(acc);
      }
      dw = Tensor::from_values(d, ws.shape());
    }
    if (want_src) {
      dsrc = rows;
      if (ws.defined()) {
        Shape per_row(static_cast<size_t>(rows.dim()), 1);
        per_row[0] = rows.size(0);
        ops::mul_(dsrc, ws.contiguous().view(per_row));
      }
    }
    return std::vector<Tensor>{g, dsrc, dw};
  });
}

}  // namespace transformers::ops::recorded
