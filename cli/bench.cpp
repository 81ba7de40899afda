// transformers bench (MODEL | --random PRESET) [--n-prompt 128] [--n-gen 32] [--threads 2] [--reps
// 3]
//                    [--dtype auto|f32|bf16|f16] [--batch N] [--json FILE]
// Speed of a model on this machine, beside the machine's limits measured by the same command:
// prompt tokens/s (one forward over n-prompt random ids per row), generation tokens/s (greedy
// n-gen steps on top of the prompt, `batch` rows decoded together per step), time to first token,
// load time, peak RSS, and what decode and prefill achieve as GB/s of weights read and GFLOP/s
// next to a STREAM-like read and an FMA loop (cli/machine_limits.h). Medians over reps; a rep
// during which other processes used CPU is redone, and marked when it never ran quiet.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/cpu_snapshot.h"
#include "cli/bench_run.h"
#include "cli/command.h"
#include "cli/common.h"
#include "cli/hub_args.h"
#include "cli/machine_limits.h"
#include "cli/model_presets.h"
#include "transformers/core/thread_pool.h"
#include "transformers/io/files.h"
#include "transformers/io/json.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"

namespace transformers::cli {
namespace {

constexpr int64_t kMaxBenchTokens = int64_t{1} << 18;

struct BenchArgs {
  std::string model, random, dtype = "auto", json;
  QuantizationFlags quantization;
  int threads = 2, reps = 3;
  RepPlan plan;
  HubArgs hub;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// The limits under the reps' policy: redone while other processes were busy. Others only ever
// lower them, so each figure is the best over the tries; `others` is the quietest try's.
MachineLimits quiet_machine_limits(int threads, const RepPlan& plan, double* others) {
  MachineLimits best;
  for (int attempt = 1; attempt <= plan.max_tries; ++attempt) {
    bench::wait_for_quiet(plan.quiet_wait_s, plan.max_others);
    const auto start = bench::CpuSnapshot::now();
    const MachineLimits m = measure_machine_limits(threads);
    const double o = bench::CpuSnapshot::now().others_since(start);
    *others = attempt == 1 ? o : std::min(*others, o);
    best.isa = m.isa;
    best.read_gb_per_s = std::max(best.read_gb_per_s, m.read_gb_per_s);
    best.fma_gflop_per_s = std::max(best.fma_gflop_per_s, m.fma_gflop_per_s);
    if (o <= plan.max_others) break;
  }
  return best;
}

std::unique_ptr<CausalLM> load(const BenchArgs& a) {
  if (!a.random.empty()) {
    const DType dtype = dtype_from_name(a.dtype == "auto" ? "f32" : a.dtype, "--dtype");
    auto model = make_random_model(PretrainedConfig::from_json(model_preset_config(a.random, "--random")), 1, 0.02, dtype);
    if (auto q = quantization_from_flag(a.quantization)) quantize_parameters(*model, *q);
    return model;
  }
  return AutoModelForCausalLM::from_pretrained(a.model,
                                               {.dtype = a.dtype, .quantization_config = quantization_from_flag(a.quantization)});
}

void run_bench(BenchArgs a) {
  TCPP_CHECK(a.model.empty() != a.random.empty(), ValueError,
             "give exactly one of MODEL and --random");
  if (!a.json.empty()) {
    if (!a.model.empty()) check_outputs(a.model, {{"--json", a.json}});
    // Found out now, not after minutes of measuring.
    const auto folder = std::filesystem::absolute(a.json).parent_path();
    TCPP_CHECK(std::filesystem::is_directory(folder), ValueError, "--json: folder ",
               folder.string(), " does not exist");
  }
  // Bounds what the caches and activations may take, whatever the flags say.
  TCPP_CHECK(a.plan.batch * (a.plan.n_prompt + a.plan.n_gen) <= kMaxBenchTokens, ValueError,
             "--batch x (--n-prompt + --n-gen) must be at most ", kMaxBenchTokens, ", got ",
             a.plan.batch * (a.plan.n_prompt + a.plan.n_gen));
  use_threads(a.threads);

  auto t0 = std::chrono::steady_clock::now();
  auto model = load(a);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ModelCost cost = model_cost(*model);
  const RepPlan& plan = a.plan;
  const int64_t max_len = model->config().max_position_embeddings;
  TCPP_CHECK(max_len <= 0 || plan.n_prompt + plan.n_gen <= max_len, ValueError,
             "--n-prompt + --n-gen = ", plan.n_prompt + plan.n_gen,
             " exceeds the model's max_position_embeddings ", max_len);

  // The first pass pages the weights in (mmapped checkpoints): its first token is the cold one.
  const RepFigures cold = time_once(*model, plan, 0);
  std::vector<RepFigures> reps;
  for (int r = 0; r < a.reps; ++r)
    reps.push_back(time_rep(*model, plan, static_cast<uint64_t>(r + 1)));
  const double rss_mib = peak_rss_mib();  // before the limit loops allocate their buffer
  double limits_others = 0;
  const MachineLimits limits = quiet_machine_limits(a.threads, plan, &limits_others);

  const double batch = static_cast<double>(plan.batch);
  // Per-rep figures, and the medians over the quiet reps (over all of them, marked, when every
  // rep was disturbed): a median over a mix of quiet and disturbed reps measures the scheduler.
  std::vector<double> pp, tg, ttft, prompt_s, quiet_pp, quiet_tg, quiet_ttft, quiet_prompt_s;
  int redone = 0, disturbed = 0;
  for (const auto& r : reps) {
    pp.push_back(batch * static_cast<double>(plan.n_prompt) / r.prompt_s);
    tg.push_back(batch * static_cast<double>(plan.n_gen) / r.gen_s);
    ttft.push_back(r.ttft_s);
    prompt_s.push_back(r.prompt_s);
    redone += r.tries - 1;
    disturbed += r.disturbed ? 1 : 0;
    if (r.disturbed) continue;
    quiet_pp.push_back(pp.back());
    quiet_tg.push_back(tg.back());
    quiet_ttft.push_back(ttft.back());
    quiet_prompt_s.push_back(prompt_s.back());
  }
  if (quiet_pp.empty()) quiet_pp = pp, quiet_tg = tg, quiet_ttft = ttft, quiet_prompt_s = prompt_s;
  const double pp_med = median(quiet_pp), tg_med = median(quiet_tg), ttft_med = median(quiet_ttft);
  // Decode reads the weights once per step (all rows together); prefill does the FLOPs below.
  const double decode_gb_s = static_cast<double>(cost.step_weight_bytes) * (tg_med / batch) / 1e9;
  const double prefill_gflop_s =
      cost.prefill_flops(plan.batch, plan.n_prompt) / median(quiet_prompt_s) / 1e9;
  const double roofline_tok_s =
      limits.read_gb_per_s * 1e9 / static_cast<double>(cost.step_weight_bytes) * batch;

  Json j;
  j["model"] = a.random.empty() ? a.model : "random:" + a.random;
  j["dtype"] = std::string(dtype_torch_name(model->dtype));
  j["threads"] = a.threads;
  j["batch"] = plan.batch;
  j["n_prompt"] = plan.n_prompt;
  j["n_gen"] = plan.n_gen;
  j["reps"] = a.reps;
  j["params"] = cost.params;
  j["weight_bytes"] = cost.weight_bytes;
  j["step_weight_bytes"] = cost.step_weight_bytes;
  j["load_s"] = load_s;
  j["cold_ttft_s"] = load_s + cold.ttft_s;
  j["prompt_tok_s"] = pp_med;
  j["gen_tok_s"] = tg_med;
  j["ttft_s"] = ttft_med;
  j["prompt_tok_s_reps"] = pp;
  j["gen_tok_s_reps"] = tg;
  j["others_cores_reps"] = Json::array();
  for (const auto& r : reps) j["others_cores_reps"].push_back(r.others_cores);
  j["redone_reps"] = redone;
  j["disturbed_reps"] = disturbed;
  j["median_reps"] = quiet_pp.size();  // reps the medians are taken over
  j["peak_rss_mib"] = rss_mib;
  j["decode_gb_s"] = decode_gb_s;
  j["prefill_gflop_s"] = prefill_gflop_s;
  j["machine"] = {{"isa", limits.isa},
                  {"read_gb_s", limits.read_gb_per_s},
                  {"fma_gflop_s", limits.fma_gflop_per_s},
                  {"others_cores", limits_others}};
  j["decode_roofline_tok_s"] = roofline_tok_s;
  j["decode_roofline_fraction"] = tg_med / roofline_tok_s;
  j["prefill_peak_fraction"] = prefill_gflop_s / limits.fma_gflop_per_s;

  std::printf(
      "model %s (%s, %.0f M params, %.1f MB read per decode step), %d threads, batch %lld\n",
      j["model"].get<std::string>().c_str(), std::string(dtype_torch_name(model->dtype)).c_str(),
      cost.params / 1e6, cost.step_weight_bytes / 1e6, a.threads,
      static_cast<long long>(plan.batch));
  std::printf("load %.3f s, cold first token %.3f s, peak RSS %.0f MiB\n", load_s,
              load_s + cold.ttft_s, rss_mib);
  for (size_t i = 0; i < reps.size(); ++i)
    std::printf(
        "rep %zu: prompt %.2f tok/s, gen %.2f tok/s, first token %.4f s, others %.2f cores%s%s\n",
        i + 1, pp[i], tg[i], reps[i].ttft_s, reps[i].others_cores,
        reps[i].tries > 1 ? (" (try " + std::to_string(reps[i].tries) + ")").c_str() : "",
        reps[i].disturbed ? " DISTURBED" : "");
  std::printf(
      "median: prompt %lld: %.2f tok/s (%.1f GFLOP/s, %.0f%% of the %s FMA peak %.1f GFLOP/s)\n",
      static_cast<long long>(plan.n_prompt), pp_med, prefill_gflop_s,
      100 * prefill_gflop_s / limits.fma_gflop_per_s, limits.isa.c_str(), limits.fma_gflop_per_s);
  std::printf(
      "median: gen %lld: %.2f tok/s (%.1f GB/s of weights, %.0f%% of the roofline %.2f tok/s at "
      "%.1f GB/s read)\n",
      static_cast<long long>(plan.n_gen), tg_med, decode_gb_s, 100 * tg_med / roofline_tok_s,
      roofline_tok_s, limits.read_gb_per_s);
  std::printf("machine limits measured with others using %.2f cores\n", limits_others);
  std::printf("median time to first token: %.4f s; %d rep(s) redone, %d disturbed\n", ttft_med,
              redone, disturbed);
  if (!a.json.empty()) write_file_atomically(a.json, j.dump(1) + "\n");
}

const Command kCommand{[](CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure prompt and generation speed beside the machine's limits");
  sub->add_option("model", args->model, "Model folder (config.json + *.safetensors) or Hub name org/name[@revision]");
  add_hub_flags(sub, args->hub);
  std::string presets;
  for (const auto& p : model_preset_names()) presets += (presets.empty() ? "" : "|") + p;
  sub->add_option("--random", args->random,
                  "Random weights with a real model's dimensions: " + presets)
      ->check(CLI::IsMember(model_preset_names()));
  sub->add_option("--n-prompt", args->plan.n_prompt, "Prompt tokens per row (default 128)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--n-gen", args->plan.n_gen,
                  "Greedy tokens generated on top of the prompt (default 32)")
      ->check(CLI::Range(1, 65536));
  sub->add_option("--threads", args->threads, "Threads (default 2)")->check(CLI::Range(1, 1024));
  sub->add_option("--reps", args->reps, "Timed repetitions; figures are medians (default 3)")
      ->check(CLI::Range(1, 1000));
  sub->add_option("--batch", args->plan.batch, "Sequences decoded together per step (default 1)")
      ->check(CLI::Range(1, 1024));
  sub->add_option("--dtype", args->dtype,
                  "Weights dtype: auto (the checkpoint's; f32 for --random), f32, bf16, f16")
      ->check(CLI::IsMember({"auto", "f32", "float32", "bf16", "bfloat16", "f16", "float16"}));
  add_quantization_flag(sub, &args->quantization);
  sub->add_option("--max-others", args->plan.max_others,
                  "Cores other processes may use during a rep before it is redone (default 0.1)")
      ->check(CLI::Range(0.0, 1024.0));
  sub->add_option("--max-tries", args->plan.max_tries,
                  "Tries per disturbed rep; the least disturbed is kept and marked (default 3)")
      ->check(CLI::Range(1, 100));
  sub->add_option("--quiet-wait", args->plan.quiet_wait_s,
                  "Seconds to wait for a quiet moment before each try (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  sub->add_option("--json", args->json, "Also write the figures to this JSON file");
  sub->callback([args] {
    if (!args->model.empty()) args->model = resolve_model_arg(args->model, args->hub);
    run_bench(*args);
  });
}};

}  // namespace
}  // namespace transformers::cli
