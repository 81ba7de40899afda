// The CPU implementations of the ops (ops/cpu/*_op.cpp): the loops over tensor memory behind
// ops.h, calling the kernel table (cpu::kernels()). The op API in ops/*.cpp has already checked
// shapes, dtypes and devices and allocated the outputs; these functions trust that and only
// compute. A CUDA backend adds the same list under ops/cuda, and ops/*.cpp a case per op.
// Where a function says "contiguous" the API layer passes a contiguous tensor (or view).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "transformers/ops/ops.h"

namespace transformers::ops::cpu_impl {

// elementwise_op.cpp
// src contiguous, out of the same numel; int8_threshold: the outlier threshold stored in LLM_INT8 blocks.
void cast(const Tensor& src, Tensor& out, float int8_threshold = 6.0f);
// Rows of src ([N, K] or [E, N, K]) by the format's weighted quantizer, importance [K] or [E, K].
void quantize_weighted(const Tensor& src, const Tensor& importance, Tensor& out);
// In place on a contiguous NF4 / FP4 tensor: its absmax values double-quantized (bnb_blocks.h).
void bnb_double_quantize_(Tensor& x);
// out[i] = weight row ids[i] as f32; ids contiguous I64 or I32; ValueError on an id outside [0, V).
void embedding(const Tensor& weight, const Tensor& ids, Tensor& out);
// out = a op b elementwise over contiguous f32 tensors of one size; out may be a (in place).
void add(const Tensor& a, const Tensor& b, Tensor& out);
void mul(const Tensor& a, const Tensor& b, Tensor& out);
void silu_mul(const Tensor& gate, const Tensor& up, Tensor& out);
void gelu_tanh_mul(const Tensor& gate, const Tensor& up, Tensor& out);
// a = a op b elementwise, b already broadcast to a's shape and contiguous.
void mul_same_shape_(Tensor& a, const Tensor& b);
void div_same_shape_(Tensor& a, const Tensor& b);
// In place on a contiguous f32 tensor.
void scale_(Tensor& a, float s);
void softcap_(Tensor& x, float cap);
void tanh_(Tensor& x);
void sigmoid_(Tensor& x);
void normalize_sum_(Tensor& x);
void softmax_(Tensor& x);
void activation_(Tensor& x, Activation act);
// Row-wise norms of contiguous x into out (same shape).
void rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset, Tensor& out);
void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps, Tensor& out);

// linear_op.cpp: y = x · weightᵀ + bias, x contiguous f32 [..., K], y [..., N].
void linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& y);
// ys[i] = x · parts[i].weightᵀ + parts[i].bias, in one dispatch of the pool.
void linear_group(const Tensor& x, const std::vector<LinearWeights>& parts, std::vector<Tensor>& ys);

// attention_op.cpp, attention_weights_op.cpp: out [B, L, Hq * Dv] and zero-filled [B, Hq, L, T].
void attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params,
               Tensor& out);
void attention_weights(const Tensor& q, const Tensor& k, const AttentionParams& params,
                       Tensor& out);

// paged_attention_op.cpp: out [T, Hq * D].
void paged_kv_write(const PagedKV& kv, const Tensor& k, const Tensor& v, const std::vector<RaggedSequence>& sequences);
void paged_attention(const Tensor& q, const PagedKV& kv, const std::vector<RaggedSequence>& sequences,
                     const AttentionParams& params, Tensor& out);

// rope_op.cpp
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin);
// positions contiguous I64 [B, L]; cos and sin [B, L, 2 * inv_freq.size()].
void rotary_tables(const Tensor& positions, const std::vector<float>& inv_freq, float scaling,
                   Tensor& cos, Tensor& sin);

// reduce_op.cpp: over the last dimension of contiguous f32 x.
void argmax(const Tensor& x, Tensor& out);
void topk(const Tensor& x, int64_t k, Tensor& values, Tensor& indices);

// indexing_op.cpp
// dst = src (same shape and dtype, any strides); where they overlap, src is laid out so that
// copying rows in row-major order reads every element before it is overwritten (ops::copy_
// clones it otherwise).
void copy_(Tensor& dst, const Tensor& src);
// Rows ids[i] of contiguous x into out; ids contiguous I64, already range-checked.
void index_select(const Tensor& x, const Tensor& ids, Tensor& out);
// out[ids[i]] += weights[i] * src[i]; src, ids and weights contiguous, ids range-checked.
void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights);
void fill_arange(Tensor& out, int64_t start);  // out I64 [n] = start, start + 1, ...
// Host values of contiguous x: integers (I64, I32, U8, Bool) widened to int64, or F32 floats.
std::pair<int64_t, int64_t> min_max(const Tensor& x);
std::vector<int64_t> to_int64_vector(const Tensor& x);
std::vector<float> to_float_vector(const Tensor& x);

}  // namespace transformers::ops::cpu_impl
