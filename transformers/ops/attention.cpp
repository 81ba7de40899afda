// The op API of attention: checks, output allocation and the device switch. The blocked CPU
// implementation is ops/cpu/attention_op.cpp. visible_keys, the masking rule, is shared by every
// backend and by attention_weights.
#include <algorithm>

#include "transformers/ops/checks.h"
#include "transformers/ops/cpu/cpu_ops.h"
#include "transformers/ops/on_device.h"
#include "transformers/ops/ops.h"
#include "transformers/ops/recorded.h"

namespace transformers::ops {

std::pair<int64_t, int64_t> visible_keys(const AttentionParams& p, int64_t qpos, int64_t T) {
  // Not causal: a window is symmetric (ModernBERT's local layers), |query - key| < window.
  const int64_t hi = p.causal ? std::clamp<int64_t>(qpos - p.key_position + 1, 0, T)
                     : p.sliding_window
                         ? std::clamp<int64_t>(qpos + *p.sliding_window - p.key_position, 0, T)
                         : T;
  const int64_t lo = p.sliding_window
                         ? std::clamp<int64_t>(qpos - *p.sliding_window + 1 - p.key_position, 0, T)
                         : 0;
  return {lo, hi};
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p) {
  // Checked before the recorded path too: its bf16 autocast kernel indexes by these shapes.
  checks::require_one_device("attention", {&q, &k, &v, p.key_padding_mask});
  for (const Tensor* t : {&q, &k, &v})
    TCPP_CHECK(t->dtype() == DType::F32 && t->dim() == 4 && t->stride(3) == 1, ShapeError,
               "attention: expected f32 [B, H, L, D] with contiguous D, got ", t->describe());
  const int64_t B = q.size(0), Hq = q.size(1), L = q.size(2), D = q.size(3), Hkv = k.size(1),
                T = k.size(2);
  TCPP_CHECK(k.size(0) == B && v.size(0) == B && k.size(3) == D && v.size(1) == Hkv &&
                 v.size(2) == T && Hkv > 0 && Hq % Hkv == 0,
             ShapeError, "attention: q ", q.describe(), ", k ", k.describe(), ", v ", v.describe(),
             " do not fit");
  if (p.key_padding_mask)
    checks::require_key_padding_mask(*p.key_padding_mask, B, p.key_position + T, "attention");
  if (autograd::recording({&q, &k, &v})) [[unlikely]] return recorded::attention(q, k, v, p);
  Tensor out = Tensor::empty({B, L, Hq * v.size(3)}, DType::F32, q.device());
  on_device("attention", q.device(), [&] { cpu_impl::attention(q, k, v, p, out); });
  return out;
}

}  // namespace transformers::ops
