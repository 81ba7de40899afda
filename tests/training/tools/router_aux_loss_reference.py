#!/usr/bin/python3
"""Reference values for the MoE auxiliary load-balancing loss (tests/training/router_aux_loss_test.cpp).

Computes, with PyTorch, the loss Transformers' load_balancing_loss_func gives for fixed router
logits of two MoE layers (B = 2, L = 3, 4 experts, top-2), without and with an attention mask that
pads the last token of the second row, and the gradient of the loss with respect to the logits.
Written from the Switch Transformer formula as Transformers applies it: softmax over experts, the
top-k choices one-hot, their share per expert (k slots summed) times the mean probability per
expert, summed and multiplied by the number of experts; padded tokens left out of both means.

"eval" is what v5's Trainer.evaluate reports for the golden Mixtral (../shared/golden/mixtral) with
output_router_logits true and router_aux_loss_coef 0.1 on a fixed eval set of uneven rows (batches
of 2, right-padded, labels -100 on padding, an attention mask when a batch is padded):
prediction_step calls compute_loss without num_items_in_batch, so each batch's loss is the model's
own: the mean cross-entropy of the shifted targets + coef · the load-balancing loss of the batch
(padding masked); evaluation_loop repeats it once per row and eval_loss is the float32 mean. The
forward is tiny_decoder.py's, checked here against the logits Transformers wrote for that model.

    /usr/bin/python3 tests/training/tools/router_aux_loss_reference.py ../shared > tests/training/data/router_aux_loss_reference.json
"""
import json
import sys

import numpy as np
import torch

import tiny_decoder

LAYERS, B, L, E, K = 2, 2, 3, 4, 2


def aux_loss(logits, attention_mask, k=K):
    E = logits[0].shape[-1]
    probs = torch.softmax(torch.cat(list(logits), dim=0), dim=-1)  # [layers * B * L, E]
    _, chosen = torch.topk(probs, k, dim=-1)
    one_hot = torch.nn.functional.one_hot(chosen, E).float()  # [N, K, E]
    if attention_mask is None:
        share = one_hot.mean(dim=0)
        mean_prob = probs.mean(dim=0)
    else:
        tokens = attention_mask.numel()
        m = attention_mask.float().reshape(1, tokens).expand(len(logits), tokens).reshape(-1)
        share = (one_hot * m[:, None, None]).sum(dim=0) / m.sum()
        mean_prob = (probs * m[:, None]).sum(dim=0) / m.sum()
    return torch.sum(share * mean_prob.unsqueeze(0)) * E


EVAL_ROWS = [[1, 17, 203, 45, 99, 12, 180, 66, 7, 140], [1, 230, 8, 61, 77, 150, 33],
             [1, 5, 250, 128, 19, 200, 91, 44, 3], [1, 88, 160, 24], [1, 222, 51, 130, 9, 71, 245, 36]]
EVAL_BATCH, EVAL_COEF = 2, 0.1


def eval_case(shared):
    golden = f"{shared}/golden/mixtral"
    logits_diff = tiny_decoder.check_against_golden(golden)
    with open(f"{golden}/config.json") as f:
        config = json.load(f)
    w = tiny_decoder.read_safetensors(f"{golden}/model.safetensors")
    batch_losses, lm_losses = [], []
    for begin in range(0, len(EVAL_ROWS), EVAL_BATCH):
        rows = EVAL_ROWS[begin:begin + EVAL_BATCH]
        ids, labels, mask, count = tiny_decoder.padded_batch(rows, config["pad_token_id"])
        with torch.no_grad():
            logits, router_logits = tiny_decoder.forward(config, w, ids, mask)
            lm = tiny_decoder.causal_lm_loss_sum(logits, labels) / count  # cross_entropy's "mean"
            aux = aux_loss(router_logits, mask, config["num_experts_per_tok"])
            loss = lm + EVAL_COEF * aux
        batch_losses += [loss.item()] * len(rows)
        lm_losses += [lm.item()] * len(rows)
    return {"model": "golden/mixtral", "forward_max_logit_diff_to_transformers": logits_diff,
            "output_router_logits": True, "router_aux_loss_coef": EVAL_COEF, "per_device_eval_batch_size": EVAL_BATCH,
            "rows": EVAL_ROWS, "row_losses": batch_losses,
            "eval_loss": np.asarray(batch_losses, dtype=np.float32).mean().item(),
            "eval_loss_lm_only": np.asarray(lm_losses, dtype=np.float32).mean().item()}


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
    out["eval"] = eval_case(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
