// transformers generate MODEL --input-ids "..." --max-new-tokens N [--json]
// Greedy decoding with the KV cache. --json prints {"sequences": [[...], ...]}.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "transformers/generation/generate.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"

namespace transformers::cli {
namespace {

struct GenerateArgs {
  std::string model, input_ids, dtype = "auto";
  int64_t max_new_tokens = -1;
  bool json = false, no_cache = false;
};

void run_generate(const GenerateArgs& a) {
  Tensor ids = parse_id_matrix(a.input_ids, "--input-ids");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype});
  GenerationConfig cfg = model->generation_config;
  if (a.max_new_tokens >= 0) cfg.max_new_tokens = a.max_new_tokens;
  GenerateOutput out = generate(*model, ids, cfg, {.use_cache = !a.no_cache});
  if (a.json) {
    Json j;
    j["sequences"] = out.sequences;
    std::cout << j.dump() << "\n";
    return;
  }
  for (const auto& row : out.sequences) {
    for (size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << row[i];
    std::cout << "\n";
  }
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* sub = app.add_subcommand("generate", "Generate tokens (greedy) from a prompt of token ids");
  sub->add_option("model", args->model, "Model folder (config.json + *.safetensors)")->required();
  sub->add_option("--input-ids", args->input_ids, "Prompt ids: rows separated by ';', ids by ','")->required();
  sub->add_option("--max-new-tokens", args->max_new_tokens, "Tokens to generate (default: generation_config)");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->add_flag("--json", args->json, "Print {\"sequences\": [[...], ...]}");
  sub->add_flag("--no-cache", args->no_cache, "Re-run the whole sequence at every step (no KV cache)");
  sub->callback([args] { run_generate(*args); });
}};

}  // namespace
}  // namespace transformers::cli
