#include "transformers/gguf/gguf_names.h"

#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/ops/ops.h"

namespace transformers::gguf {
namespace {

// Per-layer parts: Transformers' suffix after "model.layers.N." and GGUF's after "blk.N.".
constexpr std::pair<const char*, const char*> kLayerParts[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
};
// Gemma2 / Gemma3's sandwich norms: their post_attention_layernorm follows attention (the Llama
// family's precedes the MLP, which GGUF calls ffn_norm); pre_feedforward_layernorm is ffn_norm.
constexpr std::pair<const char*, const char*> kSandwichParts[] = {
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
};
constexpr std::pair<const char*, const char*> kGlobalParts[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// Splits "<prefix><layer>.<rest>" into layer and rest.
std::optional<std::pair<std::string, std::string>> split_layer(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  if (layer.find_first_not_of("0123456789") != std::string::npos || layer.size() > 6) return std::nullopt;
  return std::make_pair(layer, name.substr(dot + 1));
}

bool sandwich_norms(const std::string& arch) { return arch == "gemma2" || arch == "gemma3"; }

std::optional<std::string> translate(const std::string& name, const std::string& arch, bool to_gguf) {
  for (const auto& [hf, gg] : kGlobalParts)
    if (name == (to_gguf ? hf : gg)) return std::string(to_gguf ? gg : hf);
  const auto parts = split_layer(name, to_gguf ? "model.layers." : "blk.");
  if (!parts) return std::nullopt;
  auto find = [&](const auto& table) -> std::optional<std::string> {
    for (const auto& [hf, gg] : table)
      if (parts->second == (to_gguf ? hf : gg))
        return (to_gguf ? "blk." : "model.layers.") + parts->first + "." + (to_gguf ? gg : hf);
    return std::nullopt;
  };
  if (sandwich_norms(arch))
    if (auto found = find(kSandwichParts)) return found;
  return find(kLayerParts);
}

}  // namespace

std::optional<std::string> gguf_architecture(const std::string& model_type) {
  if (model_type == "llama" || model_type == "mistral") return "llama";
  if (model_type == "qwen2" || model_type == "qwen3" || model_type == "gemma" || model_type == "gemma2") return model_type;
  if (model_type == "gemma3_text") return "gemma3";
  return std::nullopt;
}

std::optional<std::string> gguf_tensor_name(const std::string& hf_name, const std::string& arch) {
  return translate(hf_name, arch, true);
}
std::optional<std::string> hf_tensor_name(const std::string& gguf_name, const std::string& arch) {
  return translate(gguf_name, arch, false);
}

bool stores_norms_plus_one(const std::string& arch, const std::string& hf_name) {
  return arch.starts_with("gemma") && hf_name.ends_with("norm.weight");
}

bool is_rope_permuted(const std::string& hf_name) {
  for (const char* suffix : {"self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight",
                             "self_attn.k_proj.bias"})
    if (hf_name.ends_with(suffix)) return true;
  return false;
}

Tensor plus(const Tensor& x, float delta) {
  std::vector<float> v = ops::to_float_vector(x);
  for (float& e : v) e += delta;
  return Tensor::from_values(v, x.shape());
}

Tensor permute_rows_for_ggml_rope(const Tensor& x, int64_t heads, bool inverse) {
  TCPP_CHECK(x.dim() >= 1 && heads > 0 && x.size(0) % (2 * heads) == 0, ShapeError, "GGUF rope permutation: ",
             x.describe(), " does not split into ", heads, " heads of even size");
  const int64_t half = x.size(0) / heads / 2;
  Shape grouped = {heads, inverse ? half : 2, inverse ? 2 : half};
  for (int64_t d = 1; d < x.dim(); ++d) grouped.push_back(x.size(d));
  return x.contiguous().view(grouped).transpose(1, 2).contiguous().view(x.shape());
}

Tensor llama3_rope_factors(const RopeParameters& rope, int64_t head_dim) {
  const double factor = rope.get("factor", 8.0), low = rope.get("low_freq_factor", 1.0),
               high = rope.get("high_freq_factor", 4.0), old = rope.get("original_max_position_embeddings", 8192.0);
  const double low_wavelength = old / low, high_wavelength = old / high;
  std::vector<float> out;
  for (int64_t i = 0; i < head_dim; i += 2) {
    const float freq = 1.0f / std::pow(static_cast<float>(rope.rope_theta), static_cast<float>(i) / head_dim);
    const double wavelength = 2 * std::numbers::pi / freq;
    if (wavelength < high_wavelength) {
      out.push_back(1.0f);
    } else if (wavelength > low_wavelength) {
      out.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old / wavelength - low) / (high - low);
      out.push_back(static_cast<float>(1 / ((1 - smooth) / factor + smooth)));
    }
  }
  return Tensor::from_values(out, {static_cast<int64_t>(out.size())});
}

}  // namespace transformers::gguf
