// Cross-entropy over logits with integer labels: the summed loss (what ForCausalLMLoss divides
// by num_items_in_batch) and its backward, softmax minus the one-hot label.
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_backward.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

namespace {
// logits [..., V] and labels [...] as [N, V] and [N], checked.
std::pair<Tensor, Tensor> flat_rows(const Tensor& logits, const Tensor& labels,
                                    int64_t ignore_index) {
  checks::require_f32(logits, "cross_entropy");
  checks::require_one_device("cross_entropy", {&logits, &labels});
  TCPP_CHECK(labels.dtype() == DType::I64 && logits.dim() >= 1 &&
                 labels.numel() * logits.size(-1) == logits.numel(),
             ShapeError, "cross_entropy: labels ", labels.describe(), " do not fit logits ",
             logits.describe());
  const int64_t V = logits.size(-1);
  Tensor rows = logits.detach().contiguous().view({-1, V}),
         targets = labels.contiguous().view({-1});
  for (int64_t y : to_int64_vector(targets))
    TCPP_CHECK(y == ignore_index || (y >= 0 && y < V), ValueError, "cross_entropy: label ", y,
               " outside the vocabulary [0, ", V, ") and not ignore_index ", ignore_index);
  return {rows, targets};
}
}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index) {
  if (autograd::recording({&logits})) return recorded::cross_entropy(logits, labels, ignore_index);
  // Named references, not a structured binding: clang before 16 (the fuzz build's compiler)
  // does not let a lambda capture a binding.
  const auto flat = flat_rows(logits, labels, ignore_index);
  const Tensor& rows = flat.first;
  const Tensor& targets = flat.second;
  const double total = on_device("cross_entropy", logits.device(), [&] {
    return cpu_impl::cross_entropy(rows, targets, ignore_index);
  });
  return Tensor::from_values(std::vector<float>{static_cast<float>(total)}, Shape{});
}

namespace recorded {

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index) {
  const auto flat = flat_rows(logits, labels, ignore_index);
  const Tensor rows = flat.first, targets = flat.second;
  // Each row's log-sum-exp, kept for the backward (one float a row).
  const Tensor lse = Tensor::empty({rows.size(0)}, DType::F32, logits.device());
  const double total = on_device("cross_entropy", logits.device(), [&] {
    return cpu_impl::cross_entropy_saving_lse(rows, targets, ignore_index, lse.data<float>());
  });
  Tensor loss = Tensor::from_values(std::vector<float>{static_cast<float>(total)}, Shape{});
  const Shape shape = logits.shape();
  autograd::record(loss, "cross_entropy", {logits.autograd()}, [=](const Tensor& g) {
    Tensor d = Tensor::empty(rows.shape(), DType::F32, g.device());
    const float gs = to_float_vector(g)[0];
    on_device("cross_entropy backward", g.device(), [&] {
      cpu_impl::cross_entropy_backward(rows, targets, ignore_index, lse.data<float>(), gs, d);
    });
    return std::vector<Tensor>{d.view(shape)};
  });
  return loss;
}

}  // namespace recorded
}  // namespace transformers::ops
