// transformers generate MODEL (--input-ids "..." | --prompt "text") [sampling / beam flags] [--json]
// v5's generate() from the command line. With --prompt the model folder's tokenizer encodes the
// text and the new text is streamed as words complete (greedy or sampling, one sequence);
// otherwise the rows are printed at the end. --json prints {"sequences": [[...], ...]} (plus
// "text" when a tokenizer is present and "sequences_scores" for beam search). Decoded text leaves
// special tokens out (the eos that ended the text), as Transformers' pipeline and v5's chat do;
// --keep-special-tokens shows them. --adapter DIR applies a PEFT LoRA adapter at run time.
//
// Padded batches: --input-ids rows of unequal length are LEFT-padded to the longest one (with
// pad_token_id, else the first eos id, else 0; the value does not matter since the attention
// mask hides it) and an attention mask is built; or give equal rows and --attention-mask in the
// same syntax. The printed sequences keep the padding, as Transformers returns them.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/adapter_flag.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/generate_flags.h"
#include "cli/hub_args.h"
#include "cli/progress.h"
#include "cli/speed_report.h"
#include "transformers/config/generation_config_overrides.h"
#include "transformers/generation/generate.h"
#include "transformers/generation/tokenizer_adapters.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"
#include "transformers/tokenization/tokenizer.h"

namespace transformers::cli {
namespace {

struct GenerateArgs {
  std::string model, input_ids, attention_mask, prompt, dtype = "auto", adapter;
  QuantizationFlags quantization;
  HubArgs hub;
  std::optional<int64_t> max_new_tokens;
  bool json = false, no_cache = false, keep_special = false;
  bool skip_special = false;  // --skip-special-tokens: the default now, accepted for older command lines
  // Generation config overrides (unset: the model's generation_config.json).
  bool sample = false, greedy = false;  // --do-sample / --greedy (neither: the config decides)
  std::optional<double> temperature, top_p, min_p, repetition_penalty;
  std::optional<int64_t> top_k, num_beams, num_return_sequences;
  std::string seed;  // parsed by parse_seed: CLI11 would wrap "-5" into a huge unsigned
  std::vector<std::string> stop;
  std::string cache_implementation;
  std::string generation_config;  // a JSON object, or a file, merged over generation_config.json
  std::vector<std::string> key_values;  // v5 chat's GENERATE_FLAGS: max_new_tokens=64 ...
};

// "1,2,3;4,5" -> rows (lengths may differ).
std::vector<std::vector<int64_t>> parse_rows(const std::string& text, const std::string& flag) {
  std::vector<std::vector<int64_t>> rows;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    Tensor row = parse_id_matrix(text.substr(start, end - start), flag);
    rows.emplace_back(row.data<int64_t>(), row.data<int64_t>() + row.numel());
    start = end + 1;
  }
  return rows;
}

Tensor to_tensor(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), L = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({B, L}, DType::I64);
  for (int64_t b = 0; b < B; ++b) std::copy(rows[b].begin(), rows[b].end(), t.data<int64_t>() + b * L);
  return t;
}

std::optional<uint64_t> parse_seed(const std::string& text) {
  if (text.empty()) return std::nullopt;
  uint64_t seed = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seed);
  TCPP_CHECK(ec == std::errc() && ptr == end, UsageError, "--seed must be an integer from 0 to 2^64-1, got '", text, "'");
  return seed;
}

// Flags checked here name the flag; the same limits on generation_config.json name the key.
void check_flags(const GenerateArgs& a) {
  if (a.max_new_tokens)
    TCPP_CHECK(*a.max_new_tokens > 0 && *a.max_new_tokens <= kMaxGenerationLength, UsageError,
               "--max-new-tokens must be from 1 to ", kMaxGenerationLength, ", got ", *a.max_new_tokens);
  if (a.num_beams)
    TCPP_CHECK(*a.num_beams >= 1 && *a.num_beams <= kMaxBeams, UsageError, "--num-beams must be from 1 to ", kMaxBeams,
               ", got ", *a.num_beams);
  if (a.num_return_sequences)
    TCPP_CHECK(*a.num_return_sequences >= 1 && *a.num_return_sequences <= kMaxReturnSequences, UsageError,
               "--num-return-sequences must be from 1 to ", kMaxReturnSequences, ", got ", *a.num_return_sequences);
  if (a.top_k) TCPP_CHECK(*a.top_k >= 0, UsageError, "--top-k must be >= 0 (0: off), got ", *a.top_k);
}

// --generation-config: a JSON object given inline, or a generation_config.json file (or a folder
// holding one), as Transformers users pass a GenerationConfig or a file.
Json generation_config_argument(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') return parse_json(text, "--generation-config");
  std::filesystem::path path(text);
  if (std::filesystem::is_directory(path)) path /= "generation_config.json";
  TCPP_CHECK(std::filesystem::exists(path), ValueError, "--generation-config: '", text,
             "' is neither a JSON object nor an existing file");
  return read_json_file(path);
}

// Order: the model's generation_config.json, then --generation-config, then key=value words,
// then the named flags.
void apply_overrides(const GenerateArgs& a, GenerationConfig& cfg) {
  if (!a.generation_config.empty())
    cfg = with_overrides(cfg, generation_config_argument(a.generation_config), "--generation-config");
  if (!a.key_values.empty()) cfg = with_overrides(cfg, parse_generate_flags(a.key_values), "key=value flags");
  if (a.max_new_tokens) cfg.max_new_tokens = *a.max_new_tokens;
  TCPP_CHECK(!(a.sample && a.greedy), UsageError, "--do-sample and --greedy contradict each other");
  if (a.sample || a.greedy) cfg.do_sample = a.sample;
  if (a.temperature) cfg.temperature = *a.temperature;
  if (a.top_k) cfg.top_k = *a.top_k;
  if (a.top_p) cfg.top_p = *a.top_p;
  if (a.min_p) cfg.min_p = *a.min_p;
  if (a.repetition_penalty) cfg.repetition_penalty = *a.repetition_penalty;
  if (a.num_beams) cfg.num_beams = *a.num_beams;
  if (a.num_return_sequences) cfg.num_return_sequences = *a.num_return_sequences;
  if (!a.stop.empty()) cfg.stop_strings = a.stop;
  if (!a.cache_implementation.empty()) cfg.cache_implementation = a.cache_implementation;
}

void run_generate(const GenerateArgs& a) {
  TCPP_CHECK(a.input_ids.empty() != a.prompt.empty(), UsageError, "give exactly one of --input-ids and --prompt");
  TCPP_CHECK(a.attention_mask.empty() || !a.input_ids.empty(), UsageError, "--attention-mask goes with --input-ids");
  TCPP_CHECK(!(a.skip_special && a.keep_special), UsageError, "--skip-special-tokens and --keep-special-tokens contradict each other");
  check_flags(a);
  const std::optional<uint64_t> seed = parse_seed(a.seed);
  ProgressLine loading("loading weights");
  auto model = AutoModelForCausalLM::from_pretrained(a.model, {.dtype = a.dtype, .on_progress = loading.callback(), .quantization_config = quantization_from_flag(a.quantization)});
  const auto adapter = attach_adapter_flag(*model, a.adapter);
  GenerationConfig cfg = model->generation_config;
  apply_overrides(a, cfg);

  std::optional<Tokenizer> tok;
  const bool need_tokenizer = !a.prompt.empty() || !cfg.stop_strings.empty();
  if (need_tokenizer) {
    TCPP_CHECK(has_tokenizer(a.model), ValueError, a.model, ": ", a.prompt.empty() ? "--stop" : "--prompt",
               " needs a tokenizer.json or tokenizer.model in the model folder");
    tok = Tokenizer::from_pretrained(a.model);
  } else if (a.json && has_tokenizer(a.model)) {
    tok = Tokenizer::from_pretrained(a.model);
  }

  Tensor ids, mask;
  bool have_mask = false;
  if (!a.prompt.empty()) {
    std::vector<int64_t> v = tok->encode(a.prompt, /*add_special_tokens=*/true);
    TCPP_CHECK(!v.empty(), ValueError, "--prompt encodes to no tokens");
    ids = Tensor::from_values(v, {1, static_cast<int64_t>(v.size())});
  } else {
    auto rows = parse_rows(a.input_ids, "--input-ids");
    size_t longest = 0;
    for (const auto& r : rows) longest = std::max(longest, r.size());
    bool ragged = false;
    for (const auto& r : rows) ragged = ragged || r.size() != longest;
    if (ragged) {
      TCPP_CHECK(a.attention_mask.empty(), ValueError,
                 "--input-ids: rows have different lengths; give equal (left-padded) rows with --attention-mask, or "
                 "unequal rows without it to have them left-padded");
      const int64_t pad = cfg.pad_token_id ? *cfg.pad_token_id : (!cfg.eos_token_ids.empty() ? cfg.eos_token_ids[0] : 0);
      std::vector<std::vector<int64_t>> m;
      for (auto& r : rows) {
        const size_t n = longest - r.size();
        std::vector<int64_t> mr(n, 0);
        mr.resize(longest, 1);
        r.insert(r.begin(), n, pad);
        m.push_back(std::move(mr));
      }
      mask = to_tensor(m);
      have_mask = true;
    }
    ids = to_tensor(rows);
    if (!a.attention_mask.empty()) {
      mask = parse_id_matrix(a.attention_mask, "--attention-mask");
      TCPP_CHECK(mask.shape() == ids.shape(), ValueError, "--attention-mask: shape ", mask.describe(),
                 " differs from --input-ids ", ids.describe());
      have_mask = true;
    }
  }

  GenerateOptions options{.use_cache = !a.no_cache, .attention_mask = have_mask ? &mask : nullptr, .seed = seed};
  // Decoded text leaves special tokens out (the eos that ends a reply, padding), as Transformers'
  // text-generation pipeline and v5's chat and serve decode; --keep-special-tokens shows them.
  const DecodeOptions decode_options{.skip_special_tokens = !a.keep_special};
  if (tok) options.decode = token_decoder(*tok, decode_options);
  std::optional<TextStreamer> streamer;
  const bool stream = !a.json && !a.prompt.empty() && cfg.num_beams == 1 && cfg.num_return_sequences == 1;
  if (stream) {
    streamer.emplace(options.decode, /*skip_prompt=*/true);
    std::cout << a.prompt << std::flush;
    options.streamer = &*streamer;
  }
  SpeedReport speed(ids.size(0) * ids.size(1));
  options.on_step = [&](const std::vector<int64_t>& next) { speed.step(static_cast<int64_t>(next.size())); };
  GenerateOutput out = generate(*model, ids, cfg, options);
  if (!quiet()) speed.print(stderr);
  if (stream) return;
  const size_t prompt_len = static_cast<size_t>(ids.size(1));
  if (a.json) {
    Json j;
    j["sequences"] = out.sequences;
    if (out.is_beam_output()) j["sequences_scores"] = out.sequences_scores;
    if (tok) {
      j["text"] = Json::array();
      for (const auto& row : out.sequences)
        j["text"].push_back(tok->decode(std::span<const int64_t>(row).subspan(prompt_len), decode_options));
    }
    std::cout << j.dump() << "\n";
    return;
  }
  for (const auto& row : out.sequences) {
    if (tok) {
      std::cout << a.prompt << tok->decode(std::span<const int64_t>(row).subspan(prompt_len), decode_options) << "\n";
      continue;
    }
    for (size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << row[i];
    std::cout << "\n";
  }
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* sub = app.add_subcommand("generate", "Generate tokens from token ids or a text prompt (greedy, sampling, beams)");
  sub->add_option("model", args->model,
                  "Model folder (config.json + *.safetensors [+ tokenizer.json]) or Hub name org/name[@revision]")
      ->required();
  add_hub_flags(sub, args->hub);
  sub->add_option("key=value", args->key_values,
                  "Generation settings as v5's chat takes them: max_new_tokens=64 do_sample=true eos_token_id=[1,2]");
  sub->add_option("--input-ids,--input_ids", args->input_ids,
                  "Prompt ids: rows separated by ';', ids by ','; unequal rows are left-padded");
  sub->add_option("--attention-mask,--attention_mask", args->attention_mask, "1/0 per --input-ids entry (0 = left padding), same syntax");
  sub->add_option("--prompt", args->prompt, "Prompt text (needs the model folder's tokenizer)");
  sub->add_option("--max-new-tokens,--max_new_tokens", args->max_new_tokens, "Tokens to generate (default: generation_config)");
  // Two plain flags: an optional<bool> flag with a negated name reads as set (false) when neither
  // is given, which overrode do_sample from --generation-config and key=value words.
  sub->add_flag("--do-sample,--do_sample", args->sample, "Sample instead of greedy/beam search");
  sub->add_flag("--greedy", args->greedy, "Greedy (or beam) search even when the generation config samples");
  sub->add_option("--temperature", args->temperature, "Sampling temperature");
  sub->add_option("--top-k,--top_k", args->top_k, "Keep the k most likely tokens when sampling (0: off)");
  sub->add_option("--top-p,--top_p", args->top_p, "Nucleus sampling mass");
  sub->add_option("--min-p,--min_p", args->min_p, "Drop tokens below min_p times the top probability");
  sub->add_option("--repetition-penalty,--repetition_penalty", args->repetition_penalty, "Penalty for tokens already in the sequence");
  sub->add_option("--num-beams,--num_beams", args->num_beams, "Beam search with this many beams");
  sub->add_option("--num-return-sequences,--num_return_sequences", args->num_return_sequences, "Sequences per prompt (sampling or beams)");
  sub->add_option("--seed", args->seed, "Sampling seed (mt19937_64; the same seed gives the same text)");
  sub->add_option("--stop", args->stop, "Stop string (repeatable; needs the tokenizer)");
  sub->add_option("--generation-config,--generation_config", args->generation_config,
                  "A JSON object of generation_config fields, e.g. '{\"no_repeat_ngram_size\": 3}', or a "
                  "generation_config.json file (key=value words and the flags above win over it)");
  sub->add_option("--cache-implementation,--cache_implementation", args->cache_implementation, "dynamic (default) or static")
      ->check(CLI::IsMember({"dynamic", "static"}));
  sub->add_option("--dtype", args->dtype, "Weights dtype: auto (the checkpoint's), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  add_quantization_flag(sub, &args->quantization);
  add_adapter_flag(sub, &args->adapter);
  sub->add_flag("--json", args->json, "Print {\"sequences\": [[...], ...], \"text\": [...]}");
  sub->add_flag("--skip-special-tokens,--skip_special_tokens", args->skip_special,
                "Leave special tokens out of the decoded text (the default)");
  sub->add_flag("--keep-special-tokens,--keep_special_tokens", args->keep_special,
                "Show special tokens (e.g. the eos that ended the text) in the decoded text");
  sub->add_flag("--no-cache,--no_cache", args->no_cache, "Re-run the whole sequence at every step (no KV cache)");
  sub->callback([args] {
    args->model = resolve_model_arg(args->model, args->hub);
    run_generate(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
