#include "transformers/loading/load_weights.h"

#include <map>
#include <set>

#include "transformers/ops/ops.h"

namespace transformers {

LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& ck, DType matrix_dtype,
                        const std::vector<std::pair<std::string, std::string>>& tied) {
  LoadReport report;
  std::map<std::string, std::string> tied_to;
  for (const auto& [target, source] : tied) tied_to[target] = source;
  std::set<std::string> used;
  std::map<std::string, Tensor*> slots;
  auto params = module.named_parameters();
  for (auto& p : params) {
    slots[p.name] = p.tensor;
    if (tied_to.count(p.name)) continue;
    if (!ck.contains(p.name)) {
      if (!p.optional) report.missing.push_back(p.name);
      continue;
    }
    used.insert(p.name);
    const SafetensorsEntry& e = ck.entry(p.name);
    if (e.shape != p.shape) {
      report.mismatched.push_back(p.name + ": checkpoint " + shape_to_string(e.shape) + " vs model " +
                                  shape_to_string(p.shape));
      continue;
    }
    TCPP_CHECK(is_floating(e.dtype), FormatError, "tensor '", p.name, "' has dtype ", dtype_safetensors_name(e.dtype),
               ", expected a float type");
    Tensor t = ck.tensor(p.name);
    // Vectors are computed in f32, but a model loaded in bf16/f16 has them rounded to that dtype
    // (as Transformers stores them), so they are rounded once here.
    if (p.role == nn::ParamRole::Vector && matrix_dtype != DType::F32 && t.dtype() == DType::F32)
      t = ops::cast(t, matrix_dtype);
    const DType want = p.role == nn::ParamRole::Matrix ? matrix_dtype : DType::F32;
    if (t.dtype() == want) {
      ++report.mapped;
      *p.tensor = t;
    } else {
      ++report.converted;
      *p.tensor = ops::cast(t, want);
    }
  }
  for (const auto& name : ck.names())
    if (!used.count(name) && !tied_to.count(name)) report.unexpected.push_back(name);
  if (!report.mismatched.empty() || !report.missing.empty()) {
    std::string msg;
    if (!report.mismatched.empty()) {
      msg += "shape mismatch between config and weights: ";
      for (size_t i = 0; i < report.mismatched.size() && i < 5; ++i) msg += (i ? "; " : "") + report.mismatched[i];
      if (report.mismatched.size() > 5) msg += detail::concat("; and ", report.mismatched.size() - 5, " more");
    }
    if (!report.missing.empty()) {
      if (!msg.empty()) msg += ". ";
      msg += "missing weights: ";
      for (size_t i = 0; i < report.missing.size() && i < 5; ++i) msg += (i ? ", " : "") + report.missing[i];
      if (report.missing.size() > 5) msg += detail::concat(" and ", report.missing.size() - 5, " more");
    }
    throw ShapeError(msg);
  }
  for (const auto& [target, source] : tied) {
    auto t = slots.find(target), s = slots.find(source);
    TCPP_CHECK(t != slots.end() && s != slots.end() && s->second->defined(), ShapeError, "cannot tie '", target, "' to '",
               source, "'");
    *t->second = *s->second;
  }
  return report;
}

}  // namespace transformers
