"""The PyTorch side of bench/train_throughput.sh: the same Llama (make_tiny_model's config.json),
the same batch shape and AdamW step, written in plain torch (Debian's python3-torch has no
transformers package), float32 on the CPU. Prints one JSON line: tokens/s over the timed steps
and the process's peak RSS.

  python3 bench/train_torch.py CONFIG_JSON TOKENS_NPY BATCH STEPS THREADS
"""
import json
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, d = c["hidden_size"], c.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
        self.nh, self.nkv, self.d = c["num_attention_heads"], c["num_key_value_heads"], d
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.q, self.k, self.v, self.o = lin(h, self.nh * d), lin(h, self.nkv * d), lin(h, self.nkv * d), lin(self.nh * d, h)
        self.gate, self.up, self.down = lin(h, c["intermediate_size"]), lin(h, c["intermediate_size"]), lin(c["intermediate_size"], h)
        self.n1, self.n2 = RMSNorm(h, c["rms_norm_eps"]), RMSNorm(h, c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        B, L, _ = x.shape
        y = self.n1(x)
        q = self.q(y).view(B, L, self.nh, self.d).transpose(1, 2)
        k = self.k(y).view(B, L, self.nkv, self.d).transpose(1, 2)
        v = self.v(y).view(B, L, self.nkv, self.d).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        att = (q @ k.transpose(-1, -2)) / self.d ** 0.5 + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, L, self.nh * self.d)
        x = x + self.o(y)
        y = self.n2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = None if c.get("tie_word_embeddings") else torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        L = ids.shape[1]
        d = self.layers[0].d
        theta = self.c.get("rope_parameters", {}).get("rope_theta", self.c.get("rope_theta", 10000.0))
        inv = 1.0 / theta ** (torch.arange(0, d, 2).float() / d)
        f = torch.outer(torch.arange(L).float(), inv)
        emb = torch.cat((f, f), -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((L, L), float("-inf")).triu(1)
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        return x @ self.embed.weight.t() if self.lm_head is None else self.lm_head(x)


def main():
    config_path, tokens_path, batch, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = json.load(open(config_path))
    model = Llama(c)
    for p in model.parameters():  # make_tiny_model's initialisation: N(0, 0.02) matrices, unit norms
        if p.dim() > 1:
            torch.nn.init.normal_(p, std=0.02)
    params = sum(p.numel() for p in model.parameters())
    tokens = torch.from_numpy(np.load(tokens_path).astype(np.int64))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    seen = 0
    start = time.perf_counter()
    for step in range(steps):
        rows = tokens[(step * batch) % len(tokens):][:batch]
        logits = model(rows)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        seen += rows.numel()
    elapsed = time.perf_counter() - start
    print(json.dumps({"torch": torch.__version__, "parameters": params, "tokens_per_second": seen / elapsed,
                      "seconds": elapsed, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "last_loss": loss.item()}))


if __name__ == "__main__":
    main()
