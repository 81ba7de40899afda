// CPU linear: the tier's linear driver over the thread pool (ops/cpu/linear_driver.cpp).
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/cpu/kernels.h"

namespace transformers::ops::cpu_impl {

void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& y) {
  const int64_t K = weight.size(1), N = weight.size(0), M = x.numel() / K;
  cpu::kernels().linear(x.data<float>(), M, K, K, weight.raw_data(), weight.dtype(), N,
                        bias ? bias->data<float>() : nullptr, y.data<float>(), N,
                        &ThreadPool::global());
}

void linear_group(const Tensor& x, const std::vector<LinearWeights>& parts, std::vector<Tensor>& ys) {
  const cpu::Kernels& tier = cpu::kernels();
  const int64_t K = x.size(-1), M = x.numel() / K;
  if (tier.isa == cpu::Isa::Scalar) {  // the reference tier has no driver: its linear, one weight at a time
    for (size_t i = 0; i < parts.size(); ++i) linear(x, *parts[i].weight, parts[i].bias, ys[i]);
    return;
  }
  std::vector<cpu::LinearPart> cpu_parts;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& w = *parts[i].weight;
    cpu_parts.push_back({w.raw_data(), w.dtype(), w.size(0), parts[i].bias ? parts[i].bias->data<float>() : nullptr,
                         ys[i].data<float>(), w.size(0)});
  }
  cpu::linear_group(tier, x.data<float>(), M, K, K, cpu_parts, &ThreadPool::global());
}

}  // namespace transformers::ops::cpu_impl
