// The CPU arithmetic of the ops' backward passes (ops/cpu/*_backward_op.cpp), called by the
// recorded ops of ops/*_backward.cpp. Inputs are contiguous f32 unless said otherwise; outputs
// are allocated by the caller (contiguous f32) and fully written. An optional output that is
// null is not wanted (its input needs no gradient).
#pragma once

#include <cstdint>

#include "transformers/ops/ops.h"

namespace transformers::ops::cpu_impl {

// linear_backward_op.cpp: x [M, K], w f32 [N, K], dy [M, N] -> dx = dy·w [M, K],
// dw = dyᵀ·x [N, K], db = column sums of dy [N] (the tier's f32 GEMM where it has one, else
// OpenBLAS sgemm).
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor* dx, Tensor* dw,
                     Tensor* db);

// elementwise_backward_op.cpp
// dw [V, H] = zeros, then row ids[i] += dy[i] (scatter-add; repeated ids accumulate).
void embedding_backward(const Tensor& ids, const Tensor& dy, Tensor& dw);
// Rows of length H: x, dy [R, H]; dx [R, H]; dw [H].
void rms_norm_backward(const Tensor& x, const Tensor& weight, float eps, bool unit_offset,
                       const Tensor& dy, Tensor& dx, Tensor* dw);
void layer_norm_backward(const Tensor& x, const Tensor* weight, float eps, const Tensor& dy,
                         Tensor& dx, Tensor* dw, Tensor* db);
// dx = dy * act'(x).
void activation_backward(const Tensor& x, Activation act, const Tensor& dy, Tensor& dx);
// y = act(gate) * up: dgate = dy * up * act'(gate), dup = dy * act(gate). bf16: both halves were
// bf16 tensors under torch's autocast, y = r(act_bf16(gate) * up) with r() rounding to bf16 and
// act_bf16 torch's bf16 kernel (SiLU rounds each step), and the backward rounds as torch's bf16 ops
// do: g = r(dy), dup = r(g * act_bf16(gate)), dgate = act's bf16 backward of r(g * up).
void gated_activation_backward(const Tensor& gate, const Tensor& up, Activation act,
                               const Tensor& dy, Tensor* dgate, Tensor* dup, bool bf16 = false);
// The forward of the bf16 case above: out = r(act_bf16(gate) * up).
void gated_activation_bf16(const Tensor& gate, const Tensor& up, Activation act, Tensor& out);
// y = softmax(x) over rows of the last dimension: dx = y * (dy - sum(dy * y)).
void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx);
// y = sigmoid(x): dx = dy * y * (1 - y).
void sigmoid_backward(const Tensor& y, const Tensor& dy, Tensor& dx);
// y = x / sum(x) over rows of the last dimension (x the saved input):
// dx = (dy - sum(dy * x) / sum(x)) / sum(x).
void normalize_sum_backward(const Tensor& x, const Tensor& dy, Tensor& dx);
// Top-k values (indices I64 [R, k], dy [R, k]) of rows of n values: dx [R, n] = 0, then
// dx[r, indices[r, j]] = dy[r, j] (the values are a gather; the indices get no gradient).
void topk_backward(const Tensor& indices, const Tensor& dy, Tensor& dx);
// y = cap * tanh(x / cap) (or tanh with cap 1): dx = dy * (1 - (y / cap)^2).
void tanh_backward(const Tensor& y, float cap, const Tensor& dy, Tensor& dx);

// attention_backward_op.cpp: q [B, Hq, L, D], k [B, Hkv, T, D], v [B, Hkv, T, Dv] (contiguous
// last dimension, any other strides), dout [B, L, Hq * Dv] -> dq [B, Hq, L, D], dk, dv
// [B, Hkv, T, D/Dv], contiguous. Probabilities recomputed with the forward's masking rules.
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                        const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);

// attention_bf16_op.cpp: the same operands as attention_backward, computed as the eager attention
// runs under torch's bf16 CPU autocast (bf16 matmuls, f32 softmax; see the file). out [B, L, Hq * Dv]
// contiguous. k_holds_bf16 / v_holds_bf16: the input was a bf16 tensor in torch, so the heads of a
// KV group sum their gradients in bf16.
void attention_bf16(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p, Tensor& out);
void attention_bf16_backward(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& p,
                             const Tensor& dout, bool k_holds_bf16, bool v_holds_bf16, Tensor& dq, Tensor& dk,
                             Tensor& dv);

// loss_op.cpp: logits [N, V], labels I64 [N] (ignore_index rows skipped; the others in [0, V)).
// The summed cross-entropy, each row's log-sum-exp in double (exps included).
double cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index);
// The same for training: exps in f32 through the tier's vector exp, their sum's log and the loss
// in double; row_lse [N] gets each counted row's log-sum-exp, for the backward.
double cross_entropy_saving_lse(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                                float* row_lse);
// dlogits = g * (softmax(logits) - onehot(label)) on counted rows, 0 on ignored ones; row_lse
// from cross_entropy_saving_lse.
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, int64_t ignore_index,
                            const float* row_lse, float g, Tensor& dlogits);

}  // namespace transformers::ops::cpu_impl
