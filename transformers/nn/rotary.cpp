#include "transformers/nn/rotary.h"

#include "transformers/ops/ops.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace transformers::nn {

namespace {

// base ** (arange(0, dim, 2) / dim), inverted, in float32 as torch computes it; `denominator`
// is dim except for proportional rope (the full head_dim).
std::vector<float> default_inv_freq(double base, int64_t dim, int64_t denominator = 0) {
  if (denominator == 0) denominator = dim;
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(denominator);
    inv[i] = 1.0f / std::pow(static_cast<float>(base), exponent);
  }
  return inv;
}

void apply_llama3(std::vector<float>& inv, const RopeParameters& rope, double original_max) {
  const double factor = rope.get("factor");
  const double low = rope.get("low_freq_factor");
  const double high = rope.get("high_freq_factor");
  const double old_ctx = original_max;
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

// YaRN: frequencies below the correction range are interpolated (divided by factor), above it
// extrapolated (kept), with a linear ramp between; cos/sin scaled by the attention factor.
std::vector<float> yarn_inv_freq(const RopeParameters& rope, int64_t dim, double factor, double original_max,
                                 float& attention_factor) {
  const double base = rope.rope_theta;
  auto get_mscale = [](double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0; };
  if (rope.has("attention_factor")) {
    attention_factor = static_cast<float>(rope.get("attention_factor"));
  } else {
    const double mscale = rope.get("mscale", 0.0), mscale_all_dim = rope.get("mscale_all_dim", 0.0);
    attention_factor = static_cast<float>(mscale != 0 && mscale_all_dim != 0
                                              ? get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
                                              : get_mscale(factor, 1.0));
  }
  // `or` in Python: a 0 or null beta means the default.
  double beta_fast = rope.get("beta_fast", 32.0), beta_slow = rope.get("beta_slow", 1.0);
  if (beta_fast == 0) beta_fast = 32.0;
  if (beta_slow == 0) beta_slow = 1.0;
  const bool truncate = !rope.raw.contains("truncate") || !rope.raw["truncate"].is_boolean() || rope.raw["truncate"].get<bool>();
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original_max / (rotations * 2 * std::numbers::pi))) / (2 * std::log(base));
  };
  double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
  if (truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // avoids a division by zero, as Transformers does
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float pos_freq = std::pow(static_cast<float>(base), static_cast<float>(2 * i) / static_cast<float>(dim));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (static_cast<float>(factor) * pos_freq);
    const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
    const float extrapolation_factor = 1.0f - ramp;
    inv[i] = interpolation * (1.0f - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
  return inv;
}

std::vector<float> longrope_inv_freq(const RopeParameters& rope, int64_t dim, const char* key) {
  TCPP_CHECK(rope.raw.contains(key) && rope.raw[key].is_array(), ConfigError, "rope_parameters (longrope): missing list '",
             key, "'");
  std::vector<float> ext;
  for (const auto& v : rope.raw[key]) {
    TCPP_CHECK(v.is_number(), ConfigError, "rope_parameters (longrope): '", key, "' must hold numbers");
    ext.push_back(v.get<float>());
  }
  TCPP_CHECK(static_cast<int64_t>(ext.size()) == dim / 2, ConfigError, "rope_parameters (longrope): '", key, "' has ",
             ext.size(), " entries, the rotary dimension needs ", dim / 2);
  std::vector<float> inv(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float shape = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv[i] = 1.0f / (ext[i] * std::pow(static_cast<float>(rope.rope_theta), shape));
  }
  return inv;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const RopeParameters& rope, int64_t head_dim, int64_t max_position_embeddings)
    : rope_(rope), max_position_embeddings_(max_position_embeddings) {
  const double partial = rope.partial_rotary_factor.value_or(1.0);
  const std::string& type = rope.rope_type;
  rotary_dim_ = type == "proportional" ? head_dim : static_cast<int64_t>(static_cast<double>(head_dim) * partial);
  TCPP_CHECK(rotary_dim_ > 0 && rotary_dim_ % 2 == 0 && rotary_dim_ <= head_dim, ConfigError,
             "rope: rotary dimension ", rotary_dim_, " (head_dim ", head_dim, " x partial_rotary_factor ", partial,
             ") must be even and positive");
  // v5 fills original_max_position_embeddings from max_position_embeddings when absent.
  original_max_position_embeddings_ = static_cast<int64_t>(
      rope.get("original_max_position_embeddings", static_cast<double>(max_position_embeddings)));
  // Scaled ropes divide by the original length (config.json checks a given one; this is the
  // max_position_embeddings fallback).
  TCPP_CHECK(type == "default" || type == "linear" || type == "proportional" || original_max_position_embeddings_ >= 1,
             ConfigError, "rope_parameters (rope_type '", type,
             "'): needs original_max_position_embeddings or max_position_embeddings >= 1");
  TCPP_CHECK(type != "dynamic" || max_position_embeddings >= 1, ConfigError,
             "rope_parameters (rope_type 'dynamic'): needs max_position_embeddings >= 1 (its reference length)");
  if (type == "default") {
    inv_freq_ = default_inv_freq(rope.rope_theta, rotary_dim_);
  } else if (type == "linear") {
    inv_freq_ = default_inv_freq(rope.rope_theta, rotary_dim_);
    const float factor = static_cast<float>(rope.get("factor"));
    for (float& f : inv_freq_) f /= factor;
  } else if (type == "dynamic") {
    rope.get("factor");  // required: fail at load, not at the first long sequence
    inv_freq_ = default_inv_freq(rope.rope_theta, rotary_dim_);
  } else if (type == "llama3") {
    inv_freq_ = default_inv_freq(rope.rope_theta, rotary_dim_);
    apply_llama3(inv_freq_, rope, static_cast<double>(original_max_position_embeddings_));
  } else if (type == "yarn") {
    const double original = static_cast<double>(original_max_position_embeddings_);
    const double factor = rope.get("factor", static_cast<double>(max_position_embeddings) / original);
    inv_freq_ = yarn_inv_freq(rope, rotary_dim_, factor, original, attention_scaling_);
  } else if (type == "longrope") {
    inv_freq_ = longrope_inv_freq(rope, rotary_dim_, "short_factor");
    long_inv_freq_ = longrope_inv_freq(rope, rotary_dim_, "long_factor");
    const double original = static_cast<double>(original_max_position_embeddings_);
    const double factor = rope.get("factor", static_cast<double>(max_position_embeddings) / original);
    attention_scaling_ = static_cast<float>(
        rope.has("attention_factor") ? rope.get("attention_factor")
        : factor <= 1.0              ? 1.0
                                     : std::sqrt(1.0 + std::log(factor) / std::log(original)));
  } else if (type == "proportional") {
    // Gemma 4: the first int(partial * head_dim / 2) pairs rotate with exponents over the full
    // head_dim; the rest get frequency 0 (cos 1, sin 0: not rotated).
    const int64_t angles = static_cast<int64_t>(std::floor(partial * static_cast<double>(head_dim) / 2.0));
    inv_freq_ = default_inv_freq(rope.rope_theta, 2 * angles, head_dim);
    inv_freq_.resize(static_cast<size_t>(head_dim / 2), 0.0f);
    const float factor = static_cast<float>(rope.get("factor", 1.0));
    for (float& f : inv_freq_) f /= factor;
  } else {
    throw ConfigError(detail::concat("rope_parameters: unsupported rope_type '", type,
                                     "' (supported: default, linear, dynamic, yarn, longrope, llama3, proportional)"));
  }
}

std::vector<float> RotaryEmbedding::inv_freq_for(int64_t seq_len) const {
  if (rope_.rope_type == "longrope" && seq_len > original_max_position_embeddings_) return long_inv_freq_;
  if (rope_.rope_type != "dynamic") return inv_freq_;
  // NTK-aware: a larger base once a sequence grows past max_position_embeddings; the grown
  // table stays (as in Transformers) until a sequence shorter than max_position_embeddings comes.
  std::lock_guard<std::mutex> lock(dynamic_mutex_);
  if (dynamic_cached_len_ == 0) {
    dynamic_cached_len_ = max_position_embeddings_;
    dynamic_inv_freq_ = inv_freq_;
  }
  if (seq_len > dynamic_cached_len_) {
    const double factor = rope_.get("factor");
    const double d = static_cast<double>(rotary_dim_);
    const double ratio = factor * static_cast<double>(seq_len) / static_cast<double>(max_position_embeddings_) - (factor - 1);
    dynamic_inv_freq_ = default_inv_freq(rope_.rope_theta * std::pow(ratio, d / (d - 2)), rotary_dim_);
    dynamic_cached_len_ = seq_len;
  }
  if (seq_len < max_position_embeddings_ && dynamic_cached_len_ > max_position_embeddings_) {
    dynamic_inv_freq_ = inv_freq_;
    dynamic_cached_len_ = max_position_embeddings_;
  }
  return dynamic_inv_freq_;
}

std::pair<Tensor, Tensor> RotaryEmbedding::cos_sin(const Tensor& position_ids) const {
  TCPP_CHECK(position_ids.dtype() == DType::I64 && position_ids.dim() == 2, ShapeError,
             "rotary: position_ids must be int64 [B, L], got ", position_ids.describe());
  const int64_t max_pos = position_ids.numel() > 0 ? std::max<int64_t>(0, ops::min_max(position_ids).second) : 0;
  const std::vector<float> inv = inv_freq_for(max_pos + 1);
  TCPP_CHECK(static_cast<int64_t>(inv.size()) * 2 == rotary_dim_, ValueError, "rotary: ", inv.size(),
             " frequencies for rotary_dim ", rotary_dim_);
  return ops::rotary_tables(position_ids, inv, attention_scaling_);
}

}  // namespace transformers::nn
