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
#include "cli/progress.h"
#include "transformers/io/files.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"

namespace transformers::cli {
namespace {

struct ConvertArgs {
  std::string src, dst, dtype = "auto", max_shard_size = "50GB", quantization;
  bool fused_layout = false, strict = false, report = false;
  HubArgs hub;
};

// Files of a model folder that are not weights or configs written by save_pretrained.
const char* const kCopied[] = {"tokenizer.json",         "tokenizer_config.json", "special_tokens_map.json",
                               "tokenizer.model",        "chat_template.jinja",   "chat_template.json",
                               "added_tokens.json",      "vocab.json",            "merges.txt"};

// Reads a tokenizer or template file of the source folder to copy it, refusing one that is a link
// leading outside it: a secret linked into a model folder must not be published with the model. A Hub
// cache snapshot is the exception the layout needs: its files are links to ../../blobs/<hash>
// of the same repository folder. The copy is read with the size limit of text files (a FIFO or a
// device is refused). Every such file is read before anything is written, so a refusal leaves the
// destination untouched.
std::optional<std::string> read_model_file(const std::filesystem::path& src_dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path src = src_dir / name;
  std::error_code ec;
  const fs::file_status link_status = fs::symlink_status(src, ec);
  if (ec || !fs::exists(link_status)) return std::nullopt;
  if (fs::is_symlink(link_status)) {
    const fs::path folder = fs::canonical(src_dir);
    const fs::path target = fs::weakly_canonical(src);
    const bool hub_snapshot = folder.parent_path().filename() == "snapshots" &&
                              folder.parent_path().parent_path().filename().string().rfind("models--", 0) == 0;
    const bool allowed = is_within(target, folder) ||
                         (hub_snapshot && is_within(target, folder.parent_path().parent_path() / "blobs"));
    TCPP_CHECK(allowed, IoError, src.string(), ": is a link to '", target.string(),
               "' outside the model folder; refusing to copy it");
  }
  return read_text_file(src);
}

void run_convert(const ConvertArgs& a) {
  namespace fs = std::filesystem;
  TCPP_CHECK(fs::weakly_canonical(a.src) != fs::weakly_canonical(a.dst), ValueError,
             "convert: SRC and DST must be different folders (the source's weights are mapped while writing)");
  const uint64_t shard = parse_shard_size(a.max_shard_size);
  std::vector<std::pair<std::string, std::string>> copies;
  for (const char* name : kCopied)
    if (auto bytes = read_model_file(a.src, name)) copies.emplace_back(name, std::move(*bytes));
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
  // Written atomically: a link already at the destination is replaced, never written through.
  for (const auto& [name, bytes] : copies) write_file_atomically(fs::path(a.dst) / name, bytes);
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
