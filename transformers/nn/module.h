// Module: a tree of named parameters, as torch.nn.Module's state_dict names them
// ("model.layers.0.self_attn.q_proj.weight"). Loading (loading/) fills the registered slots from
// a checkpoint and checks their shapes; saving walks the same names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transformers/core/tensor.h"

namespace transformers::nn {

// How a parameter is stored in memory. Matrices keep the model's dtype (bf16 stays bf16 and
// stays mmapped); vectors (norm weights, biases) are small and kept in f32 for the kernels.
enum class ParamRole { Matrix, Vector };

struct ParameterSlot {
  std::string name;
  Tensor* tensor;
  Shape shape;
  ParamRole role;
  bool optional;
  // The checkpoint stores this matrix transposed, [in, out] (GPT-2's Conv1D). Loading transposes
  // it into `shape` (a copy, once); saving transposes it back, so files round-trip unchanged.
  bool stored_transposed = false;
  // An embedding table (rows gathered by id, not multiplied): quantize-on-load leaves these in
  // float unless asked (loading/quantization.h), as v5 converts Linear layers only.
  bool lookup_table = false;
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its children, with full dotted names.
  std::vector<ParameterSlot> named_parameters(const std::string& prefix = "") const;
  // Every descendant module with its full dotted name (children before grandchildren's order:
  // depth first, as torch's named_modules without the root).
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "") const;

  // Moves every (defined) parameter to `device`, as torch's model.to(device). On the CPU, CPU
  // is a no-op; any other device is a NotImplementedError naming it, raised before anything moves.
  void to(Device device);

 protected:
  void register_parameter(std::string name, Tensor* slot, Shape shape, ParamRole role, bool optional = false,
                          bool stored_transposed = false);
  void register_module(std::string name, Module* child);
  // Marks an already registered parameter of this module as stored_transposed.
  void mark_parameter_transposed(const std::string& name);
  // Marks an already registered parameter of this module as an embedding table.
  void mark_parameter_lookup_table(const std::string& name);
  // Marks every parameter of this module (not its children) optional: absent from a checkpoint
  // it stays undefined instead of failing the load.
  void mark_parameters_optional();

 private:
  std::vector<ParameterSlot> params_;
  std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace transformers::nn
