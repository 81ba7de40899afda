#include "transformers/loading/conversion_ops.h"

#include <cstring>

#include "transformers/config/pretrained_config.h"
#include "transformers/ops/ops.h"

namespace transformers::loading {

namespace {

int64_t norm_dim(int64_t dim, int64_t rank, const char* op) {
  if (dim < 0) dim += rank;
  TCPP_CHECK(dim >= 0 && dim < rank, ShapeError, op, ": dimension out of range for a ", rank, "-d tensor");
  return dim;
}

// Each op checks the group structure it expects, so a table that chains ops wrongly fails with
// the op's name and the key instead of producing a wrong layout.
const Tensor& single(const std::vector<Tensor>& group, const char* op, const ConversionContext& ctx) {
  TCPP_CHECK(group.size() == 1, ValueError, op, " for '", ctx.target_key, "': expected one tensor per pattern, got ",
             group.size(), " (a module list must be merged first)");
  return group[0];
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim, const ConversionContext& ctx) {
  TCPP_CHECK(!xs.empty(), ValueError, "MergeModulelist for '", ctx.target_key, "': no tensors");
  const Tensor& first = xs[0];
  dim = norm_dim(dim, first.dim() + 1, "MergeModulelist");
  Shape shape = first.shape();
  shape.insert(shape.begin() + dim, static_cast<int64_t>(xs.size()));
  Tensor out = Tensor::empty(shape, first.dtype());
  for (size_t i = 0; i < xs.size(); ++i) {
    TCPP_CHECK(xs[i].shape() == first.shape() && xs[i].dtype() == first.dtype(), ShapeError, "MergeModulelist for '",
               ctx.target_key, "': module ", i, " is ", xs[i].describe(), ", module 0 is ", first.describe());
    out.select(dim, static_cast<int64_t>(i)).copy_from(xs[i]);
  }
  return out;
}

// Concatenation as block copies: for each index of the dimensions before `dim`, each input
// contributes one contiguous run. (A strided element-wise copy would make fusing the experts of
// a large MoE take seconds.)
Tensor concat_rows(const std::vector<Tensor>& in, int64_t dim, const ConversionContext& ctx) {
  std::vector<Tensor> xs;
  for (const auto& x : in) xs.push_back(x.contiguous());
  Shape shape = xs[0].shape();
  shape[dim] = 0;
  for (const auto& x : xs) {
    bool same = x.dim() == xs[0].dim() && x.dtype() == xs[0].dtype();
    for (int64_t d = 0; same && d < x.dim(); ++d) same = d == dim || x.size(d) == xs[0].size(d);
    TCPP_CHECK(same, ShapeError, "Concatenate for '", ctx.target_key, "': ", x.describe(), " vs ", xs[0].describe());
    shape[dim] += x.size(dim);
  }
  Tensor out = Tensor::empty(shape, xs[0].dtype());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
  const size_t es = out.element_size();
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t o = 0; o < outer; ++o)
    for (const auto& x : xs) {
      const size_t run = static_cast<size_t>(x.size(dim) * inner) * es;
      std::memcpy(dst, static_cast<const char*>(x.raw_data()) + o * run, run);
      dst += run;
    }
  return out;
}

// dim of size n viewed as (a, b) and the two swapped: interleaved pairs (a = n/2, b = 2) become
// halves, and halves (a = 2, b = n/2) become interleaved pairs.
Tensor swap_split(const Tensor& x, int64_t dim, int64_t a, int64_t b) {
  Shape shape = x.shape();
  Shape split = shape;
  split[dim] = b;
  split.insert(split.begin() + dim, a);
  return x.contiguous().view(split).transpose(dim, dim + 1).contiguous().view(shape);
}

class ChunkOp : public ConversionOp {
 public:
  explicit ChunkOp(int64_t dim) : dim_(dim) {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    TCPP_CHECK(in.size() == 1, ValueError, "Chunk for '", ctx.target_key, "': expected one source, got ", in.size());
    const Tensor& x = single(in[0], "Chunk", ctx);
    const int64_t d = norm_dim(dim_, x.dim(), "Chunk");
    const int64_t n = static_cast<int64_t>(ctx.num_targets);
    TCPP_CHECK(n > 0 && x.size(d) % n == 0, ShapeError, "Chunk for '", ctx.target_key, "': ", x.describe(),
               " does not split into ", n, " equal parts along dimension ", d);
    const int64_t step = x.size(d) / n;
    TensorGroups out;
    for (int64_t i = 0; i < n; ++i) out.push_back({x.slice(d, i * step, (i + 1) * step).contiguous()});
    return out;
  }
  OpPtr reverse() const override { return Concatenate(dim_); }
  std::string describe() const override { return detail::concat("Chunk(dim=", dim_, ")"); }

 private:
  int64_t dim_;
};

class ConcatenateOp : public ConversionOp {
 public:
  explicit ConcatenateOp(int64_t dim) : dim_(dim) {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    std::vector<Tensor> xs;
    for (const auto& g : in) xs.push_back(single(g, "Concatenate", ctx));
    TCPP_CHECK(!xs.empty(), ValueError, "Concatenate for '", ctx.target_key, "': no tensors");
    if (xs.size() == 1) return {{xs[0]}};
    return {{concat_rows(xs, norm_dim(dim_, xs[0].dim(), "Concatenate"), ctx)}};
  }
  OpPtr reverse() const override { return Chunk(dim_); }
  std::string describe() const override { return detail::concat("Concatenate(dim=", dim_, ")"); }

 private:
  int64_t dim_;
};

class MergeModulelistOp : public ConversionOp {
 public:
  explicit MergeModulelistOp(int64_t dim) : dim_(dim) {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    TensorGroups out;
    for (auto& g : in) out.push_back({stack(g, dim_, ctx)});
    return out;
  }
  OpPtr reverse() const override { return SplitModulelist(dim_); }
  std::string describe() const override { return detail::concat("MergeModulelist(dim=", dim_, ")"); }

 private:
  int64_t dim_;
};

class SplitModulelistOp : public ConversionOp {
 public:
  explicit SplitModulelistOp(int64_t dim) : dim_(dim) {}
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    TensorGroups out;
    for (auto& g : in) {
      const Tensor& x = single(g, "SplitModulelist", ctx);
      const int64_t d = norm_dim(dim_, x.dim(), "SplitModulelist");
      std::vector<Tensor> parts;
      for (int64_t i = 0; i < x.size(d); ++i) parts.push_back(x.select(d, i).contiguous());
      out.push_back(std::move(parts));
    }
    return out;
  }
  OpPtr reverse() const override { return MergeModulelist(dim_); }
  std::string describe() const override { return detail::concat("SplitModulelist(dim=", dim_, ")"); }

 private:
  int64_t dim_;
};

// Ops that transform every tensor on its own share this shape.
class ElementwiseOp : public ConversionOp {
 public:
  TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const override {
    for (auto& g : in)
      for (auto& t : g) t = apply(t, ctx);
    return in;
  }
  virtual Tensor apply(const Tensor& x, const ConversionContext& ctx) const = 0;
};

class TransposeOp : public ElementwiseOp {
 public:
  TransposeOp(int64_t d0, int64_t d1) : d0_(d0), d1_(d1) {}
  Tensor apply(const Tensor& x, const ConversionContext&) const override {
    return x.transpose(norm_dim(d0_, x.dim(), "Transpose"), norm_dim(d1_, x.dim(), "Transpose")).contiguous();
  }
  OpPtr reverse() const override { return Transpose(d1_, d0_); }
  std::string describe() const override { return detail::concat("Transpose(", d0_, ", ", d1_, ")"); }

 private:
  int64_t d0_, d1_;
};

class InterleaveOp : public ElementwiseOp {
 public:
  InterleaveOp(int64_t dim, bool inverse) : dim_(dim), inverse_(inverse) {}
  Tensor apply(const Tensor& x, const ConversionContext& ctx) const override {
    const int64_t d = norm_dim(dim_, x.dim(), "Interleave");
    const int64_t n = x.size(d);
    TCPP_CHECK(n % 2 == 0, ShapeError, "Interleave for '", ctx.target_key, "': dimension ", d, " of ", x.describe(),
               " is odd");
    return inverse_ ? swap_split(x, d, 2, n / 2) : swap_split(x, d, n / 2, 2);
  }
  OpPtr reverse() const override { return Interleave(dim_, !inverse_); }
  std::string describe() const override {
    return detail::concat("Interleave(dim=", dim_, inverse_ ? ", inverse)" : ")");
  }

 private:
  int64_t dim_;
  bool inverse_;
};

class PermuteForRopeOp : public ElementwiseOp {
 public:
  PermuteForRopeOp(std::vector<std::string> names, bool inverse) : names_(std::move(names)), inverse_(inverse) {}
  Tensor apply(const Tensor& x, const ConversionContext& ctx) const override {
    bool listed = false;
    for (const auto& n : names_) listed = listed || ctx.target_key.find(n) != std::string::npos;
    if (!listed) return x;
    TCPP_CHECK(ctx.config != nullptr, ValueError, "PermuteForRope for '", ctx.target_key, "' needs the model config");
    const PretrainedConfig& c = *ctx.config;
    int64_t head_dim = c.head_dim;
    if (head_dim <= 0 && c.num_attention_heads > 0) head_dim = c.hidden_size / c.num_attention_heads;
    TCPP_CHECK(head_dim > 0, ConfigError, c.where(), ": PermuteForRope needs head_dim or num_attention_heads");
    return permute_for_rope(x, head_dim, inverse_);
  }
  OpPtr reverse() const override { return PermuteForRope(names_, !inverse_); }
  std::string describe() const override { return inverse_ ? "PermuteForRope(inverse)" : "PermuteForRope"; }

 private:
  std::vector<std::string> names_;
  bool inverse_;
};

class IdentityOp : public ElementwiseOp {
 public:
  Tensor apply(const Tensor& x, const ConversionContext&) const override { return x; }
  OpPtr reverse() const override { return std::make_shared<IdentityOp>(); }
  std::string describe() const override { return "Identity"; }
};

class CastOp : public ElementwiseOp {
 public:
  explicit CastOp(DType dtype) : dtype_(dtype) {}
  Tensor apply(const Tensor& x, const ConversionContext&) const override {
    return is_floating(x.dtype()) && x.dtype() != dtype_ ? ops::cast(x, dtype_) : x;
  }
  OpPtr reverse() const override { return std::make_shared<IdentityOp>(); }
  std::string describe() const override { return detail::concat("Cast(", dtype_torch_name(dtype_), ")"); }

 private:
  DType dtype_;
};

}  // namespace

Tensor permute_for_rope(const Tensor& x, int64_t head_dim, bool inverse) {
  TCPP_CHECK(x.dim() >= 1 && head_dim % 2 == 0 && x.size(0) % head_dim == 0, ShapeError, "PermuteForRope: ",
             x.describe(), " does not split into heads of ", head_dim, " rows");
  // Rows of one head: interleaved (r0 i0 r1 i1 ...) <-> half-split (r0 r1 ... i0 i1 ...).
  Shape heads = x.shape();
  heads[0] = head_dim;
  heads.insert(heads.begin(), x.size(0) / head_dim);
  Tensor h = x.contiguous().view(heads);
  Tensor out = inverse ? swap_split(h, 1, 2, head_dim / 2) : swap_split(h, 1, head_dim / 2, 2);
  return out.view(x.shape());
}

OpPtr Chunk(int64_t dim) { return std::make_shared<ChunkOp>(dim); }
OpPtr Concatenate(int64_t dim) { return std::make_shared<ConcatenateOp>(dim); }
OpPtr MergeModulelist(int64_t dim) { return std::make_shared<MergeModulelistOp>(dim); }
OpPtr SplitModulelist(int64_t dim) { return std::make_shared<SplitModulelistOp>(dim); }
OpPtr Transpose(int64_t dim0, int64_t dim1) { return std::make_shared<TransposeOp>(dim0, dim1); }
OpPtr Interleave(int64_t dim, bool inverse) { return std::make_shared<InterleaveOp>(dim, inverse); }
OpPtr PermuteForRope(std::vector<std::string> layer_names, bool inverse) {
  return std::make_shared<PermuteForRopeOp>(std::move(layer_names), inverse);
}
OpPtr Cast(DType dtype) { return std::make_shared<CastOp>(dtype); }

}  // namespace transformers::loading
