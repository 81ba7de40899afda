#include "transformers/gguf/gguf_gemma.h"

#include <cmath>

#include "transformers/core/error.h"

namespace transformers::gguf {
namespace {

constexpr double kLocalRopeBase = 10000.0;  // llama.cpp's gemma3 rope_freq_base_train_swa
constexpr int64_t kGemma3Pattern = 6;       // llama.cpp's gemma3 swa pattern: 5 local, 1 global

// The query_pre_attn_scalar llama.cpp's graph uses: head_dim, or hidden / heads for the 27B
// models, which it recognises by their layer count (gemma2 46, gemma3 62).
double llama_cpp_query_scalar(const std::string& arch, int64_t layers, int64_t hidden, int64_t heads, int64_t head_dim) {
  const bool is_27b = (arch == "gemma2" && layers == 46) || (arch == "gemma3" && layers == 62);
  return is_27b ? static_cast<double>(hidden / heads) : static_cast<double>(head_dim);
}

// Layer i's type in llama.cpp's pattern of `period` (the last of each period global).
bool sliding_in_pattern(int64_t i, int64_t period) { return (i + 1) % period != 0; }

void check_layer_pattern(const PretrainedConfig& c, int64_t period) {
  for (size_t i = 0; i < c.layer_types.size(); ++i)
    TCPP_CHECK((c.layer_types[i] == "sliding_attention") == sliding_in_pattern(static_cast<int64_t>(i), period),
               ValueError, c.where(), ": export-gguf: layer_types[", i, "] is ", c.layer_types[i],
               "; llama.cpp's ", c.model_type, " has ", period - 1, " sliding layers to one global");
}

}  // namespace

bool is_gemma_architecture(const std::string& arch) { return arch.starts_with("gemma"); }

RopeParameters check_gemma_exportable(const PretrainedConfig& c, const std::string& arch) {
  const std::string act = c.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh");
  TCPP_CHECK(act == "gelu_pytorch_tanh", ValueError, c.where(), ": export-gguf: hidden_activation ", act,
             " (llama.cpp's Gemma graphs use the tanh GELU)");
  RopeParameters rope = c.rope_parameters;
  if (arch == "gemma2") {
    for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
      TCPP_CHECK(!c.raw.contains(key) || !c.raw[key].is_null(), ValueError, c.where(), ": export-gguf: ", key,
                 " is null, but llama.cpp's gemma2 always softcaps");
    check_layer_pattern(c, 2);
  } else if (arch == "gemma3") {
    for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
      TCPP_CHECK(!c.raw.contains(key) || c.raw[key].is_null(), ValueError, c.where(), ": export-gguf: ", key,
                 " is set, but llama.cpp's gemma3 does not softcap");
    const int64_t pattern = c.get_or<int64_t>("sliding_window_pattern", kGemma3Pattern);
    TCPP_CHECK(pattern == kGemma3Pattern, ValueError, c.where(), ": export-gguf: sliding_window_pattern ", pattern,
               " (llama.cpp's gemma3 has ", kGemma3Pattern, ")");
    check_layer_pattern(c, kGemma3Pattern);
    double local = c.get_or<double>("rope_local_base_freq", kLocalRopeBase);
    std::string local_type = "default";
    if (!c.rope_parameters_by_layer_type.empty()) {  // v5: one rope per layer type
      const RopeParameters& l = c.rope_for_layer_type("sliding_attention");
      local = l.rope_theta;
      local_type = l.rope_type;
      rope = c.rope_for_layer_type("full_attention");
    }
    TCPP_CHECK(local == kLocalRopeBase && local_type == "default", ValueError, c.where(),
               ": export-gguf: the sliding layers' rope (", local_type, ", theta ", local,
               ") is not llama.cpp's gemma3 (default, theta 10000)");
  } else {
    for (const auto& type : c.layer_types)
      TCPP_CHECK(type != "sliding_attention", ValueError, c.where(),
                 ": export-gguf: sliding_attention layers, but llama.cpp's gemma has no sliding window");
  }
  return rope;
}

void write_gemma_metadata(GgufWriter& w, const PretrainedConfig& c, const std::string& arch) {
  const std::string a = arch + ".";
  if (arch == "gemma2") {
    w.set_f32(a + "attn_logit_softcapping", static_cast<float>(c.get_or<double>("attn_logit_softcapping", 50.0)));
    w.set_f32(a + "final_logit_softcapping", static_cast<float>(c.get_or<double>("final_logit_softcapping", 30.0)));
  }
  if (arch == "gemma2" || arch == "gemma3")
    w.set_u32(a + "attention.sliding_window", static_cast<uint32_t>(c.sliding_window.value_or(4096)));
}

double gemma_query_scale(const PretrainedConfig& c, const std::string& arch) {
  if (arch == "gemma") return 1.0;  // Gemma (v1) scales by head_dim^-0.5 in both
  const double scalar = c.get_or<double>("query_pre_attn_scalar", 256.0);
  const double theirs =
      llama_cpp_query_scalar(arch, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.head_dim);
  return std::sqrt(theirs / scalar);
}

void read_gemma_config(const GgufFile& f, const std::string& arch, Json& c) {
  const std::string a = arch + ".";
  c["hidden_activation"] = "gelu_pytorch_tanh";
  c["hidden_act"] = "gelu_pytorch_tanh";
  if (arch == "gemma") return;
  c["query_pre_attn_scalar"] =
      llama_cpp_query_scalar(arch, c["num_hidden_layers"].get<int64_t>(), c["hidden_size"].get<int64_t>(),
                             c["num_attention_heads"].get<int64_t>(), c["head_dim"].get<int64_t>());
  const int64_t window = f.find_int(a + "attention.sliding_window").value_or(4096);
  TCPP_CHECK(window > 0, FormatError, f.path().string(), ": ", a, "attention.sliding_window must be positive");
  c["sliding_window"] = window;
  if (arch == "gemma2") {
    c["attn_logit_softcapping"] = f.find_number(a + "attn_logit_softcapping").value_or(50.0);
    c["final_logit_softcapping"] = f.find_number(a + "final_logit_softcapping").value_or(30.0);
    return;
  }
  c["attn_logit_softcapping"] = nullptr;
  c["final_logit_softcapping"] = nullptr;
  c["sliding_window_pattern"] = kGemma3Pattern;
  c["rope_local_base_freq"] = kLocalRopeBase;
}

}  // namespace transformers::gguf
