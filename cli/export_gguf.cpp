// transformers export-gguf MODEL OUT.gguf [--outtype f32|f16|bf16|q8_0|q4_0|q4_k|q5_k|q6_k|q4_k_m] [--imatrix FILE]
// Writes a model folder (or Hub name) as one GGUF file that llama.cpp runs: its weights in the
// chosen type (norms and biases stay F32), its config as GGUF metadata, its tokenizer and chat
// template (byte-level BPE tokenizers; a placeholder vocabulary when the folder has none).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "transformers/gguf/gguf_export.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/gguf_vocab.h"

namespace transformers::cli {
namespace {

struct ExportArgs {
  std::string model, out, outtype = "f16", name, imatrix;
  HubArgs hub;
};

void run_export(const ExportArgs& a) {
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.on_progress = loading.callback()});
  const std::string name = a.name.empty() ? std::filesystem::weakly_canonical(a.model).filename().string() : a.name;
  const auto report = gguf::export_gguf(*model, a.out,
                                        {.outtype = a.outtype,
                                         .name = name,
                                         .write_tokenizer = [&](GgufWriter& w) {
                                           return tokenization::write_gguf_vocabulary(w, model->config(), a.model);
                                         },
                                         .importance = importance_from_flag(a.imatrix)});
  std::fprintf(stderr, "wrote %s: %zu tensors, architecture %s, %s tokenizer, %s, %.1f MiB\n", a.out.c_str(),
               report.tensors, report.architecture.c_str(), report.tokenizer_model.c_str(), a.outtype.c_str(),
               static_cast<double>(report.bytes) / (1 << 20));
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand("export-gguf", "Write a model as a GGUF file for llama.cpp");
  sub->add_option("model", args->model, "Model folder, or Hub name org/name[@revision]")->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("out", args->out, "GGUF file to write")->required();
  sub->add_option("--outtype", args->outtype, "Type of the weight matrices: " + gguf::gguf_outtypes() + " (default f16)");
  add_imatrix_flag(sub, &args->imatrix);
  sub->add_option("--name", args->name, "general.name in the file (default: the model folder's name)");
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_export(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
