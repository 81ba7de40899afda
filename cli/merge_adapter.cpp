// transformers merge-adapter --model BASE --adapter DIR --output OUT [--dtype auto|f32|bf16|f16]
//     [--max-shard-size 2GB]
// PEFT's merge_and_unload from the command line: the LoRA adapter (adapter_config.json +
// adapter_model.safetensors) is merged into the base, W += s · B·A computed in f32 and stored in
// the weight's dtype, and the merged model is saved with save_pretrained (the checkpoint's own
// layout) plus the base's tokenizer and chat-template files. OUT is written into a temporary
// folder beside it and renamed only when complete, so an interrupted merge leaves no half model.
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/model_side_files.h"
#include "cli/progress.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/training/checkpoint.h"
#include "transformers/training/peft_adapter.h"

namespace transformers::cli {
namespace {

struct MergeAdapterArgs {
  std::string model, adapter, output, dtype = "auto", max_shard_size = "50GB";
  HubArgs hub;
};

// OUT replaces whatever folder has its name: it must neither hold nor lie inside an input.
void check_output_folder(const MergeAdapterArgs& a) {
  namespace fs = std::filesystem;
  const fs::path out = fs::weakly_canonical(a.output);
  for (const auto& [flag, input] : {std::pair{"--model", a.model}, std::pair{"--adapter", a.adapter}}) {
    const fs::path in = fs::weakly_canonical(input);
    TCPP_CHECK(!is_within(out, in) && !is_within(in, out), ValueError, "merge-adapter: --output '", a.output,
               "' overlaps ", flag, " '", input, "' (the output folder is replaced whole)");
  }
}

void run_merge_adapter(const MergeAdapterArgs& a) {
  check_output_folder(a);
  const uint64_t shard = parse_shard_size(a.max_shard_size);
  const ModelSideFiles side_files = read_model_side_files(a.model);
  LoadReport report;
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype, .on_progress = loading.callback()}, &report);
  training::merge_adapter(*model, a.adapter);
  SaveOptions options;
  options.max_shard_size = shard;
  options.conversions = report.conversions;
  options.v4_config = model->config().raw.contains("torch_dtype") && !model->config().raw.contains("dtype");
  ProgressLine saving("saving weights");
  options.on_progress = saving.callback();
  training::write_folder_atomically(a.output, [&](const std::filesystem::path& folder) {
    save_pretrained(*model, folder, options);
    write_model_side_files(folder, side_files);
  });
  if (!quiet()) std::fprintf(stderr, "merged %s into %s: %s\n", a.adapter.c_str(), a.model.c_str(), a.output.c_str());
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<MergeAdapterArgs>();
  CLI::App* sub = app.add_subcommand(
      "merge-adapter", "Merge a LoRA adapter (PEFT layout) into its base model and save the merged model folder");
  sub->add_option("--model", args->model, "Base model folder, or Hub name org/name[@revision]")->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("--adapter", args->adapter, "Adapter folder (adapter_config.json + adapter_model.safetensors)")->required();
  sub->add_option("--output", args->output, "Folder to write (replaced whole, atomically)")->required();
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->add_option("--max-shard-size", args->max_shard_size, "Largest shard, e.g. 2GB, 500MB, 1GiB (default 50GB)");
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_merge_adapter(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
