// The op API of attention_weights (the probabilities for output_attentions): checks, output
// allocation and the device switch (ops/cpu/attention_weights_op.cpp).
#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& p) {
  recorded::refuse("attention_weights", {&q, &k});
  checks::require_one_device("attention_weights", {&q, &k, p.key_padding_mask});
  for (const Tensor* t : {&q, &k})
    TCPP_CHECK(t->dtype() == DType::F32 && t->dim() == 4 && t->stride(3) == 1, ShapeError,
               "attention_weights: expected f32 [B, H, L, D] with contiguous D, got ",
               t->describe());
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1),
                T = k.size(2);
  TCPP_CHECK(k.size(0) == B && k.size(3) == D && Hkv > 0 && Hq % Hkv == 0, ShapeError,
             "attention_weights: q ", q.describe(), " and k ", k.describe(), " do not fit");
  if (p.key_padding_mask)
    checks::require_key_padding_mask(*p.key_padding_mask, B, p.key_position + T,
                                     "attention_weights");
  Tensor out = Tensor::zeros({B, Hq, L, T}, DType::F32, q.device());
  on_device("attention_weights", q.device(), [&] { cpu_impl::attention_weights(q, k, p, out); });
  return out;
}

}  // namespace transformers::ops
