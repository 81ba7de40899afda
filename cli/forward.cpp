// transformers forward MODEL --input-ids "1,17,42;1,5,5" --out logits.npy [--hidden-states hs.npy]
// One forward pass over a batch; writes float32 .npy files ([B, L, V] logits and
// [layers + 1, B, L, H] hidden states as Transformers defines them).
#include <cstdio>

#include "cli/command.h"
#include "cli/common.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/ops/ops.h"

namespace transformers::cli {
namespace {

struct ForwardArgs {
  std::string model, input_ids, out, hidden_states, dtype = "auto";
};

void run_forward(const ForwardArgs& a) {
  Tensor ids = parse_id_matrix(a.input_ids, "--input-ids");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype});
  ForwardOptions fo;
  fo.output_hidden_states = !a.hidden_states.empty();
  CausalLMOutput out = model->forward(ids, fo);
  save_npy(a.out, out.logits);
  if (!a.hidden_states.empty()) {
    std::vector<Tensor> hs;
    for (const Tensor& h : out.hidden_states) hs.push_back(h.unsqueeze(0));
    save_npy(a.hidden_states, ops::cat(hs, 0));
  }
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* sub = app.add_subcommand("forward", "Run one forward pass and write the logits (and hidden states) as .npy");
  sub->add_option("model", args->model, "Model folder (config.json + *.safetensors)")->required();
  sub->add_option("--input-ids", args->input_ids, "Token ids: rows separated by ';', ids by ',' (equal lengths)")->required();
  sub->add_option("--out", args->out, "Output .npy file for the logits [B, L, V]")->required();
  sub->add_option("--hidden-states", args->hidden_states, "Output .npy file for the hidden states [layers+1, B, L, H]");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->callback([args] { run_forward(*args); });
}};

}  // namespace
}  // namespace transformers::cli
