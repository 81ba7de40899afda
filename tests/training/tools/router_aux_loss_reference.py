#!/usr/bin/python3
"""Reference values for the MoE auxiliary load-balancing loss (tests/training/router_aux_loss_test.cpp).

Computes, with PyTorch, the loss Transformers' load_balancing_loss_func gives for fixed router
logits of two MoE layers (B = 2, L = 3, 4 experts, top-2), without and with an attention mask that
pads the last token of the second row, and the gradient of the loss with respect to the logits.
Written from the Switch Transformer formula as Transformers applies it: softmax over experts, the
top-k choices one-hot, their share per expert (k slots summed) times the mean probability per
expert, summed and multiplied by the number of experts; padded tokens left out of both means.

    /usr/bin/python3 tests/training/tools/router_aux_loss_reference.py > tests/training/data/router_aux_loss_reference.json
"""
import json

import torch

LAYERS, B, L, E, K = 2, 2, 3, 4, 2


def aux_loss(logits, attention_mask):
    probs = torch.softmax(torch.cat(list(logits), dim=0), dim=-1)  # [layers * B * L, E]
    _, chosen = torch.topk(probs, K, dim=-1)
    one_hot = torch.nn.functional.one_hot(chosen, E).float()  # [N, K, E]
    if attention_mask is None:
        share = one_hot.mean(dim=0)
        mean_prob = probs.mean(dim=0)
    else:
        m = attention_mask.float().reshape(1, B * L).expand(len(logits), B * L).reshape(-1)
        share = (one_hot * m[:, None, None]).sum(dim=0) / m.sum()
        mean_prob = (probs * m[:, None]).sum(dim=0) / m.sum()
    return torch.sum(share * mean_prob.unsqueeze(0)) * E


def main():
    generator = torch.Generator().manual_seed(1234)
    logits = torch.randn(LAYERS, B * L, E, generator=generator) * 2.0
    logits = logits.round(decimals=4)  # exactly representable in the JSON and in float32 alike
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out = {"torch_version": torch.__version__, "num_experts": E, "top_k": K, "batch": B, "length": L,
           "logits": logits.tolist(), "attention_mask": mask.tolist(), "cases": {}}
    for name, m in (("no_mask", None), ("mask", mask)):
        x = logits.clone().requires_grad_(True)
        loss = aux_loss(x, m)
        loss.backward()
        out["cases"][name] = {"loss": loss.item(), "grad": x.grad.tolist()}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
