// The op API: what models call. Every op checks its inputs (ShapeError naming the op and the
// shapes) and dispatches on the device; today that is ops/cpu. Activations are f32; weights may
// be f32, bf16 or f16 (converted inside the kernels, never materialised as f32 copies).
// Ops are pure functions of tensors, so an autograd tape can later record them with their
// backward without changing their signatures.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers::ops {

enum class Activation { SiLU, GELU, GELUTanh, ReLU };
// Maps config.json's hidden_act ("silu", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu", ...).
Activation activation_from_name(const std::string& name, const std::string& where);

// Dtype conversion of float tensors (any strides in, contiguous out).
Tensor cast(const Tensor& x, DType dtype);

// Rows of `weight` ([V, H], any float dtype) picked by integer `ids` (I64 or I32, any shape);
// returns f32 [..., H]. Ids outside [0, V) throw ValueError.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// x [..., K] f32 · weight[N, K]ᵀ + bias[N] -> [..., N] f32.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias = nullptr);

Tensor add(const Tensor& a, const Tensor& b);
void add_(Tensor& a, const Tensor& b);  // a += b
Tensor mul(const Tensor& a, const Tensor& b);
void scale_(Tensor& a, float s);

// Normalisations over the last dimension; weight and bias are f32 [H].
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset = false);
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);

void softmax_(Tensor& x);  // last dimension, in place
void activation_(Tensor& x, Activation act);
// act(gate) * up, elementwise (the gated MLP).
Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act);

// Rotary embedding in the half-split layout (rotate_half) applied in place to x viewed as
// [B, L, H, D]; cos and sin are [B, L, R] with R <= D even (partial rotary leaves D-R untouched).
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin);

struct AttentionParams {
  float scale = 1.0f;
  int64_t query_position = 0;  // cache position of the first query
  int64_t key_position = 0;    // cache position of the first key
  bool causal = true;
  std::optional<int64_t> sliding_window;  // key visible when query_pos - key_pos < window
                                          // (not causal: also key_pos - query_pos < window)
  float softcap = 0.0f;                   // > 0: scores = softcap * tanh(scores / softcap)
  const Tensor* key_padding_mask = nullptr;  // [B, key_position + T], nonzero = attend
};
// Scaled dot-product attention with grouped-query heads: q [B, Hq, L, D], k and v
// [B, Hkv, T, D] (any strides with contiguous D), Hq a multiple of Hkv; K/V are indexed per
// group, never repeated in memory. Returns [B, L, Hq * D] f32 contiguous.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params);

// The attention probabilities the op above uses, [B, Hq, L, T] (zero for keys a query cannot
// see): what Transformers returns as `attentions` with output_attentions=True. Computed apart
// from the fused op, only when asked for.
Tensor attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& params);

// The keys [lo, hi) that the query at cache position `query_position` may see among T keys
// starting at params.key_position (before padding): causal, sliding window (symmetric when not
// causal).
std::pair<int64_t, int64_t> visible_keys(const AttentionParams& params, int64_t query_position, int64_t T);

// Index of the maximum over the last dimension (first one on ties, as torch.argmax).
Tensor argmax(const Tensor& x);
// k largest values over the last dimension, sorted descending, with their indices (I64).
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k);

Tensor cat(const std::vector<Tensor>& xs, int64_t dim);

}  // namespace transformers::ops
