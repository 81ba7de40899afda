#include "transformers/loading/load_weights.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>

#include <sys/mman.h>
#include <unistd.h>

#include "transformers/core/thread_pool.h"
#include "transformers/loading/conversion_plan.h"
#include "transformers/ops/ops.h"

namespace transformers {

namespace {

std::string list_some(const std::vector<std::string>& xs, const char* sep) {
  std::string s;
  for (size_t i = 0; i < xs.size() && i < 5; ++i) s += (i ? sep : "") + xs[i];
  if (xs.size() > 5) s += detail::concat(sep, "and ", xs.size() - 5, " more");
  return s;
}

// Drops the pages of a mapped source tensor from this process once its contents have been
// copied (converted, cast, fused), so that a load never holds a converted tensor and the file
// pages it came from at once. The mapping is read-only and private, so this is only a hint: a
// later read faults the pages in again from the file.
void release_mapped_pages(const Tensor& t) {
  if (!t.defined() || t.storage()->kind() != Storage::Kind::Mapped || t.nbytes() == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.raw_data());
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + t.nbytes()) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

// Maps the pages of a tensor used in place from the file now (MADV_POPULATE_READ, one call per
// tensor), rather than a fault per 64 KiB in the first forward: Qwen2.5-0.5B in f32, time to
// first token from a cold start 0.93 -> 0.81 s. Only tensors kept in place: populating the whole
// file would count the pages of converted tensors in the process at once with their conversions.
// A hint: kernels before 5.14 refuse it, and the first forward faults the pages in instead.
void populate_mapped_pages(const Tensor& t) {
#ifdef MADV_POPULATE_READ
  if (!t.defined() || t.storage()->kind() != Storage::Kind::Mapped || t.nbytes() == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.raw_data());
  const uintptr_t first = begin / page * page, last = (begin + t.nbytes() + page - 1) / page * page;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_READ);
#else
  (void)t;
#endif
}

}  // namespace

std::string LoadReport::to_string() const {
  std::string s = detail::concat("LOAD REPORT: ", mapped, " tensors used in place, ", converted,
                                 " converted, in ", seconds, " s\n");
  for (const auto& k : missing) s += "  MISSING     " + k + "\n";
  for (const auto& k : unexpected) s += "  UNEXPECTED  " + k + "\n";
  for (const auto& k : mismatched) s += "  MISMATCH    " + k + "\n";
  if (!quantization.empty()) {
    char sizes[64];
    std::snprintf(sizes, sizeof sizes, "%.2f MB -> %.2f MB", quantized_source_bytes / 1e6, quantized_bytes / 1e6);
    s += detail::concat("  QUANTIZED   ", quantized, " matrices to ", quantization, ": ", sizes, "\n");
    for (const auto& k : kept_in_float) s += "  KEPT FLOAT  " + k + "\n";
  }
  for (const auto& r : conversions) {
    auto it = conversion_counts.find(r.describe());
    s += "  CONVERTED   " + r.describe();
    if (it != conversion_counts.end()) s += detail::concat(" (", it->second, " tensors)");
    s += "\n";
  }
  return s;
}

LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& ck, const LoadWeightsOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  LoadReport report;
  std::set<std::string> tied_targets, tied_sources;
  for (const auto& [target, source] : o.tied) {
    tied_targets.insert(target);
    tied_sources.insert(source);
  }
  std::map<std::string, nn::ParameterSlot> slots;
  int64_t layers = 0;  // for quantization mixes that depend on the layer (q4_k_m)
  for (auto& p : module.named_parameters()) {
    slots.emplace(p.name, p);
    layers = std::max(layers, layer_index(p.name) + 1);
  }

  loading::PlanOptions po;
  po.known = [&](const std::string& k) { return slots.count(k) != 0; };
  po.base_model_prefix = o.base_model_prefix;
  const loading::ConversionPlan plan = loading::plan_conversion(ck.names(), o.rules, po);

  // Items whose outputs are all unknown are reported without reading their tensors.
  std::vector<size_t> work;
  for (size_t i = 0; i < plan.items.size(); ++i) {
    const auto keys = loading::planned_output_keys(plan.items[i], o.rules, po);
    const bool useless = !keys.empty() && std::all_of(keys.begin(), keys.end(), [&](const std::string& k) {
      return tied_targets.count(k) || !slots.count(k);
    });
    if (!useless) {
      work.push_back(i);
      continue;
    }
    for (const auto& list : plan.items[i].sources)
      for (const auto& s : list)
        if (!tied_targets.count(keys[0])) report.unexpected.push_back(s.key);
  }

  std::mutex mutex;
  std::set<std::string> filled;
  auto fetch = [&](const std::string& key) {
    const SafetensorsEntry& e = ck.entry(key);
    const bool packed = !o.prequantized.empty() && (e.dtype == DType::I32 || e.dtype == DType::I64 || e.dtype == DType::U8 ||
                                                     e.dtype == DType::I8 || e.dtype == DType::F8_E4M3);
    TCPP_CHECK(is_floating(e.dtype) || is_block_dtype(e.dtype) || packed, FormatError, "tensor '", key, "' has dtype ",
               dtype_safetensors_name(e.dtype), ", expected a float or quantized (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) type");
    return ck.tensor(key);
  };
  // One task per item: the pool bounds how many groups of temporaries exist at once.
  size_t items_done = 0;
  std::mutex progress_mutex;
  ThreadPool::global().run(static_cast<int64_t>(work.size()), [&](int64_t w) {
    const loading::PlanItem& item = plan.items[work[static_cast<size_t>(w)]];
    auto outputs = loading::materialize(item, o.rules, po, fetch, o.config);
    bool sources_kept = false;  // a source tensor is used in place by the model
    for (auto& [key, tensor] : outputs) {
      if (tied_targets.count(key)) continue;
      auto it = slots.find(key);
      if (it == slots.end()) {
        std::lock_guard<std::mutex> lock(mutex);
        report.unexpected.push_back(key);
        continue;
      }
      const nn::ParameterSlot& p = it->second;
      // GPT-2's Conv1D stores [in, out]; the model multiplies [out, in] (nn/module.h).
      const bool transposed = p.stored_transposed && tensor.dim() == 2 && p.shape.size() == 2;
      if (transposed && tensor.shape() == Shape{p.shape[1], p.shape[0]}) tensor = tensor.transpose(0, 1).contiguous();
      if (tensor.shape() != p.shape) {
        std::lock_guard<std::mutex> lock(mutex);
        report.mismatched.push_back(key + ": checkpoint " + shape_to_string(tensor.shape()) + " vs model " +
                                    shape_to_string(p.shape));
        continue;
      }
      Tensor t = tensor;
      // A packed integer tensor that no repacking rule consumed (an 8-bit file under a 4-bit
      // config, a missing scale tensor): name it, rather than failing in a cast below.
      TCPP_CHECK(is_floating(t.dtype()) || is_block_dtype(t.dtype()), FormatError, "tensor '", key, "' of dtype ",
                 dtype_safetensors_name(t.dtype()), " is not a weight the ", o.prequantized,
                 " quantization_config can repack (a tensor of its layout missing, or another method's file)");
      // Vectors are computed in f32, but a model loaded in bf16/f16 has them rounded to that
      // dtype (as Transformers stores them), so they are rounded once here.
      if (p.role == nn::ParamRole::Vector && o.dtype != DType::F32 && t.dtype() == DType::F32) t = ops::cast(t, o.dtype);
      DType want = p.role == nn::ParamRole::Matrix ? o.dtype : DType::F32;
      const auto decision = o.quantization ? quantize_decision(*o.quantization, p) : QuantizeDecision::NotMatrix;
      if (decision == QuantizeDecision::Quantize)
        want = o.quantization->dtype_for(key, p.lookup_table && tied_sources.count(key), layers, p.shape.back());
      const bool repacked = !o.prequantized.empty() && item.converter >= 0 && p.role == nn::ParamRole::Matrix &&
                            (is_block_dtype(t.dtype()) || t.dtype() == DType::F32);
      if (repacked) want = t.dtype();
      const bool in_place = t.dtype() == want && item.converter < 0 && !transposed;
      const uint64_t source_bytes = t.nbytes();
      // Quantizes chunk by chunk: no f32 copy of t.
      if (t.dtype() != want)
        t = decision == QuantizeDecision::Quantize ? o.quantization->quantize(t, want, key) : ops::cast(t, want);
      *p.tensor = t;
      if (in_place) populate_mapped_pages(t);
      sources_kept = sources_kept || in_place;
      std::lock_guard<std::mutex> lock(mutex);
      if (decision == QuantizeDecision::Quantize || repacked) {
        ++report.quantized;
        report.quantized_source_bytes += source_bytes;
        report.quantized_bytes += t.nbytes();
      } else if (o.quantization && decision != QuantizeDecision::NotMatrix) {
        report.kept_in_float.push_back(key + " (" + quantize_decision_name(decision) + ")");
      }
      filled.insert(key);
      ++(in_place ? report.mapped : report.converted);
      if (item.converter >= 0) ++report.conversion_counts[o.rules[static_cast<size_t>(item.converter)].describe()];
    }
    // A converter's outputs are always new tensors except when an op passes a source through
    // (a one-tensor Concatenate, a contiguous Chunk); those pages must stay.
    if (!sources_kept && item.converter < 0) {
      release_mapped_pages(ck.tensor(item.sources[0][0].key));
    } else if (item.converter >= 0) {
      for (const auto& list : item.sources)
        for (const auto& s : list) {
          Tensor src = ck.tensor(s.key);
          bool shared = false;
          const char* b = static_cast<const char*>(src.raw_data());
          for (const auto& [key, out] : outputs) {
            const char* ob = static_cast<const char*>(out.raw_data());
            shared = shared || (ob < b + src.nbytes() && b < ob + out.nbytes());
          }
          if (!shared) release_mapped_pages(src);
        }
    }
    if (o.on_progress) {
      // Counted and reported under one lock: with the count taken outside it, a task could report
      // 6 after another had reported 21 (serve streams these counts; they must only grow).
      std::lock_guard<std::mutex> progress(progress_mutex);
      o.on_progress(++items_done, work.size());
    }
  });
  for (size_t r = 0; r < o.rules.size(); ++r)
    if (plan.fired[r]) report.conversions.push_back(o.rules[r]);

  for (const auto& [name, p] : slots)
    if (!filled.count(name) && !tied_targets.count(name) && !p.optional) report.missing.push_back(name);
  loading::sort_natural(report.unexpected);
  loading::sort_natural(report.missing);
  loading::sort_natural(report.kept_in_float);
  if (o.quantization) report.quantization = o.quantization->label();
  if (!o.prequantized.empty()) report.quantization = o.prequantized;
  std::sort(report.mismatched.begin(), report.mismatched.end());
  if (!report.mismatched.empty() || !report.missing.empty() || (o.strict && !report.unexpected.empty())) {
    std::string msg;
    if (!report.mismatched.empty()) msg += "shape mismatch between config and weights: " + list_some(report.mismatched, "; ");
    if (!report.missing.empty()) msg += (msg.empty() ? "" : ". ") + std::string("missing weights: ") + list_some(report.missing, ", ");
    if (o.strict && !report.unexpected.empty())
      msg += (msg.empty() ? "" : ". ") + std::string("unexpected weights (strict): ") + list_some(report.unexpected, ", ");
    throw ShapeError(msg);
  }
  for (const auto& [target, source] : o.tied) {
    auto t = slots.find(target), s = slots.find(source);
    TCPP_CHECK(t != slots.end() && s != slots.end() && s->second.tensor->defined(), ShapeError, "cannot tie '", target,
               "' to '", source, "'");
    *t->second.tensor = *s->second.tensor;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

LoadReport load_weights(nn::Module& module, const SafetensorsCheckpoint& ck, DType matrix_dtype,
                        const std::vector<std::pair<std::string, std::string>>& tied) {
  LoadWeightsOptions o;
  o.dtype = matrix_dtype;
  o.tied = tied;
  return load_weights(module, ck, o);
}

}  // namespace transformers
