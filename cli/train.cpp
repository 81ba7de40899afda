// transformers train --model PATH --data train.jsonl [--eval-data eval.jsonl] [--args args.json]
//     [--lora r=8,alpha=16,target=q_proj,v_proj [--quantization q8_0|q4_0]] [--max-length N] [--pack]
//     [TrainingArguments: key=value, --key value, --flag]
// Fine-tunes a causal LM with Transformers v5's Trainer semantics (transformers/training): the
// model in float32 with autograd, AdamW and the schedule of TrainingArguments, checkpoints in
// output_dir/checkpoint-N that resume exactly, trainer_state.json and loss.png, and the final
// model saved to output_dir in Hugging Face's layout (with --lora: the adapter, in PEFT's layout;
// the base stays frozen in its stored dtype, bf16 included, or quantized with --quantization: QLoRA).
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "transformers/tokenization/tokenizer.h"
#include "transformers/training/causal_lm_trainable.h"
#include "transformers/training/dataset.h"
#include "transformers/training/lora.h"
#include "transformers/training/train_command_line.h"
#include "transformers/training/trainer.h"

namespace transformers::cli {
namespace {

// The id that pads micro-batches: the tokenizer's pad token, else the config's pad_token_id,
// else its eos, else 0 (padding positions are masked out of attention and of the loss anyway).
int64_t padding_id(const std::optional<Tokenizer>& tokenizer, const PretrainedConfig& config) {
  if (tokenizer)
    if (auto id = tokenizer->pad_token_id()) return *id;
  if (config.pad_token_id) return *config.pad_token_id;
  if (!config.eos_token_ids.empty()) return config.eos_token_ids.front();
  return 0;
}

// The value of `--flag VALUE` or `--flag=VALUE` at words[i] (advancing i past a separate value),
// or nullopt when words[i] is another word.
std::optional<std::string> flag_value(const std::vector<std::string>& words, size_t& i, const std::string& flag) {
  if (words[i].rfind(flag + "=", 0) == 0) return words[i].substr(flag.size() + 1);
  if (words[i] != flag) return std::nullopt;
  TCPP_CHECK(i + 1 < words.size(), ValueError, "train: ", flag, " needs a value");
  return words[++i];
}

// The options of this command that are not TrainingArguments (--threads N, --quiet, --quantization
// q8_0|q4_0) among the train words: applied or kept in `quantization`, and removed, since this
// command takes its other words as they come.
std::vector<std::string> apply_global_options(const std::vector<std::string>& words, std::string& quantization) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "--quiet" || words[i] == "-q") {
      set_quiet(true);
    } else if (auto threads = flag_value(words, i, "--threads")) {
      int n = 0;
      const auto [end, ec] = std::from_chars(threads->data(), threads->data() + threads->size(), n);
      TCPP_CHECK(ec == std::errc() && end == threads->data() + threads->size(), UsageError,
                 "train: --threads expects an integer, got '", *threads, "'");
      use_threads(n);
    } else if (auto method = flag_value(words, i, "--quantization")) {
      quantization = *method;
    } else {
      rest.push_back(words[i]);
    }
  }
  return rest;
}

void run_train(const std::vector<std::string>& words, const HubArgs& hub) {
  std::string quantization;
  training::TrainCommand cmd = training::parse_train_command_line(apply_global_options(words, quantization));
  TCPP_CHECK(quantization.empty() || cmd.lora, UsageError,
             "train: --quantization needs --lora (QLoRA: a quantized, frozen base; full fine-tuning trains f32 weights)");
  const std::string model_path = resolve_model_arg(cmd.model, hub);
  std::optional<Tokenizer> tokenizer;
  if (has_tokenizer(model_path)) tokenizer = Tokenizer::from_pretrained(model_path);
  const training::DatasetOptions data_options{.tokenizer = tokenizer ? &*tokenizer : nullptr,
                                              .max_length = cmd.max_length, .pack = cmd.pack};
  std::vector<training::Example> train_rows = training::load_dataset(cmd.data, data_options), eval_rows;
  if (cmd.eval_data) eval_rows = training::load_dataset(*cmd.eval_data, data_options);

  // --lora: adapters on the frozen base (PEFT's layout); otherwise every parameter trains.
  std::unique_ptr<training::TrainableModel> model;
  if (cmd.lora) {
    training::LoraConfig lora;
    lora.r = cmd.lora->r;
    lora.lora_alpha = cmd.lora->alpha;
    lora.lora_dropout = cmd.lora->dropout;
    lora.seed = static_cast<uint64_t>(cmd.args.seed);
    lora.base_model_name_or_path = cmd.model;
    if (!cmd.lora->target_modules.empty()) lora.target_modules = cmd.lora->target_modules;
    model = training::load_lora(model_path, lora, {.quantization_config = quantization_from_flag({.method = quantization, .imatrix = {}})});
  } else {
    model = training::load_trainable_causal_lm(model_path);
  }
  const PretrainedConfig config = PretrainedConfig::from_pretrained(model_path);
  training::Trainer trainer(*model, cmd.args, std::move(train_rows), std::move(eval_rows), padding_id(tokenizer, config));
  const training::TrainOutput out = trainer.train();
  trainer.save_model(cmd.args.output_dir);
  std::fprintf(stderr, "trained %lld steps, train_loss %.6g; model saved to %s\n",
               static_cast<long long>(out.global_step), out.training_loss, cmd.args.output_dir.c_str());
  std::printf("%s\n", out.metrics.dump().c_str());
}

const Command kCommand{[](CLI::App& app) {
  auto hub = std::make_shared<HubArgs>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Fine-tune a causal LM (Trainer semantics of Transformers v5): --model PATH --data FILE.jsonl|.npy "
      "[--eval-data FILE] [--args args.json] [--max-length N] [--pack] [TrainingArguments as key=value or --key value]");
  add_hub_flags(sub, *hub);
  // Every other word is a TrainingArguments setting, parsed (and named in errors) by
  // parse_train_command_line rather than declared here one by one.
  sub->fallthrough(false);
  sub->allow_extras();
  sub->callback([sub, hub] { run_train(sub->remaining(), *hub); });
}};

}  // namespace
}  // namespace transformers::cli
