#include "transformers/nn/attention.h"

#include <cmath>

namespace transformers::nn {

Attention::Attention(const AttentionConfig& c)
    : q_proj(c.hidden_size, c.num_heads * c.head_dim, c.qkv_bias),
      k_proj(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias),
      v_proj(c.hidden_size, c.num_kv_heads * c.head_dim, c.qkv_bias),
      o_proj(c.num_heads * c.head_dim, c.hidden_size, c.o_bias),
      config_(c) {
  TCPP_CHECK(c.num_heads > 0 && c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0 && c.head_dim > 0, ConfigError,
             "attention: num_attention_heads (", c.num_heads, ") must be a positive multiple of num_key_value_heads (",
             c.num_kv_heads, "), head_dim ", c.head_dim);
  register_module("q_proj", &q_proj);
  register_module("k_proj", &k_proj);
  register_module("v_proj", &v_proj);
  register_module("o_proj", &o_proj);
  if (c.qk_norm) {
    q_norm = std::make_unique<RMSNorm>(c.head_dim, c.qk_norm_eps, c.qk_norm_unit_offset);
    k_norm = std::make_unique<RMSNorm>(c.head_dim, c.qk_norm_eps, c.qk_norm_unit_offset);
    register_module("q_norm", q_norm.get());
    register_module("k_norm", k_norm.get());
  }
}

Tensor Attention::forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const {
  const int64_t B = x.size(0), L = x.size(1), D = config_.head_dim;
  Tensor q = q_proj.forward(x).view({B, L, config_.num_heads, D});
  Tensor k = k_proj.forward(x).view({B, L, config_.num_kv_heads, D});
  Tensor v = v_proj.forward(x).view({B, L, config_.num_kv_heads, D});
  if (q_norm) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  ops::apply_rotary_(q, *in.cos, *in.sin);
  ops::apply_rotary_(k, *in.cos, *in.sin);
  // [B, L, H, D] -> [B, H, L, D] as strided views; nothing is copied until the cache stores K/V.
  Tensor qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);
  KVView kv{kh, vh, in.query_position};
  if (cache) kv = cache->update(kh, vh);
  ops::AttentionParams p;
  p.scale = static_cast<float>(config_.scaling > 0 ? config_.scaling : 1.0 / std::sqrt(static_cast<double>(D)));
  p.query_position = in.query_position;
  p.key_position = kv.key_position;
  p.sliding_window = config_.sliding_window;
  p.softcap = static_cast<float>(config_.softcap);
  p.key_padding_mask = in.key_padding_mask;
  Tensor attn = ops::attention(qh, kv.keys, kv.values, p);
  return o_proj.forward(attn);
}

GatedMLP::GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias)
    : gate_proj(hidden, intermediate, bias), up_proj(hidden, intermediate, bias), down_proj(intermediate, hidden, bias),
      act_(act) {
  register_module("gate_proj", &gate_proj);
  register_module("up_proj", &up_proj);
  register_module("down_proj", &down_proj);
}

Tensor GatedMLP::forward(const Tensor& x) const {
  return down_proj.forward(ops::gated_activation(gate_proj.forward(x), up_proj.forward(x), act_));
}

}  // namespace transformers::nn
