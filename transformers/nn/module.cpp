#include "transformers/nn/module.h"

#include "transformers/ops/ops.h"

namespace transformers::nn {

std::vector<ParameterSlot> Module::named_parameters(const std::string& prefix) const {
  std::vector<ParameterSlot> out;
  for (const auto& p : params_) {
    ParameterSlot s = p;
    s.name = prefix + p.name;
    out.push_back(std::move(s));
  }
  for (const auto& [name, child] : children_) {
    auto sub = child->named_parameters(prefix + name + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void Module::to(Device device) {
  require_available(device, "model.to");
  for (const auto& p : named_parameters())
    if (p.tensor->defined()) *p.tensor = ops::to(*p.tensor, device);
}

void Module::register_parameter(std::string name, Tensor* slot, Shape shape, ParamRole role, bool optional,
                                bool stored_transposed) {
  params_.push_back({std::move(name), slot, std::move(shape), role, optional, stored_transposed});
}

void Module::mark_parameter_transposed(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) p.stored_transposed = true;
}

void Module::mark_parameter_lookup_table(const std::string& name) {
  for (auto& p : params_)
    if (p.name == name) p.lookup_table = true;
}

void Module::mark_parameters_optional() {
  for (auto& p : params_) p.optional = true;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(prefix + name, child);
    for (auto& sub : child->named_modules(prefix + name + ".")) out.push_back(std::move(sub));
  }
  return out;
}

void Module::register_module(std::string name, Module* child) { children_.emplace_back(std::move(name), child); }

}  // namespace transformers::nn
