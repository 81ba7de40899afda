// Input checks shared by the op implementations (not part of the op API): each names the op and
// the tensors, so a caller's mistake reads as a ShapeError about that op.
#pragma once

#include <initializer_list>

#include "transformers/core/tensor.h"

namespace transformers::ops::checks {

// All defined inputs of an op on one device, and a backend for that device in this build (the CPU
// only): ShapeError naming the op and both devices when they differ, NotImplementedError otherwise.
inline void require_one_device(const char* op, std::initializer_list<const Tensor*> inputs) {
  const Tensor* first = nullptr;
  for (const Tensor* t : inputs) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    TCPP_CHECK(t->device() == first->device(), ShapeError, op, ": inputs on different devices (",
               device_name(first->device()), " and ", device_name(t->device()), ")");
  }
  if (first) require_available(first->device(), op);
}

inline void require_f32(const Tensor& t, const char* op) {
  TCPP_CHECK(t.defined() && t.dtype() == DType::F32, ShapeError, op, ": expected a float32 tensor, got ", t.describe());
  require_available(t.device(), op);
}

inline void require_writable(const Tensor& t, const char* op) {
  TCPP_CHECK(t.defined() && t.storage()->writable(), ValueError, op, ": tensor ", t.describe(),
             " is read-only (mapped from a file)");
}

}  // namespace transformers::ops::checks
