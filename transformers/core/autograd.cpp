#include "transformers/core/autograd.h"

#include <algorithm>
#include <unordered_map>

namespace transformers::autograd {

namespace {
thread_local bool g_grad_enabled = true;
thread_local bool g_autocast_bf16 = false;

// Calls fn(dst_element, src_element) over two f32 tensors of one shape, any strides; serial, so
// stride-0 destinations accumulate correctly. Strided tensors (a view's gradient, e.g. attention's
// [B, H, L, D] heads added into [B, L, H, D]) go a row of the last dimension at a time, the outer
// offsets kept by an odometer: no per-element index arithmetic.
template <typename Fn>
void for_each_pair(Tensor& dst, const Tensor& src, Fn&& fn) {
  const int64_t nd = dst.dim(), n = dst.numel();
  if (n == 0) return;
  float* d = dst.data<float>();
  const float* s = src.data<float>();
  if (dst.is_contiguous() && src.is_contiguous()) {
    for (int64_t i = 0; i < n; ++i) fn(d[i], s[i]);
    return;
  }
  const Shape& size = dst.shape();
  // One buffer for the three per-dimension arrays (strides of each side, the odometer).
  std::vector<int64_t> scratch(static_cast<size_t>(3 * nd), 0);
  int64_t* dst_stride = scratch.data();
  int64_t* src_stride = dst_stride + nd;
  int64_t* idx = src_stride + nd;
  for (int64_t k = 0; k < nd; ++k) {
    dst_stride[k] = dst.stride(k);
    src_stride[k] = src.stride(k);
  }
  const int64_t inner = size[nd - 1], d_in = dst_stride[nd - 1], s_in = src_stride[nd - 1];
  int64_t od = 0, os = 0;
  for (int64_t row = 0; row < n / inner; ++row) {
    if (d_in == 1 && s_in == 1) {
      for (int64_t j = 0; j < inner; ++j) fn(d[od + j], s[os + j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) fn(d[od + j * d_in], s[os + j * s_in]);
    }
    for (int64_t k = nd - 2; k >= 0; --k) {
      od += dst_stride[k];
      os += src_stride[k];
      if (++idx[k] < size[k]) break;
      od -= dst_stride[k] * size[k];
      os -= src_stride[k] * size[k];
      idx[k] = 0;
    }
  }
}

std::shared_ptr<Meta> new_meta(const Tensor& t) {
  auto m = std::make_shared<Meta>();
  m->shape = t.shape();
  return m;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
bool& detail::grad_enabled_flag() { return g_grad_enabled; }
bool autocast_bf16() { return g_autocast_bf16; }
bool& detail::autocast_bf16_flag() { return g_autocast_bf16; }

void accumulate(Tensor& dst, const Tensor& src) {
  TCPP_CHECK(dst.dtype() == DType::F32 && src.dtype() == DType::F32 && dst.shape() == src.shape(),
             ShapeError, "autograd: gradient ", src.describe(), " does not fit ", dst.describe());
  for_each_pair(dst, src, [](float& d, float s) { d += s; });
}

void set_requires_grad(Tensor& t, Tensor grad) {
  TCPP_CHECK(t.defined() && is_floating(t.dtype()), ValueError,
             "set_requires_grad: only float tensors, got ", t.describe());
  if (!grad.defined()) grad = Tensor::zeros(t.shape(), DType::F32, t.device());
  TCPP_CHECK(grad.dtype() == DType::F32 && grad.shape() == t.shape() && grad.storage()->writable(),
             ShapeError, "set_requires_grad: gradient buffer ", grad.describe(), " for ",
             t.describe());
  auto m = new_meta(t);
  m->grad = std::move(grad);
  t.set_autograd(std::move(m));
}

Tensor grad_of(const Tensor& t) {
  const auto& m = t.autograd();
  return m && !m->node ? m->grad : Tensor{};
}

void record(Tensor& out, const char* name, std::vector<std::shared_ptr<Meta>> inputs,
            BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  auto m = new_meta(out);
  m->node = std::move(node);
  out.set_autograd(std::move(m));
}

std::shared_ptr<Meta> view_meta(const Tensor& src, const Tensor& out,
                                std::function<Tensor(const Tensor&)> apply) {
  if (!grad_enabled() || !src.autograd()) return nullptr;
  Tensor view = out;
  const Shape src_shape = src.shape();
  const Device device = src.device();
  record(view, "view", {src.autograd()},
         [src_shape, device, apply = std::move(apply)](const Tensor& g) {
           Tensor grad_src = Tensor::zeros(src_shape, DType::F32, device);
           Tensor target = apply(grad_src);
           accumulate(target, g);
           return std::vector<Tensor>{grad_src};
         });
  view.autograd()->bf16 = src.autograd()->bf16;  // a view keeps its source's dtype
  return view.autograd();
}

void backward(const Tensor& root, const Tensor& grad_root) {
  const auto& root_meta = root.autograd();
  TCPP_CHECK(root_meta, ValueError, "backward: ", root.describe(),
             " does not need a gradient (no graph behind it)");
  Tensor seed = grad_root;
  if (!seed.defined()) {
    TCPP_CHECK(root.numel() == 1, ValueError, "backward: a gradient is needed for non-scalar ",
               root.describe());
    seed = Tensor::zeros(root.shape(), DType::F32, root.device());
    seed.data<float>()[0] = 1.0f;
  }
  TCPP_CHECK(seed.shape() == root.shape() && seed.dtype() == DType::F32, ShapeError,
             "backward: gradient ", seed.describe(), " for ", root.describe());
  GradMode off(false);

  // Post-order over the Metas reachable from the root (iterative: graphs of deep models are deep).
  std::vector<Meta*> order;
  std::unordered_map<Meta*, bool> seen;
  std::vector<std::pair<Meta*, size_t>> stack{{root_meta.get(), 0}};
  seen[root_meta.get()] = true;
  while (!stack.empty()) {
    auto& [m, next] = stack.back();
    if (m->node && next < m->node->inputs.size()) {
      Meta* child = m->node->inputs[next++].get();
      if (child && !seen[child]) {
        seen[child] = true;
        stack.emplace_back(child, 0);
      }
      continue;
    }
    order.push_back(m);
    stack.pop_back();
  }

  std::unordered_map<Meta*, Tensor> grads;
  grads[root_meta.get()] = seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Meta* m = *it;
    auto found = grads.find(m);
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    if (!m->node) {
      accumulate(m->grad, g);
      continue;
    }
    Node& node = *m->node;
    TCPP_CHECK(node.backward, ValueError, "backward: the graph through ", node.name,
               " was already walked (a graph is used once)");
    std::vector<Tensor> input_grads = node.backward(g);
    node.backward = nullptr;  // frees what the op saved
    TCPP_CHECK(input_grads.size() == node.inputs.size(), ValueError, "backward of ", node.name,
               ": ", input_grads.size(), " gradients for ", node.inputs.size(), " inputs");
    for (size_t i = 0; i < input_grads.size(); ++i) {
      Meta* in = node.inputs[i].get();
      Tensor& gi = input_grads[i];
      if (!in || !gi.defined()) continue;
      TCPP_CHECK(gi.shape() == in->shape && gi.dtype() == DType::F32, ShapeError, "backward of ",
                 node.name, ": gradient ", gi.describe(), " for input ", i, " of shape ",
                 shape_to_string(in->shape));
      auto slot = grads.find(in);
      if (slot == grads.end()) {
        grads.emplace(in, gi);
      } else {
        Tensor& acc = slot->second;
        // The first gradient may alias a buffer its op still uses elsewhere: own it before adding.
        if (!acc.is_contiguous() || acc.storage().use_count() > 1) acc = acc.clone();
        accumulate(acc, gi);
      }
    }
  }
}

}  // namespace transformers::autograd
