// The recorded forms of the ops (ops/*_backward.cpp): what an op of ops.h calls instead of
// computing when autograd::recording() says one of its inputs needs a gradient. Each runs the
// op itself with recording off, then attaches a Node whose backward (written here, beside the
// forward) computes with the CPU kernels of ops/cpu/cpu_backward.h. In-place forms save what
// their backward needs before mutating and rebind the mutated tensor to the new Node.
#pragma once

#include <vector>

#include "transformers/core/autograd.h"
#include "transformers/ops/ops.h"

namespace transformers::ops::recorded {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor* bias);
Tensor embedding(const Tensor& weight, const Tensor& ids);
Tensor cast(const Tensor& x, DType dtype);
Tensor add(const Tensor& a, const Tensor& b);
void add_(Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
void mul_(Tensor& a, const Tensor& b);
void scale_(Tensor& a, float s);
void softcap_(Tensor& x, float cap);
void tanh_(Tensor& x);
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, bool unit_offset);
Tensor layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps);
void softmax_(Tensor& x);
void normalize_sum_(Tensor& x);
Tensor sigmoid(const Tensor& x);
void activation_(Tensor& x, Activation act);
Tensor gated_activation(const Tensor& gate, const Tensor& up, Activation act);
void apply_rotary_(Tensor& x, const Tensor& cos, const Tensor& sin);
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionParams& params);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k);  // values recorded, indices not
Tensor index_select(const Tensor& x, const Tensor& ids);
void index_add_(Tensor& out, const Tensor& ids, const Tensor& src, const Tensor* weights);
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int64_t ignore_index);

// For an op without a backward: NotImplementedError naming it when it would have to record.
void refuse(const char* op, std::initializer_list<const Tensor*> inputs);

// The gradient of a broadcast operand: g summed over the dimensions `shape` was broadcast along.
Tensor reduce_to(const Tensor& g, const Shape& shape);

// f32 values rounded to the nearest bf16 (ties to even), kept in f32 (bf16 autocast's casts).
Tensor bf16_values(const Tensor& t);

}  // namespace transformers::ops::recorded
