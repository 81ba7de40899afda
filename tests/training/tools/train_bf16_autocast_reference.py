#!/usr/bin/python3
"""The golden training run (../shared/train_golden) with bf16=true, as PyTorch 1.13 runs it on the CPU
(tests/training/bf16_autocast_test.cpp compares `transformers train bf16=true` with this trace).

v5's Trainer with bf16=true runs each micro-batch's forward and loss under
torch.autocast("cpu", dtype=torch.bfloat16) (accelerate's mixed_precision="bf16"); the backward,
gradient clipping and AdamW run outside it on the float32 master weights. The model is
tiny_decoder.py's LlamaForCausalLM forward (checked here against the float32 trace first: with
autocast off this loop reproduces trace.json's losses and grad norms). The Trainer loop is the one
SEMANTICS.md describes: sequential micro-batches of 4 rows, 3 per optimizer step,
num_items_in_batch = labels[..., 1:] != -100 counted over the step, loss = CE sum / count per
micro-batch, logged loss = float32 sum of the 3, grad norm before clipping to 0.5, AdamW with decay
0.05 except the norm weights, cosine schedule after ceil(0.1 · 24) = 3 warmup steps.

"eval" is Trainer.evaluate on the initial weights under the same autocast (v5 evaluates through the
same autocast-wrapped forward): seven rows of the dataset cut to uneven lengths, batches of 4,
right-padded with an attention mask, each batch's loss the mean cross-entropy, eval_loss the
float32 mean of the per-row repeats; the float32 value beside it.

"attention" holds two op-level cases (tests/training/bf16_autocast_test.cpp): eager attention under the
same autocast with grouped KV heads (4 query, 2 KV), a padding mask, scale 1/sqrt(12), without and with
a softcap (Gemma 2's scores / cap, tanh, · cap); q and k f32 inputs (rope's outputs), v a linear's
bf16 output; the output and the gradients of q, k, the linear's input and weight for a fixed
upstream gradient.

"rope" is rotary embedding on a bf16 projection, with its gradients. "gated_silu" is Llama's gated MLP product SiLU(x·Wgᵀ) · (x·Wuᵀ) under autocast, with its gradients.

"autocast_dtypes" records what autocast did to each kind of op of this forward (probed on small
tensors, so the file states the behaviour the trace rests on).

    /usr/bin/python3 tests/training/tools/train_bf16_autocast_reference.py ../shared > tests/training/data/train_bf16_autocast_reference.json
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import tiny_decoder


def probe_autocast():
    a32, b32 = torch.randn(4, 4), torch.randn(4, 4)
    a16 = a32.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        probes = {
            "linear(f32, f32 weight)": F.linear(a32, b32),
            "matmul(f32, f32)": torch.matmul(a32, b32),
            "matmul(f32, bf16)": torch.matmul(a32, a16),
            "bf16 * python float": a16 * 0.25,
            "bf16 + f32 (mask, residual)": a16 + a32,
            "bf16 * f32 (rope cos/sin)": a16 * a32,
            "softmax(f32, dtype=f32)": F.softmax(a32, dim=-1, dtype=torch.float32),
            "softmax(bf16)": F.softmax(a16, dim=-1),
            "silu(bf16)": F.silu(a16),
            "bf16 * bf16 (gate * up)": a16 * a16,
            "rsqrt/mean of f32 (RMSNorm)": torch.rsqrt(a32.pow(2).mean(-1)),
            "embedding(f32 weight)": F.embedding(torch.tensor([0, 1]), b32),
            "cross_entropy(f32)": F.cross_entropy(a32, torch.tensor([0, 1, 2, 3])),
        }
    return {name: str(t.dtype).replace("torch.", "") for name, t in probes.items()}


def attention_case(softcap):
    # Sizes whose bf16 matmuls torch routes to its f32-accumulating GEMM (for some tiny shapes,
    # e.g. 5x12 by 12x5 or 16x24 by 24x8, it takes another path that rounds otherwise).
    B, HQ, HKV, L, D, X = 2, 4, 2, 8, 12, 16
    generator = torch.Generator().manual_seed(7)
    draw = lambda *shape: (torch.randn(*shape, generator=generator)).round(decimals=4)
    q, k, x, wv = draw(B, HQ, L, D), draw(B, HKV, L, D), draw(B, L, X), draw(HKV * D, X) * 0.5
    g = draw(B, L, HQ * D).bfloat16().float()
    padding = torch.tensor([[1] * L, [1] * (L - 2) + [0] * 2])
    for t in (q, k, x, wv):
        t.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = F.linear(x, wv).view(B, L, HKV, D).transpose(1, 2)
        k_rep = k[:, :, None].expand(B, HKV, HQ // HKV, L, D).reshape(B, HQ, L, D)
        v_rep = v[:, :, None].expand(B, HKV, HQ // HKV, L, D).reshape(B, HQ, L, D)
        scores = torch.matmul(q, k_rep.transpose(2, 3)) * D ** -0.5
        if softcap:
            scores = torch.tanh(scores / softcap) * softcap
        scores = scores + tiny_decoder.additive_mask(padding, B, L, torch.float32)
        probs = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v_rep).transpose(1, 2).reshape(B, L, HQ * D)
    out.backward(g.bfloat16())
    values = lambda t: t.detach().float().reshape(-1).tolist()
    return {"softcap": softcap, "B": B, "heads": HQ, "kv_heads": HKV, "length": L, "head_dim": D, "x_dim": X,
            "padding": padding.tolist(), "q": values(q), "k": values(k), "x": values(x), "wv": values(wv),
            "grad_out": values(g), "out": values(out), "dq": values(q.grad), "dk": values(k.grad),
            "dx": values(x.grad), "dwv": values(wv.grad)}


def gated_case():
    """SiLU(x·Wgᵀ) · (x·Wuᵀ) under autocast (Llama's MLP before down_proj), with its gradients."""
    M, K, N = 32, 32, 48
    generator = torch.Generator().manual_seed(11)
    draw = lambda *shape: (torch.randn(*shape, generator=generator)).round(decimals=4)
    x, wg, wu = draw(M, K), draw(N, K) * 0.5, draw(N, K) * 0.5
    g = draw(M, N).bfloat16().float()
    for t in (x, wg, wu):
        t.requires_grad_(True)
    # Not a leaf (a norm's output in the model): autocast caches the bf16 cast of a leaf that
    # requires grad, which would sum the two input gradients in bf16.
    hidden = x * 1.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = F.silu(F.linear(hidden, wg)) * F.linear(hidden, wu)
    h.backward(g.bfloat16())
    values = lambda t: t.detach().float().reshape(-1).tolist()
    return {"rows": M, "in": K, "out_features": N, "x": values(x), "wg": values(wg), "wu": values(wu),
            "grad_out": values(g), "out": values(h), "dx": values(x.grad), "dwg": values(wg.grad),
            "dwu": values(wu.grad)}


def rope_case():
    """Rope on a bf16 projection (q = x·Wqᵀ viewed [B, L, H, D]) under autocast: torch's f32
    result, and the gradients reaching x and Wq through the bf16 products' backward."""
    B, L, H, D, X = 2, 8, 2, 16, 32
    generator = torch.Generator().manual_seed(13)
    draw = lambda *shape: (torch.randn(*shape, generator=generator)).round(decimals=4)
    x, wq = draw(B, L, X), draw(H * D, X) * 0.5
    g = draw(B, L, H, D).bfloat16().float()
    for t in (x, wq):
        t.requires_grad_(True)
    cos, sin = tiny_decoder.rotary({"head_dim": D, "rope_theta": 10000.0, "hidden_size": H * D,
                                    "num_attention_heads": H}, L, torch.float32)
    cos, sin = cos.expand(B, L, D).contiguous(), sin.expand(B, L, D).contiguous()
    hidden = x * 1.0  # not a leaf, as in the model
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = F.linear(hidden, wq).view(B, L, H, D)
        out = q * cos[:, :, None] + tiny_decoder.rotate_half(q) * sin[:, :, None]
    out.backward(g)
    values = lambda t: t.detach().float().reshape(-1).tolist()
    return {"B": B, "length": L, "heads": H, "head_dim": D, "x_dim": X, "x": values(x), "wq": values(wq),
            "cos": values(cos), "sin": values(sin), "grad_out": values(g), "out": values(out),
            "dx": values(x.grad), "dwq": values(wq.grad)}


def cosine_with_warmup(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def train(config, weights, dataset, args, decay_names, bf16):
    params = {name: t.clone().requires_grad_(True) for name, t in weights.items()}
    decay = [params[n] for n in params if n in decay_names]
    no_decay = [params[n] for n in params if n not in decay_names]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args["learning_rate"],
                                  betas=(args["adam_beta1"], args["adam_beta2"]), eps=args["adam_epsilon"])
    total = args["max_steps"]
    warmup = math.ceil(total * args["warmup_steps"]) if args["warmup_steps"] < 1 else int(args["warmup_steps"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_with_warmup(s, warmup, total))
    batch, accumulation = args["per_device_train_batch_size"], args["gradient_accumulation_steps"]
    micro_batches_per_epoch = len(dataset) // batch
    steps = []
    for step in range(total):
        micro = [(step * accumulation + i) % micro_batches_per_epoch for i in range(accumulation)]
        rows = [dataset[m * batch:(m + 1) * batch] for m in micro]
        count = sum(int((r[:, 1:] != -100).sum()) for r in rows)
        running = torch.tensor(0.0)
        for ids in rows:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, _ = tiny_decoder.forward(config, params, ids)
                loss = tiny_decoder.causal_lm_loss_sum(logits, ids) / count
            loss.backward()
            running = running + loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), args["max_grad_norm"])
        rate = schedule.get_last_lr()[0]
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        steps.append({"step": step + 1, "loss": running.item(), "grad_norm": grad_norm.item(), "learning_rate": rate})
    return steps, params


EVAL_ROWS, EVAL_LENGTHS, EVAL_BATCH = range(40, 47), [24, 20, 17, 24, 12, 24, 9], 4


def evaluate(config, weights, dataset, bf16):
    rows = [dataset[i][:n].tolist() for i, n in zip(EVAL_ROWS, EVAL_LENGTHS)]
    losses = []
    for begin in range(0, len(rows), EVAL_BATCH):
        batch = rows[begin:begin + EVAL_BATCH]
        ids, labels, mask, count = tiny_decoder.padded_batch(batch, config["pad_token_id"])
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits, _ = tiny_decoder.forward(config, weights, ids, mask)
            loss = tiny_decoder.causal_lm_loss_sum(logits, labels) / count
        losses += [loss.item()] * len(batch)
    return rows, np.asarray(losses, dtype=np.float32).mean().item()


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else "../shared"
    folder = f"{shared}/train_golden"
    with open(f"{folder}/config.json") as f:
        config = json.load(f)
    with open(f"{folder}/args.json") as f:
        args = json.load(f)
    with open(f"{folder}/trace.json") as f:
        trace = json.load(f)
    weights = tiny_decoder.read_safetensors(f"{folder}/model.safetensors")
    dataset = tiny_decoder.read_npy(f"{folder}/dataset.npy")
    decay_names = set(trace["weight_decay_params"])

    f32_steps, _ = train(config, weights, dataset, args, decay_names, bf16=False)
    f32_loss_diff = max(abs(a["loss"] - b["loss"]) / b["loss"] for a, b in zip(f32_steps, trace["steps"]))
    f32_norm_diff = max(abs(a["grad_norm"] - b["grad_norm"]) / b["grad_norm"] for a, b in zip(f32_steps, trace["steps"]))
    assert f32_loss_diff < 1e-5 and f32_norm_diff < 1e-5, (f32_loss_diff, f32_norm_diff)

    eval_rows, eval_bf16 = evaluate(config, weights, dataset, bf16=True)
    _, eval_f32 = evaluate(config, weights, dataset, bf16=False)
    bf16_steps, final = train(config, weights, dataset, args, decay_names, bf16=True)
    out = {"torch_version": torch.__version__, "setup": "../shared/train_golden with bf16=true",
           "autocast_dtypes": probe_autocast(),
           "float32_loop_vs_trace_json": {"max_rel_loss_diff": f32_loss_diff, "max_rel_grad_norm_diff": f32_norm_diff},
           "bf16_vs_float32_max_rel_loss_diff": max(abs(a["loss"] - b["loss"]) / b["loss"]
                                                   for a, b in zip(bf16_steps, f32_steps)),
           "attention": [attention_case(0.0), attention_case(5.0)],
           "gated_silu": gated_case(),
           "rope": rope_case(),
           "steps": bf16_steps,
           "eval": {"per_device_eval_batch_size": EVAL_BATCH, "rows": eval_rows, "eval_loss": eval_bf16,
                    "eval_loss_float32": eval_f32},
           "final_weights_abs_sum": {n: float(np.abs(p.detach().numpy()).astype(np.float64).sum())
                                     for n, p in sorted(final.items())}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
