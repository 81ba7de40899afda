"""A Llama / Mixtral decoder written in plain PyTorch, for the training reference scripts beside it.

The transformers package is not installable here, so the forward is written out by hand the way
Transformers' eager modeling_llama / modeling_mixtral compute it, including the dtypes each step
runs in (what matters under torch.autocast): the rotary cos/sin in float32 with autocast off, cast
to the hidden states' dtype; RMSNorm in float32 and cast back to its input's dtype before the weight;
attention scores matmul(q, kᵀ) · scaling plus a float32 additive mask of finfo.min; softmax in float32
cast to the query's dtype; logits upcast to float32 in the loss. Each script checks this forward
against the golden logits PyTorch and Transformers wrote (../shared/golden) before using it.
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F

_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    """{name: float32 tensor} of a safetensors file (header + raw little-endian data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(blob[8 + n + begin:8 + n + end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(array.copy())
    return out


def read_npy(path):
    return torch.from_numpy(np.load(path))


def rms_norm(x, weight, eps):
    input_dtype = x.dtype
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(input_dtype)


def rotary(config, length, dtype):
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    inv_freq = 1.0 / (config["rope_theta"] ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    positions = torch.arange(length).float()
    with torch.autocast("cpu", enabled=False):
        freqs = (inv_freq[None, :, None] @ positions[None, None, :]).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
    return cos.to(dtype), sin.to(dtype)  # [1, L, head_dim]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def additive_mask(attention_mask, B, L, dtype):
    """Causal (and key-padding) mask: 0 where allowed, finfo(dtype).min elsewhere, [B, 1, L, L]."""
    allowed = torch.tril(torch.ones(L, L, dtype=torch.bool))[None, None].expand(B, 1, L, L)
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    mask = torch.zeros(B, 1, L, L, dtype=dtype)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def attention(config, w, prefix, x, cos, sin, mask):
    B, L, _ = x.shape
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    q = F.linear(x, w[prefix + "q_proj.weight"]).view(B, L, heads, head_dim).transpose(1, 2)
    k = F.linear(x, w[prefix + "k_proj.weight"]).view(B, L, kv_heads, head_dim).transpose(1, 2)
    v = F.linear(x, w[prefix + "v_proj.weight"]).view(B, L, kv_heads, head_dim).transpose(1, 2)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    groups = heads // kv_heads
    k = k[:, :, None].expand(B, kv_heads, groups, L, head_dim).reshape(B, heads, L, head_dim)
    v = v[:, :, None].expand(B, kv_heads, groups, L, head_dim).reshape(B, heads, L, head_dim)
    scores = torch.matmul(q, k.transpose(2, 3)) * head_dim ** -0.5
    scores = scores + mask
    probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    out = torch.matmul(probs, v).transpose(1, 2).reshape(B, L, heads * head_dim)
    return F.linear(out, w[prefix + "o_proj.weight"])


def mlp(w, prefix, x):
    return F.linear(F.silu(F.linear(x, w[prefix + "gate_proj.weight"])) * F.linear(x, w[prefix + "up_proj.weight"]),
                    w[prefix + "down_proj.weight"])


def sparse_moe(config, w, prefix, x):
    """Mixtral's block: softmax router, top-k renormalised, experts w2(silu(w1 x) · w3 x)."""
    B, L, H = x.shape
    flat = x.view(-1, H)
    router_logits = F.linear(flat, w[prefix + "gate.weight"])
    weights = F.softmax(router_logits, dim=1, dtype=torch.float)
    weights, chosen = torch.topk(weights, config["num_experts_per_tok"], dim=-1)
    weights = (weights / weights.sum(dim=-1, keepdim=True)).to(flat.dtype)
    out = torch.zeros_like(flat)
    for e in range(config["num_local_experts"]):
        rows, slot = torch.where(chosen == e)
        if rows.numel() == 0:
            continue
        e_prefix = f"{prefix}experts.{e}."
        h = F.silu(F.linear(flat[rows], w[e_prefix + "w1.weight"])) * F.linear(flat[rows], w[e_prefix + "w3.weight"])
        y = F.linear(h, w[e_prefix + "w2.weight"]) * weights[rows, slot, None]
        out.index_add_(0, rows, y.to(flat.dtype))
    return out.view(B, L, H), router_logits


def forward(config, w, input_ids, attention_mask=None):
    """(logits, router logits per MoE layer) of LlamaForCausalLM / MixtralForCausalLM."""
    B, L = input_ids.shape
    eps = config["rms_norm_eps"]
    h = F.embedding(input_ids, w["model.embed_tokens.weight"])
    cos, sin = rotary(config, L, h.dtype)
    mask = additive_mask(attention_mask, B, L, h.dtype)
    router_logits = []
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = h + attention(config, w, p + "self_attn.", rms_norm(h, w[p + "input_layernorm.weight"], eps), cos, sin, mask)
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        if config["model_type"] == "mixtral":
            y, logits = sparse_moe(config, w, p + "block_sparse_moe.", x)
            router_logits.append(logits)
        else:
            y = mlp(w, p + "mlp.", x)
        h = h + y
    h = rms_norm(h, w["model.norm.weight"], eps)
    return F.linear(h, w["lm_head.weight"]), router_logits


def causal_lm_loss_sum(logits, labels):
    """ForCausalLMLoss before its division: logits upcast to float32, labels shifted left by one
    (a -100 appended), token cross-entropies ignoring -100 summed."""
    shifted = F.pad(labels, (0, 1), value=-100)[:, 1:]
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), shifted.reshape(-1), ignore_index=-100,
                           reduction="sum")


def padded_batch(rows, pad_token_id):
    """The collator's batch of token rows: ids right-padded, labels -100 on padding, the attention
    mask, and the number of targets after the causal shift. The mask is None when no row is padded
    (the collator then gives none)."""
    longest = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_token_id] * (longest - len(r)) for r in rows])
    labels = torch.tensor([r + [-100] * (longest - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in rows])
    targets = (F.pad(labels, (0, 1), value=-100)[:, 1:] != -100).sum()
    return ids, labels, (mask if any(len(r) < longest for r in rows) else None), targets


def check_against_golden(golden_dir, tolerance=1e-4):
    """Fails unless this forward reproduces the logits Transformers wrote for golden_dir."""
    with open(f"{golden_dir}/config.json") as f:
        config = json.load(f)
    w = read_safetensors(f"{golden_dir}/model.safetensors")
    with torch.no_grad():
        logits, _ = forward(config, w, read_npy(f"{golden_dir}/input_ids.npy"))
    diff = (logits - read_npy(f"{golden_dir}/logits.npy")).abs().max().item()
    assert diff <= tolerance, f"{golden_dir}: the hand-written forward is {diff} from Transformers' logits"
    return diff
