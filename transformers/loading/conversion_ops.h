// v5's ConversionOps: the tensor operations a WeightConverter applies between the checkpoint
// layout and the model layout (core_model_loading.py). Each op has a reverse, so that saving
// can restore the layout the checkpoint had.
//
// The value an op transforms is a TensorGroups: one list of tensors per pattern (source patterns
// on the way in, target patterns on the way out). A list holds one tensor, or one per module
// index when its pattern has a `.*.` wildcard (expert 0..E-1). E.g. Mixtral's gate_up_proj:
//   [[w1.0 .. w1.E-1], [w3.0 .. w3.E-1]] --MergeModulelist(0)--> [[w1 [E,I,H]], [w3 [E,I,H]]]
//   --Concatenate(1)--> [[gate_up [E,2I,H]]]
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers {
struct PretrainedConfig;
}

namespace transformers::loading {

using TensorGroups = std::vector<std::vector<Tensor>>;

// What an op may need besides its tensors: the config (head counts for rope permutations), the
// key it produces (for messages and per-layer choices) and the number of target patterns.
struct ConversionContext {
  const PretrainedConfig* config = nullptr;
  std::string target_key;
  size_t num_targets = 1;
};

class ConversionOp {
 public:
  virtual ~ConversionOp() = default;
  virtual TensorGroups convert(TensorGroups in, const ConversionContext& ctx) const = 0;
  virtual std::shared_ptr<const ConversionOp> reverse() const = 0;
  // e.g. "MergeModulelist(dim=0)", for the load report.
  virtual std::string describe() const = 0;
};
using OpPtr = std::shared_ptr<const ConversionOp>;

// Split the single tensor into ctx.num_targets equal chunks along dim (qkv -> q, k, v).
OpPtr Chunk(int64_t dim);
// Concatenate the single tensor of every group, in pattern order, into one group.
OpPtr Concatenate(int64_t dim);
// Stack each group's per-index tensors along dim (experts -> one 3-D tensor).
OpPtr MergeModulelist(int64_t dim = 0);
// Unbind each group's single tensor along dim into per-index tensors.
OpPtr SplitModulelist(int64_t dim = 0);
// Swap two dimensions (e.g. GPT-2's Conv1D [in, out] <-> Linear [out, in]).
OpPtr Transpose(int64_t dim0, int64_t dim1);
// Reorder dim from interleaved pairs (a0 b0 a1 b1 ...) to halves (a0 a1 ... b0 b1 ...);
// inverse: the other way.
OpPtr Interleave(int64_t dim = 0, bool inverse = false);
// Per attention head, q/k projection rows (or bias entries) from the interleaved ("complex")
// rotary layout to the half-split layout that rotate_half expects; inverse: back. Only keys
// containing one of `layer_names` are touched. The head size comes from ctx.config (head_dim,
// else hidden_size / num_attention_heads).
OpPtr PermuteForRope(std::vector<std::string> layer_names = {"q_proj", "k_proj"}, bool inverse = false);
// Convert every float tensor to dtype. Its reverse is the identity: the original dtype is not
// known to the op (save_pretrained takes its own dtype).
OpPtr Cast(DType dtype);

// The pure permutation behind PermuteForRope, exposed for tests: x is [rows, ...] with rows a
// multiple of head_dim.
Tensor permute_for_rope(const Tensor& x, int64_t head_dim, bool inverse);

}  // namespace transformers::loading
