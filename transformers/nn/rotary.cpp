#include "transformers/nn/rotary.h"

#include <cmath>
#include <numbers>

namespace transformers::nn {

namespace {

// base ** (arange(0, dim, 2) / dim), inverted, in float32 as torch computes it.
std::vector<float> default_inv_freq(double base, int64_t dim) {
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / std::pow(static_cast<float>(base), exponent);
  }
  return inv;
}

void apply_llama3(std::vector<float>& inv, const RopeParameters& rope) {
  const double factor = rope.get("factor");
  const double low = rope.get("low_freq_factor");
  const double high = rope.get("high_freq_factor");
  const double old_ctx = rope.get("original_max_position_embeddings");
  const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
  for (float& f : inv) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    float scaled = wavelen > low_wavelen ? f / static_cast<float>(factor) : f;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    if (medium) {
      const float smooth = static_cast<float>((old_ctx / wavelen - low) / (high - low));
      scaled = (1.0f - smooth) * scaled / static_cast<float>(factor) + smooth * scaled;
    }
    f = scaled;
  }
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const RopeParameters& rope, int64_t head_dim, int64_t max_position_embeddings) {
  const double partial = rope.partial_rotary_factor.value_or(1.0);
  rotary_dim_ = static_cast<int64_t>(static_cast<double>(head_dim) * partial);
  TCPP_CHECK(rotary_dim_ > 0 && rotary_dim_ % 2 == 0 && rotary_dim_ <= head_dim, ConfigError,
             "rope: rotary dimension ", rotary_dim_, " (head_dim ", head_dim, " x partial_rotary_factor ", partial,
             ") must be even and positive");
  inv_freq_ = default_inv_freq(rope.rope_theta, rotary_dim_);
  const std::string& type = rope.rope_type;
  if (type == "default") {
  } else if (type == "linear") {
    const float factor = static_cast<float>(rope.get("factor"));
    for (float& f : inv_freq_) f /= factor;
  } else if (type == "llama3") {
    apply_llama3(inv_freq_, rope);
  } else {
    throw ConfigError(detail::concat("rope_parameters: unsupported rope_type '", type,
                                     "' (supported: default, linear, llama3)"));
  }
  (void)max_position_embeddings;
}

std::pair<Tensor, Tensor> RotaryEmbedding::cos_sin(const Tensor& position_ids) const {
  TCPP_CHECK(position_ids.dtype() == DType::I64 && position_ids.dim() == 2, ShapeError,
             "rotary: position_ids must be int64 [B, L], got ", position_ids.describe());
  Tensor pos = position_ids.contiguous();
  const int64_t B = pos.size(0), L = pos.size(1), half = rotary_dim_ / 2;
  Tensor cos = Tensor::empty({B, L, rotary_dim_}, DType::F32), sin = Tensor::empty({B, L, rotary_dim_}, DType::F32);
  for (int64_t t = 0; t < B * L; ++t) {
    const float p = static_cast<float>(pos.data<int64_t>()[t]);
    float* c = cos.data<float>() + t * rotary_dim_;
    float* s = sin.data<float>() + t * rotary_dim_;
    for (int64_t i = 0; i < half; ++i) {
      const float angle = p * inv_freq_[i];  // a float32 product, as torch's matmul gives
      const float cv = static_cast<float>(std::cos(static_cast<double>(angle))) * attention_scaling_;
      const float sv = static_cast<float>(std::sin(static_cast<double>(angle))) * attention_scaling_;
      c[i] = c[i + half] = cv;
      s[i] = s[i + half] = sv;
    }
  }
  return {cos, sin};
}

}  // namespace transformers::nn
