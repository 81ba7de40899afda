// transformers convert SRC DST [--dtype f32|bf16|f16] [--max-shard-size 2GB] [--fused-layout]
// Loads a checkpoint folder through the conversion tables and saves it again: this is how a
// checkpoint is re-sharded or changes dtype. By default the original (Hub) layout is written
// back (per-expert MoE keys stay per-expert); --fused-layout writes the runtime layout instead
// (experts.gate_up_proj / down_proj), which loads 1:1. Tokenizer and chat-template files are
// copied along.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/model_side_files.h"
#include "cli/progress.h"
#include "transformers/io/files.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"

namespace transformers::cli {
namespace {

struct ConvertArgs {
  std::string src, dst, dtype = "auto", max_shard_size = "50GB";
  QuantizationFlags quantization;
  bool fused_layout = false, strict = false, report = false;
  HubArgs hub;
};

void run_convert(const ConvertArgs& a) {
  namespace fs = std::filesystem;
  TCPP_CHECK(fs::weakly_canonical(a.src) != fs::weakly_canonical(a.dst), ValueError,
             "convert: SRC and DST must be different folders (the source's weights are mapped while writing)");
  const uint64_t shard = parse_shard_size(a.max_shard_size);
  const ModelSideFiles copies = read_model_side_files(a.src);
  LoadReport report;
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(
      a.src,
      {.dtype = a.dtype, .strict = a.strict, .on_progress = loading.callback(),
       .quantization_config = quantization_from_flag(a.quantization)},
      &report);
  if (a.report) std::cerr << report.to_string();
  if (!report.unexpected.empty())
    std::fprintf(stderr, "warning: %zu checkpoint tensors are not used by the model and are not written (first: %s)\n",
                 report.unexpected.size(), report.unexpected.front().c_str());
  SaveOptions options;
  options.max_shard_size = shard;
  options.save_original_format = !a.fused_layout;
  options.conversions = report.conversions;
  options.quantization_config = quantization_from_flag(a.quantization);
  // Keep the config's key style: a v4 config (torch_dtype, rope_theta) stays v4.
  options.v4_config = model->config().raw.contains("torch_dtype") && !model->config().raw.contains("dtype");
  ProgressLine saving("saving weights");
  options.on_progress = saving.callback();
  save_pretrained(*model, a.dst, options);
  write_model_side_files(a.dst, copies);
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* sub = app.add_subcommand("convert", "Load a checkpoint and save it again (re-shard, change dtype or layout)");
  sub->add_option("src", args->src, "Model folder to read, or Hub name org/name[@revision]")->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("dst", args->dst, "Folder to write (created if needed)")->required();
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  add_quantization_flag(sub, &args->quantization);
  sub->add_option("--max-shard-size", args->max_shard_size, "Largest shard, e.g. 2GB, 500MB, 1GiB (default 50GB)");
  sub->add_flag("--fused-layout", args->fused_layout,
                "Write the runtime layout (fused MoE experts) instead of the checkpoint's original layout");
  sub->add_flag("--strict", args->strict, "Fail when the checkpoint has tensors the model does not use");
  sub->add_flag("--report", args->report, "Print the load report (conversions that fired, unexpected keys)");
  sub->callback([args] {
    args->src = resolve_model_arg(args->src, args->hub);
    run_convert(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
