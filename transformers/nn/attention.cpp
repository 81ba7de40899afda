#include "transformers/nn/attention.h"

#include <cmath>

namespace transformers::nn {

namespace {

// [B, L, H, D] with the pairs (x0, x1), (x2, x3), ... of every head regrouped as the halves
// (x0, x2, ...), (x1, x3, ...). Rotating the halves of the regrouped q and k is rotating the
// pairs of the originals, and q·k is unchanged by applying one permutation to both, so
// interleaved rope needs no kernel of its own.
Tensor deinterleave(const Tensor& x) {
  const int64_t B = x.size(0), L = x.size(1), H = x.size(2), D = x.size(3);
  return x.contiguous().view({B, L, H, D / 2, 2}).permute({0, 1, 2, 4, 3}).contiguous().view({B, L, H, D});
}

}  // namespace

Attention::Attention(const AttentionConfig& c)
    : o_proj(c.num_heads * c.head_dim, c.hidden_size, c.o_bias), config_(c) {
  TCPP_CHECK(c.num_heads > 0 && c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0 && c.head_dim > 0, ConfigError,
             "attention: num_attention_heads (", c.num_heads, ") must be a positive multiple of num_key_value_heads (",
             c.num_kv_heads, "), head_dim ", c.head_dim);
  const int64_t q_out = c.num_heads * c.head_dim, kv_out = c.num_kv_heads * c.head_dim;
  if (c.fused_qkv) {
    qkv_proj = std::make_unique<Linear>(c.hidden_size, q_out + 2 * kv_out, c.qkv_bias);
    register_module(c.names.qkv, qkv_proj.get());
  } else {
    q_proj = std::make_unique<Linear>(c.hidden_size, q_out, c.qkv_bias);
    k_proj = std::make_unique<Linear>(c.hidden_size, kv_out, c.qkv_bias);
    v_proj = std::make_unique<Linear>(c.hidden_size, kv_out, c.qkv_bias);
    register_module(c.names.q, q_proj.get());
    register_module(c.names.k, k_proj.get());
    register_module(c.names.v, v_proj.get());
  }
  register_module(c.names.o, &o_proj);
  if (c.qk_norm) {
    NormConfig n{.kind = c.qk_norm_kind, .eps = c.qk_norm_eps, .unit_offset = c.qk_norm_unit_offset, .bias = c.qk_norm_bias};
    NormConfig nk = n;
    if (c.qk_norm_head_weights) {
      n.heads = c.num_heads;
      nk.heads = c.num_kv_heads;
    }
    q_norm = std::make_unique<Norm>(c.qk_norm_full ? q_out : c.head_dim, n);
    k_norm = std::make_unique<Norm>(c.qk_norm_full ? kv_out : c.head_dim, nk);
    register_module(c.names.q_norm, q_norm.get());
    register_module(c.names.k_norm, k_norm.get());
  }
}

Tensor Attention::forward(const Tensor& x, const AttentionInputs& in, CacheLayer* cache) const {
  const int64_t B = x.size(0), L = x.size(1), D = config_.head_dim;
  const int64_t H = config_.num_heads, KV = config_.num_kv_heads;
  Tensor q, k, v;
  if (qkv_proj) {
    Tensor qkv = qkv_proj->forward(x);
    q = qkv.slice(2, 0, H * D).contiguous();
    k = qkv.slice(2, H * D, (H + KV) * D).contiguous();
    v = qkv.slice(2, (H + KV) * D, (H + 2 * KV) * D).contiguous();
  } else {
    std::vector<Tensor> qkv = forward_group(x, {q_proj.get(), k_proj.get(), v_proj.get()});
    q = std::move(qkv[0]);
    k = std::move(qkv[1]);
    v = std::move(qkv[2]);
  }
  if (q_norm && config_.qk_norm_full) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  q = q.view({B, L, H, D});
  k = k.view({B, L, KV, D});
  v = v.view({B, L, KV, D});
  if (q_norm && !config_.qk_norm_full) {
    q = q_norm->forward(q);
    k = k_norm->forward(k);
  }
  if (in.cos) {
    if (config_.rope_interleaved) {
      q = deinterleave(q);
      k = deinterleave(k);
    }
    ops::apply_rotary_(q, *in.cos, *in.sin);
    ops::apply_rotary_(k, *in.cos, *in.sin);
  }
  ops::AttentionParams p;
  p.scale = static_cast<float>(config_.scaling > 0 ? config_.scaling : 1.0 / std::sqrt(static_cast<double>(D)));
  p.causal = config_.causal;
  p.sliding_window = config_.sliding_window;
  p.softcap = static_cast<float>(config_.softcap);
  if (in.ragged) {
    TCPP_CHECK(B == 1 && !cache && !in.attentions && config_.causal, ValueError,
               "attention: a ragged batch is one causal [1, T] row without a dense cache or output_attentions");
    ops::paged_kv_write(in.ragged->kv, k.select(0, 0), v.select(0, 0), *in.ragged->sequences);
    return o_proj.forward(ops::paged_attention(q.select(0, 0), in.ragged->kv, *in.ragged->sequences, p).view({1, L, H * D}));
  }
  // [B, L, H, D] -> [B, H, L, D] as strided views; nothing is copied until the cache stores K/V.
  Tensor qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);
  KVView kv{kh, vh, in.query_position};
  if (cache) kv = cache->update(kh, vh);
  p.query_position = in.query_position;
  p.key_position = kv.key_position;
  p.key_padding_mask = in.key_padding_mask;
  if (in.attentions) in.attentions->push_back(ops::attention_weights(qh, kv.keys, p));
  Tensor attn = ops::attention(qh, kv.keys, kv.values, p);
  return o_proj.forward(attn);
}

GatedMLP::GatedMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias, bool fused)
    : down_proj(intermediate, hidden, bias), act_(act) {
  if (fused) {
    gate_up_proj = std::make_unique<Linear>(hidden, 2 * intermediate, bias);
    register_module("gate_up_proj", gate_up_proj.get());
  } else {
    gate_proj = std::make_unique<Linear>(hidden, intermediate, bias);
    up_proj = std::make_unique<Linear>(hidden, intermediate, bias);
    register_module("gate_proj", gate_proj.get());
    register_module("up_proj", up_proj.get());
  }
  register_module("down_proj", &down_proj);
}

Tensor GatedMLP::forward(const Tensor& x) const {
  if (gate_up_proj) {
    Tensor gu = gate_up_proj->forward(x);
    const int64_t I = down_proj.in_features(), last = gu.dim() - 1;
    return down_proj.forward(
        ops::gated_activation(gu.slice(last, 0, I).contiguous(), gu.slice(last, I, 2 * I).contiguous(), act_));
  }
  std::vector<Tensor> gate_up = forward_group(x, {gate_proj.get(), up_proj.get()});
  return down_proj.forward(ops::gated_activation(gate_up[0], gate_up[1], act_));
}

DenseMLP::DenseMLP(int64_t hidden, int64_t intermediate, ops::Activation act, bool bias, const std::string& up_name,
                   const std::string& down_name)
    : up(hidden, intermediate, bias), down(intermediate, hidden, bias), act_(act) {
  register_module(up_name, &up);
  register_module(down_name, &down);
}

Tensor DenseMLP::forward(const Tensor& x) const {
  Tensor h = up.forward(x);
  ops::activation_(h, act_);
  return down.forward(h);
}

}  // namespace transformers::nn
