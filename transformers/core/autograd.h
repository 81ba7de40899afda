// Reverse-mode autograd state at the op boundary. A tensor that needs a gradient carries a
// Meta: a leaf (a trainable parameter) has a gradient buffer that backward adds into; a computed
// tensor has the Node that made it, with its inputs' Metas and a backward function written beside
// the op's forward (ops/*_backward.cpp). Ops record a Node only when grad mode is on and one of
// their inputs carries a Meta, so inference (no Meta anywhere) pays one null check per input.
//
// Views (view, reshape, transpose, permute, slice, select, unsqueeze, expand, clone) record
// themselves here, in core, with a generic backward: the gradient is added into the same view of
// a zero tensor of the source's shape. In-place ops rebind the mutated tensor's Meta to a new
// Node whose inputs include the old Meta; they must save (a copy of) what their backward needs
// before mutating. Saved tensors are kept detached (no Meta), so the graph holds no cycle.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers::autograd {

struct Node;

struct Meta {
  std::shared_ptr<Node> node;  // null for a leaf
  Tensor grad;                 // a leaf's gradient buffer (f32, the tensor's shape)
  Shape shape;                 // the tensor's shape, for checking the gradients that reach it
  // Under bf16 autocast: torch would hold this value as a bfloat16 tensor (an autocast linear's
  // output, views of it, elementwise ops on such values). Ops read it to round where torch's
  // bf16 arithmetic rounds, and views pass it on.
  bool bf16 = false;
};

// Returns one gradient per input of the Node (undefined: no gradient, e.g. an input that needs
// none), each f32 in that input's shape (any strides).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  const char* name = "";
  std::vector<std::shared_ptr<Meta>> inputs;  // null where that input needs no gradient
  BackwardFn backward;
};

namespace detail {
// A thread-local switch set for a scope and restored after it (grad mode, autocast).
class ScopedSwitch {
 public:
  ScopedSwitch(bool& flag, bool value) : flag_(flag), previous_(flag) { flag = value; }
  ~ScopedSwitch() { flag_ = previous_; }
  ScopedSwitch(const ScopedSwitch&) = delete;
  ScopedSwitch& operator=(const ScopedSwitch&) = delete;

 private:
  bool& flag_;
  bool previous_;
};
bool& grad_enabled_flag();
bool& autocast_bf16_flag();
}  // namespace detail

// Thread-local grad mode (on by default, as torch). Off, no op records anything.
bool grad_enabled();
class GradMode : detail::ScopedSwitch {
 public:
  explicit GradMode(bool enabled) : ScopedSwitch(detail::grad_enabled_flag(), enabled) {}
};
struct NoGrad : GradMode {
  NoGrad() : GradMode(false) {}
};

// Thread-local bf16 autocast (TrainingArguments bf16, as torch.autocast("cpu", torch.bfloat16)
// around the training step): recorded linears round their input, weight and bias to bf16,
// accumulate in f32 and round the output to bf16 (marking it Meta::bf16); their gradients
// likewise. Attention's two matmuls, the gated activation on bf16 halves and rope's backward on a
// bf16 input round where torch's bf16 ops do (ops/*_backward.cpp). Read only on the recording
// path: inference never looks at it.
bool autocast_bf16();
class AutocastBf16 : detail::ScopedSwitch {
 public:
  explicit AutocastBf16(bool enabled) : ScopedSwitch(detail::autocast_bf16_flag(), enabled) {}
};

// Whether an op on these inputs must record: grad mode on and one of them carries a Meta.
// Null pointers (absent optional inputs) are skipped.
inline bool recording(std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs)
    if (t && t->autograd()) return grad_enabled();
  return false;
}
inline std::shared_ptr<Meta> meta_of(const Tensor* t) { return t ? t->autograd() : nullptr; }
// Under autocast: whether torch would hold `t` in bf16 (Meta::bf16); marks a recorded output so.
inline bool holds_bf16(const Tensor& t) { return autocast_bf16() && t.autograd() && t.autograd()->bf16; }
inline void mark_bf16(const Tensor& t) {
  if (t.autograd()) t.autograd()->bf16 = true;
}

// Makes `t` a leaf that needs a gradient; backward adds into `grad` (f32, t's shape, writable),
// or into a new zero buffer when `grad` is undefined. Every tensor sharing this Meta (copies of
// the same parameter, tied weights) feeds the one buffer.
void set_requires_grad(Tensor& t, Tensor grad = {});
// The gradient buffer of a leaf (undefined for anything else).
Tensor grad_of(const Tensor& t);

// Attaches a new Node to `out` (a fresh op output, or the tensor an in-place op mutated).
void record(Tensor& out, const char* name, std::vector<std::shared_ptr<Meta>> inputs,
            BackwardFn backward);

// Called by the view methods of Tensor: the Meta of view `out` of `src` made by `apply`
// (re-applied to a zero tensor of src's shape in the backward); null when nothing records.
std::shared_ptr<Meta> view_meta(const Tensor& src, const Tensor& out,
                                std::function<Tensor(const Tensor&)> apply);

// Runs the graph behind `root` backwards from `grad_root` (f32, root's shape; undefined: ones,
// for a scalar loss), adding into the leaves' gradient buffers. The graph's saved tensors are
// released as it goes (a graph is walked once, as torch without retain_graph).
void backward(const Tensor& root, const Tensor& grad_root = {});

// dst += src over f32 tensors of one shape (any strides; dst may have stride-0 dimensions, which
// then accumulate).
void accumulate(Tensor& dst, const Tensor& src);

}  // namespace transformers::autograd
