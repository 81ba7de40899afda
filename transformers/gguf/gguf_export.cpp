#include "transformers/gguf/gguf_export.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "transformers/core/error.h"
#include "transformers/gguf/gguf_gemma.h"
#include "transformers/gguf/gguf_names.h"
#include "transformers/io/gguf.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/loading/quantization.h"
#include "transformers/nn/module.h"
#include "transformers/ops/ops.h"

namespace transformers::gguf {
namespace {

struct OutType {
  const char* name;
  GgmlType type;      // of the matrices (norms and biases stay F32)
  uint32_t file_type; // general.file_type (llama_ftype)
};
constexpr OutType kOutTypes[] = {
    {"f32", GgmlType::F32, 0},
    {"f16", GgmlType::F16, 1},
    {"bf16", GgmlType::BF16, 32},
    {"q8_0", GgmlType::Q8_0, 7},
    {"q4_0", GgmlType::Q4_0, 2},
    {"q5_0", GgmlType::Q5_0, 8},  // llama_ftype MOSTLY_Q5_0, MOSTLY_Q5_1
    {"q5_1", GgmlType::Q5_1, 9},
    // llama_ftype: MOSTLY_Q4_K_S 14 (all Q4_K), Q5_K_S 16, Q6_K 18, Q4_K_M 15 (the mix).
    {"q4_k", GgmlType::Q4_K, 14},
    {"q5_k", GgmlType::Q5_K, 16},
    {"q6_k", GgmlType::Q6_K, 18},
    {"q4_k_m", GgmlType::Q4_K, 15},
};

const OutType& out_type(const std::string& name) {
  for (const auto& t : kOutTypes)
    if (name == t.name) return t;
  throw ValueError("export-gguf: --outtype " + name + " is not supported (" + gguf_outtypes() + ")");
}

// The type a parameter is stored in (see export_gguf).
GgmlType stored_type(const OutType& type, const nn::ParameterSlot& p, bool output_table, int64_t layers) {
  if (p.tensor->dim() < 2) return GgmlType::F32;
  const GgmlType t = type.type;
  const int64_t cols = p.tensor->size(-1);
  const bool k_type = t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K;
  if (k_type) {
    // The rule quantize-on-load follows (quantization.h: the q4_k_m mix and llama.cpp's fallback
    // for rows that are not whole 256s), so the file equals that load; F16 where even the
    // fallback's 32 do not divide the rows, as llama-quantize.
    const DType base = t == GgmlType::Q4_K ? DType::Q4_K : t == GgmlType::Q5_K ? DType::Q5_K : DType::Q6_K;
    const DType d = std::string_view(type.name) == "q4_k_m"
                        ? QuantizationConfig::from_name("q4_k_m", "export-gguf").dtype_for(p.name, output_table, layers, cols)
                        : fallback_for_row(base, cols);
    return d == DType::F32 ? GgmlType::F16 : ggml_type_of(d);
  }
  return cols % ggml_type_info(static_cast<uint32_t>(t))->block_elements == 0 ? t : GgmlType::F32;
}

void write_model_metadata(GgufWriter& w, const PretrainedConfig& c, const std::string& arch, const OutType& type,
                          const std::string& name, const RopeParameters& rope) {
  const std::string a = arch + ".";
  w.set_string("general.architecture", arch);
  w.set_string("general.name", name);
  w.set_u32("general.file_type", type.file_type);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + "block_count", static_cast<uint32_t>(c.num_hidden_layers));
  w.set_u32(a + "context_length", static_cast<uint32_t>(c.max_position_embeddings > 0 ? c.max_position_embeddings : 4096));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(c.num_attention_heads));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(c.num_key_value_heads));
  w.set_f32(a + "rope.freq_base", static_cast<float>(rope.rope_theta));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.set_u32(a + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  const double partial = rope.partial_rotary_factor.value_or(1.0);
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(static_cast<double>(c.head_dim) * partial));
  w.set_u32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  const std::string& rope_type = rope.rope_type;
  if (rope_type == "linear") {
    w.set_string(a + "rope.scaling.type", "linear");
    w.set_f32(a + "rope.scaling.factor", static_cast<float>(rope.get("factor")));
  } else if (rope_type != "default" && rope_type != "llama3") {
    throw ValueError(c.where() + ": export-gguf: rope type " + rope_type + " is not exported yet (default, linear, llama3)");
  }
}

// What llama.cpp would compute differently: refused rather than written silently wrong. Returns
// the rope parameters {arch}.rope.* describe.
RopeParameters check_exportable(const PretrainedConfig& c, const std::string& arch) {
  if (is_gemma_architecture(arch)) return check_gemma_exportable(c, arch);
  TCPP_CHECK(c.rope_parameters_by_layer_type.empty(), ValueError, c.where(),
             ": export-gguf: per-layer-type rope parameters are not exported yet");
  if (c.sliding_window && (c.max_position_embeddings <= 0 || *c.sliding_window < c.max_position_embeddings)) {
    const bool used = c.model_type == "mistral" || c.get_or<bool>("use_sliding_window", false);
    TCPP_CHECK(!used, ValueError, c.where(), ": export-gguf: sliding_window ", *c.sliding_window,
               " would be ignored by llama.cpp's ", *gguf_architecture(c.model_type), " architecture");
  }
  TCPP_CHECK(c.hidden_act == "silu", ValueError, c.where(), ": export-gguf: hidden_act ", c.hidden_act,
             " (llama.cpp's Llama-family graphs use silu)");
  return c.rope_parameters;
}

}  // namespace

std::string gguf_outtypes() {
  std::string out;
  for (const auto& t : kOutTypes) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

GgufExportReport export_gguf(const CausalLM& model, const std::filesystem::path& out, const GgufExportOptions& options) {
  const PretrainedConfig& c = model.config();
  const auto arch = gguf_architecture(c.model_type);
  TCPP_CHECK(arch.has_value(), ValueError, c.where(), ": export-gguf: model_type ", c.model_type,
             " is not exported yet (llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text)");
  const RopeParameters rope = check_exportable(c, *arch);
  const OutType& type = out_type(options.outtype);

  GgufWriter w;
  TCPP_CHECK(options.write_tokenizer != nullptr, ValueError, "export-gguf: no tokenizer writer given");
  write_model_metadata(w, c, *arch, type, options.name.empty() ? c.model_type : options.name, rope);
  if (is_gemma_architecture(*arch)) write_gemma_metadata(w, c, *arch);
  GgufExportReport report;
  report.architecture = *arch;
  report.tokenizer_model = options.write_tokenizer(w);

  if (rope.rope_type == "llama3") {
    const Tensor factors = llama3_rope_factors(rope, c.head_dim);
    w.add_tensor("rope_freqs.weight", factors.shape(), GgmlType::F32, [factors] { return factors; });
  }
  std::set<std::string> tied_targets, tied_sources;
  for (const auto& [target, source] : model.tied_weights()) {
    tied_targets.insert(target);
    tied_sources.insert(source);
  }
  const bool permute = *arch == "llama";
  // Gemma: llama.cpp's attention scale folded into the queries (gguf_gemma.h): the q_norm weight
  // where there is one, else the q_proj rows.
  const double query_scale = is_gemma_architecture(*arch) ? gemma_query_scale(c, *arch) : 1.0;
  bool has_q_norm = false;
  for (const auto& p : model.named_parameters()) has_q_norm = has_q_norm || p.name.ends_with("self_attn.q_norm.weight");
  int64_t layers = 0;
  for (const auto& p : model.named_parameters()) layers = std::max(layers, layer_index(p.name) + 1);
  for (const auto& p : model.named_parameters()) {
    if (tied_targets.count(p.name) || !p.tensor->defined()) continue;
    const auto gguf_name = gguf_tensor_name(p.name, *arch);
    TCPP_CHECK(gguf_name.has_value(), ValueError, "export-gguf: parameter ", p.name, " has no GGUF name");
    // Matrices in the chosen type (q4_k_m: Q4_K or Q6_K by llama.cpp's rule, quantization.h,
    // the tied token_embd counting as the output); vectors, and rows that are not whole blocks,
    // in F32 (as llama.cpp's converter does; a K type's rows of whole 32s but not 256s in Q8_0).
    const GgmlType stored = stored_type(type, p, p.lookup_table && tied_sources.count(p.name), layers);
    const int64_t heads = p.name.find("k_proj") != std::string::npos ? c.num_key_value_heads : c.num_attention_heads;
    const Tensor* source = p.tensor;
    const bool rope_rows = permute && is_rope_permuted(p.name);
    const bool plus_one = stores_norms_plus_one(*arch, p.name);
    const bool scaled = query_scale != 1.0 && (has_q_norm ? p.name.ends_with("self_attn.q_norm.weight")
                                                          : p.name.find("self_attn.q_proj.") != std::string::npos);
    const float scale = scaled ? static_cast<float>(query_scale) : 1.0f;
    // The rows move (Q/K permutation) and scale (queries) whole, so each column's importance holds.
    std::optional<Tensor> importance;
    if (options.importance) importance = options.importance->importance(p.name, p.tensor->shape());
    w.add_tensor(*gguf_name, p.tensor->shape(), stored,
                 [source, stored, rope_rows, heads, plus_one, scale, importance] {
      Tensor x = ops::cast(*source, DType::F32);
      if (rope_rows) x = permute_rows_for_ggml_rope(x, heads);
      if (plus_one) x = plus(x, 1.0f);
      if (scale != 1.0f) {
        x = x.clone();  // the cast may share the model's own tensor
        ops::scale_(x, scale);
      }
      // GGML's reference rounding, or its importance-weighted quantizers given an imatrix entry.
      auto quantized = [&](DType dt) { return importance ? ops::quantize_weighted(x, dt, *importance) : ops::cast(x, dt); };
      switch (stored) {
        case GgmlType::F16: return ops::cast(x, DType::F16);
        case GgmlType::BF16: return ops::cast(x, DType::BF16);
        case GgmlType::Q8_0: return quantized(DType::Q8_0);
        case GgmlType::Q4_0: return quantized(DType::Q4_0);
        case GgmlType::Q5_0: return quantized(DType::Q5_0);
        case GgmlType::Q5_1: return quantized(DType::Q5_1);
        case GgmlType::Q4_K: return quantized(DType::Q4_K);
        case GgmlType::Q5_K: return quantized(DType::Q5_K);
        case GgmlType::Q6_K: return quantized(DType::Q6_K);
        default: return x;
      }
    });
    ++report.tensors;
  }
  w.write(out);
  std::error_code ec;
  report.bytes = std::filesystem::file_size(out, ec);
  return report;
}

}  // namespace transformers::gguf
