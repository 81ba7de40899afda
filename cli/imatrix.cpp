// transformers imatrix MODEL -f TEXT [-o imatrix.gguf] [--ctx-size 512] [--chunks N] [--dtype D]
// Computes llama.cpp's importance matrix of a model over a calibration text (llama-imatrix's job):
// the text is tokenized with the model's tokenizer, cut into chunks of --ctx-size tokens, each run
// as a sequence of its own, and the mean square of every weight matrix's input columns is written
// as a GGUF imatrix file (loading/importance_matrix.h). `--imatrix FILE` beside --quantization,
// and on export-gguf, quantizes with it.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "transformers/io/files.h"
#include "transformers/loading/importance_matrix.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::cli {
namespace {

struct ImatrixArgs {
  std::string model, data, out = "imatrix.gguf", dtype = "auto";
  int64_t ctx_size = 512, chunks = -1;
  HubArgs hub;
};

void run_imatrix(const ImatrixArgs& a) {
  TCPP_CHECK(a.ctx_size >= 1, UsageError, "--ctx-size must be >= 1, got ", a.ctx_size);
  const std::string text = read_text_file(a.data);
  const Tokenizer tok = Tokenizer::from_pretrained(a.model);
  std::vector<int64_t> ids = tok.encode(text, /*add_special_tokens=*/true);
  if (a.chunks > 0 && static_cast<int64_t>(ids.size()) > a.chunks * a.ctx_size)
    ids.resize(static_cast<size_t>(a.chunks * a.ctx_size));
  TCPP_CHECK(!ids.empty(), ValueError, a.data, ": the calibration text has no tokens");
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype, .on_progress = loading.callback()});
  const ImportanceMatrix m =
      compute_importance_matrix(*model, ids, a.ctx_size, std::filesystem::path(a.data).filename().string());
  m.save(a.out);
  std::fprintf(stderr, "wrote %s: %zu matrices, %zu tokens in %lld chunks of up to %lld\n", a.out.c_str(),
               m.entries.size(), ids.size(), static_cast<long long>(m.chunk_count), static_cast<long long>(a.ctx_size));
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<ImatrixArgs>();
  CLI::App* sub = app.add_subcommand("imatrix", "Compute an importance matrix (llama.cpp's imatrix) over a calibration text");
  sub->add_option("model", args->model, "Model folder, or Hub name org/name[@revision]")->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("-f,--file", args->data, "Calibration text file")->required();
  sub->add_option("-o,--output", args->out, "GGUF imatrix file to write (default imatrix.gguf)");
  sub->add_option("-c,--ctx-size", args->ctx_size, "Tokens per chunk, each run as its own sequence (default 512)");
  sub->add_option("--chunks", args->chunks, "Use at most this many chunks of the text (default: all)");
  sub->add_option("--dtype", args->dtype, "Dtype to run the model in: auto, float32, bfloat16, float16 (default auto)");
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_imatrix(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
