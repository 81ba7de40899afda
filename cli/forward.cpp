// transformers forward MODEL (--input-ids "1,17,42;1,5,5" | --prompt TEXT...) --out logits.npy [--hidden-states hs.npy]
//     [--attention-mask "1,1,1;1,1,0"] [--token-type-ids "0,0,1;0,0,0"] [--last-hidden-state h.npy]
// One forward pass over a batch; writes float32 .npy files ([B, L, V] logits and
// [layers + 1, B, L, H] hidden states as Transformers defines them). Encoder models (BERT) run
// with the head their config's architectures[] names and write that head's logits. --prompt
// texts go through the folder's tokenizer (special tokens added, several prompts padded to the
// longest with its pad token and an attention mask, as tokenizer(texts, padding=True) does).
#include <cstdio>

#include "cli/adapter_flag.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/models/encoder.h"
#include "transformers/ops/ops.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::cli {
namespace {

struct ForwardArgs {
  std::string model, input_ids, out, hidden_states, dtype = "auto", adapter;
  QuantizationFlags quantization;
  std::vector<std::string> prompts;
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
  ProgressLine loading("loading weights");
  auto model = load_encoder(a.model, encoder_head_from_architectures(config),
                            {.dtype = a.dtype, .on_progress = loading.callback(), .quantization_config = quantization_from_flag(a.quantization)});
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

void run_forward_ids(const ForwardArgs& a, const Tensor& ids);

// Rows of equal length (a padded batch) as an int64 [B, L] tensor.
Tensor rows_tensor(const std::vector<std::vector<int64_t>>& rows, const char* what) {
  TCPP_CHECK(!rows.empty() && !rows[0].empty(), ValueError, what, ": encodes to no tokens");
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_values(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

// The --input-ids syntax of `rows` ("1,1,0;1,1,1"), so a tokenizer's mask takes the flag's path.
std::string id_matrix_text(const std::vector<std::vector<int64_t>>& rows) {
  std::string text;
  for (const auto& r : rows) {
    if (!text.empty()) text += ';';
    for (size_t i = 0; i < r.size(); ++i) text += (i ? "," : "") + std::to_string(r[i]);
  }
  return text;
}

void run_forward(const ForwardArgs& a) {
  check_outputs(a.model, {{"--out", a.out}, {"--hidden-states", a.hidden_states},
                          {"--last-hidden-state", a.last_hidden_state}});
  TCPP_CHECK(a.input_ids.empty() != a.prompts.empty(), UsageError, "give exactly one of --input-ids and --prompt");
  ForwardArgs args = a;
  Tensor ids;
  if (a.prompts.empty()) {
    ids = parse_id_matrix(a.input_ids, "--input-ids");
  } else {
    TCPP_CHECK(a.attention_mask.empty() && a.token_type_ids.empty(), UsageError,
               "--attention-mask and --token-type-ids go with --input-ids (--prompt makes its own)");
    // One prompt needs no padding (nor a pad token); several are padded to the longest.
    const Padding padding = a.prompts.size() > 1 ? Padding::kLongest : Padding::kNone;
    const BatchEncoding b = Tokenizer::from_pretrained(a.model)(a.prompts, {.padding = padding});
    ids = rows_tensor(b.input_ids, "--prompt");
    args.input_ids = "prompt";
    args.attention_mask = id_matrix_text(b.attention_mask);
  }
  return run_forward_ids(args, ids);
}

void run_forward_ids(const ForwardArgs& a, const Tensor& ids) {
  PretrainedConfig config = PretrainedConfig::from_pretrained(a.model);
  if (find_encoder(config.model_type)) {
    TCPP_CHECK(a.adapter.empty(), ValueError, "--adapter: ", config.model_type, " is an encoder model (adapters apply to causal LMs)");
    return run_encoder_forward(a, ids, config);
  }
  TCPP_CHECK(a.token_type_ids.empty(), ValueError, "--token-type-ids: ", config.model_type, " is a decoder model");
  TCPP_CHECK(a.last_hidden_state.empty(), ValueError, "--last-hidden-state: only for encoder models");
  // The prompt rule of generate (the library's forward stays usable past it for re-forwarding
  // a generated sequence without a cache, as in Transformers).
  check_sequence_length(config, ids.size(1), "forward");
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype, .on_progress = loading.callback(), .quantization_config = quantization_from_flag(a.quantization)});
  const auto adapter = attach_adapter_flag(*model, a.adapter);
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
  sub->add_option("--input-ids,--input_ids", args->input_ids, "Token ids: rows separated by ';', ids by ',' (equal lengths)");
  sub->add_option("--prompt", args->prompts, "Text, tokenized by the folder's tokenizer (repeatable: a padded batch)");
  sub->add_option("--out", args->out, "Output .npy file for the logits [B, L, V]")->required();
  sub->add_option("--hidden-states,--hidden_states", args->hidden_states, "Output .npy file for the hidden states [layers+1, B, L, H]");
  sub->add_option("--attention-mask,--attention_mask", args->attention_mask, "1 = real token, 0 = padding; same syntax as --input-ids");
  sub->add_option("--token-type-ids,--token_type_ids", args->token_type_ids, "Segment ids (encoders); same syntax as --input-ids");
  sub->add_option("--last-hidden-state,--last_hidden_state", args->last_hidden_state,
                  "Encoders: output .npy file for the last hidden state [B, L, H]");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  add_quantization_flag(sub, &args->quantization);
  add_adapter_flag(sub, &args->adapter);
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_forward(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
