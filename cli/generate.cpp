// transformers generate MODEL (--input-ids "..." | --prompt "text") [--max-new-tokens N] [--json]
// Greedy decoding with the KV cache. With --prompt the model folder's tokenizer encodes the text
// and the new text is streamed as it is generated; --json prints {"sequences": [[...], ...]}
// (and "text" when a tokenizer is present).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/command.h"
#include "cli/common.h"
#include "transformers/generation/generate.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::cli {
namespace {

struct GenerateArgs {
  std::string model, input_ids, prompt, dtype = "auto";
  int64_t max_new_tokens = -1;
  bool json = false, no_cache = false, skip_special = false;
};

bool has_tokenizer(const std::filesystem::path& dir) {
  return std::filesystem::exists(dir / "tokenizer.json") || std::filesystem::exists(dir / "tokenizer.model");
}

void run_generate(const GenerateArgs& a) {
  TCPP_CHECK(a.input_ids.empty() != a.prompt.empty(), ValueError, "give exactly one of --input-ids and --prompt");
  std::optional<Tokenizer> tok;
  if (!a.prompt.empty()) {
    TCPP_CHECK(has_tokenizer(a.model), ValueError, a.model, ": --prompt needs a tokenizer.json or tokenizer.model in the model folder");
    tok = Tokenizer::from_pretrained(a.model);
  } else if (a.json && has_tokenizer(a.model)) {
    tok = Tokenizer::from_pretrained(a.model);
  }
  Tensor ids;
  if (!a.prompt.empty()) {
    std::vector<int64_t> v = tok->encode(a.prompt, /*add_special_tokens=*/true);
    TCPP_CHECK(!v.empty(), ValueError, "--prompt encodes to no tokens");
    ids = Tensor::from_values(v, {1, static_cast<int64_t>(v.size())});
  } else {
    ids = parse_id_matrix(a.input_ids, "--input-ids");
  }
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype});
  GenerationConfig cfg = model->generation_config;
  if (a.max_new_tokens >= 0) cfg.max_new_tokens = a.max_new_tokens;
  GenerateOptions options{.use_cache = !a.no_cache};
  const DecodeOptions decode_options{.skip_special_tokens = a.skip_special};
  std::optional<IncrementalDecoder> stream;
  if (!a.json && tok) {
    stream.emplace(tok->incremental_decoder(decode_options));
    std::cout << a.prompt << std::flush;
    options.on_step = [&](const std::vector<int64_t>& next) { std::cout << stream->step(next[0]) << std::flush; };
  }
  GenerateOutput out = generate(*model, ids, cfg, options);
  if (stream) {
    std::cout << stream->flush() << "\n";
    return;
  }
  if (a.json) {
    Json j;
    j["sequences"] = out.sequences;
    if (tok) {
      const size_t prompt_len = static_cast<size_t>(ids.size(1));
      j["text"] = Json::array();
      for (const auto& row : out.sequences)
        j["text"].push_back(tok->decode(std::span<const int64_t>(row).subspan(prompt_len), decode_options));
    }
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
  CLI::App* sub = app.add_subcommand("generate", "Generate tokens (greedy) from token ids or a text prompt");
  sub->add_option("model", args->model, "Model folder (config.json + *.safetensors [+ tokenizer.json])")->required();
  sub->add_option("--input-ids", args->input_ids, "Prompt ids: rows separated by ';', ids by ','");
  sub->add_option("--prompt", args->prompt, "Prompt text (needs the model folder's tokenizer)");
  sub->add_option("--max-new-tokens", args->max_new_tokens, "Tokens to generate (default: generation_config)");
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  sub->add_flag("--json", args->json, "Print {\"sequences\": [[...], ...], \"text\": [...]}");
  sub->add_flag("--skip-special-tokens", args->skip_special, "Leave special tokens out of the decoded text");
  sub->add_flag("--no-cache", args->no_cache, "Re-run the whole sequence at every step (no KV cache)");
  sub->callback([args] { run_generate(*args); });
}};

}  // namespace
}  // namespace transformers::cli
