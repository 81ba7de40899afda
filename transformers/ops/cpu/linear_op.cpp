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

}  // namespace transformers::ops::cpu_impl
