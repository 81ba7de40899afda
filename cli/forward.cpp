// transformers forward MODEL --input-ids "1,17,42;1,5,5" --out logits.npy [--hidden-states hs.npy]
//     [--attention-mask "1,1,1;1,1,0"] [--token-type-ids "0,0,1;0,0,0"] [--last-hidden-state h.npy]
// One forward pass over a batch; writes float32 .npy files ([B, L, V] logits and
// [layers + 1, B, L, H] hidden states as Transformers defines them). Encoder models (BERT) run
// with the head their config's architectures[] names and write that head's logits.
#include <cstdio>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/models/encoder.h"
#include "transformers/ops/ops.h"

namespace transformers::cli {
namespace {

struct ForwardArgs {
  std::string model, input_ids, out, hidden_states, dtype = "auto";
  std::string attention_mask, token_type_ids, last_hidden_state;
  HubArgs hub;
};

void save_hidden_states(const std::string& path, const std::vector<Tensor>& states) {
  std::vector<Tensor> hs;
  for (const Tensor& h : states) hs.push_back(h.unsqueeze(0));
  save_npy(path, ops::cat(hs, 0));
}

Tensor parse_like_ids(const std::string& text, const std::string& flag, const Tensor& ids) {
  Tensor t = parse_id_matrix(text, flag);
  TCPP_CHECK(t.shape() == ids.shape(), ValueError, flag, ": shape ", shape_to_string(t.shape()),
             " differs from --input-ids ", shape_to_string(ids.shape()));
  return t;
}

void run_encoder_forward(const ForwardArgs& a, const Tensor& ids, const PretrainedConfig& config) {
  auto model = load_encoder(a.model, encoder_head_from_architectures(config), {.dtype = a.dtype});
  Tensor mask, types;
  EncoderForwardOptions fo;
  if (!a.attention_mask.empty()) fo.attention_mask = &(mask = parse_like_ids(a.attention_mask, "--attention-mask", ids));
  if (!a.token_type_ids.empty()) fo.token_type_ids = &(types = parse_like_ids(a.token_type_ids, "--token-type-ids", ids));
  fo.output_hidden_states = !a.hidden_states.empty();
  EncoderOutput out = model->forward(ids, fo);
  save_npy(a.out, out.logits.defined() ? out.logits : out.last_hidden_state);
  if (!a.last_hidden_state.empty()) save_npy(a.last_hidden_state, out.last_hidden_state);
  if (!a.hidden_states.empty()) save_hidden_states(a.hidden_states, out.hidden_states);
}

void run_forward(const ForwardArgs& a) {
  check_outputs(a.model, {{"--out", a.out}, {"--hidden-states", a.hidden_states},
                          {"--last-hidden-state", a.last_hidden_state}});
  Tensor ids = parse_id_matrix(a.input_ids, "--input-ids");
  PretrainedConfig config = PretrainedConfig::from_pretrained(a.model);
  if (find_encoder(config.model_type)) return run_encoder_forward(a, ids, config);
  TCPP_CHECK(a.token_type_ids.empty(), ValueError, "--token-type-ids: ", config.model_type, " is a decoder model");
  TCPP_CHECK(a.last_hidden_state.empty(), ValueError, "--last-hidden-state: only for encoder models");
  // The prompt rule of generate (the library's forward stays usable past it for re-forwarding
  // a generated sequence without a cache, as in Transformers).
  check_sequence_length(config, ids.size(1), "forward");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype});
  ForwardOptions fo;
  fo.output_hidden_states = !a.hidden_states.empty();
  Tensor mask;
  if (!a.attention_mask.empty()) fo.attention_mask = &(mask = parse_like_ids(a.attention_mask, "--attention-mask", ids));
  CausalLMOutput out = model->forward(ids, fo);
  save_npy(a.out, out.logits);
  if (!a.hidden_states.empty()) save_hidden_states(a.hidden_states, out.hidden_states);
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* sub = app.add_subcommand("forward", "Run one forward pass and write the logits (and hidden states) as .npy");
  sub->add_option("model", args->model, "Model folder (config.json + *.safetensors) or Hub name org/name[@revision]")
      ->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("--input-ids", args->input_ids, "Token ids: rows separated by ';', ids by ',' (equal lengths)")->required();
  sub->add_option("--out", args->out, "Output .npy file for the logits [B, L, V]")->required();
  sub->add_option("--hidden-states", args->hidden_states, "Output .npy file for the hidden states [layers+1, B, L, H]");
  sub->add_option("--attention-mask", args->attention_mask, "1 = real token, 0 = padding; same syntax as --input-ids");
  sub->add_option("--token-type-ids", args->token_type_ids, "Segment ids (encoders); same syntax as --input-ids");
  sub->add_option("--last-hidden-state", args->last_hidden_state,
                  "Encoders: output .npy file for the last hidden state [B, L, H]");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_forward(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
