// Continuous batching figures on a random model with Qwen2.5-0.5B's shapes (cli/model_presets.h):
// aggregate decode tokens/s of 1 stream and of N concurrent streams through one
// ContinuousBatchingManager, time to first token under that load, and the prefix-cache hit rate
// of requests that share a system prompt. Prints figures; asserts nothing.
//
//   bench_continuous_batching [--streams 8] [--prompt 32] [--new 32] [--system 256] [--dtype bf16]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "cli/model_presets.h"
#include "transformers/generation/continuous_batching.h"
#include "transformers/models/save.h"

namespace {

using namespace transformers;
using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::vector<int64_t> random_ids(int64_t n, uint64_t seed) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int64_t>((seed * 7919 + static_cast<uint64_t>(i) * 104729) % 150000));
  return ids;
}

struct Run {
  double decode_tps = 0, total_tps = 0, ttft_mean = 0, ttft_max = 0;
  ContinuousBatchingManager::Stats stats;
};

// `prompts` submitted at once; each generates `new_tokens` greedily (no eos). Decode tokens/s:
// tokens after each stream's first, over the time from the last first token to the end.
Run run(const CausalLM& model, const std::vector<std::vector<int64_t>>& prompts, int64_t new_tokens) {
  ContinuousBatchingManager manager(model, {.max_running = static_cast<int64_t>(prompts.size())});
  GenerationConfig g;
  g.max_new_tokens = new_tokens;
  g.eos_token_ids.clear();
  const auto start = Clock::now();
  std::vector<std::string> ids;
  for (const auto& p : prompts) ids.push_back(manager.add_request(p, {.config = g}));
  std::vector<Clock::time_point> first(ids.size());
  std::vector<std::thread> readers;
  for (size_t i = 0; i < ids.size(); ++i)
    readers.emplace_back([&, i] {
      bool seen = false;
      while (true) {
        auto r = manager.get_result(ids[i], std::chrono::milliseconds(60000));
        if (!r) continue;
        if (!seen && !r->new_tokens.empty()) {
          first[i] = Clock::now();
          seen = true;
        }
        if (r->finished) return;
      }
    });
  for (auto& t : readers) t.join();
  const auto end = Clock::now();
  Run out;
  Clock::time_point last_first = start;
  for (const auto& f : first) {
    out.ttft_mean += seconds(start, f) / static_cast<double>(first.size());
    out.ttft_max = std::max(out.ttft_max, seconds(start, f));
    last_first = std::max(last_first, f);
  }
  const double n = static_cast<double>(prompts.size());
  out.decode_tps = n * static_cast<double>(new_tokens - 1) / seconds(last_first, end);
  out.total_tps = n * static_cast<double>(new_tokens) / seconds(start, end);
  out.stats = manager.stats();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t streams = 8, prompt = 32, new_tokens = 32, system = 256;
  std::string dtype = "bf16";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--streams") streams = std::stoll(v);
    else if (k == "--prompt") prompt = std::stoll(v);
    else if (k == "--new") new_tokens = std::stoll(v);
    else if (k == "--system") system = std::stoll(v);
    else if (k == "--dtype") dtype = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  auto model = make_random_model(PretrainedConfig::from_json(cli::model_preset_config("qwen2.5-0.5b", "--random")), 1,
                                 0.02, dtype_from_name(dtype, "--dtype"));
  std::printf("qwen2.5-0.5b shapes, random %s weights, %u hardware threads (shared machine: other builds may run)\n",
              dtype.c_str(), std::thread::hardware_concurrency());
  std::vector<std::vector<int64_t>> many;
  for (int64_t i = 0; i < streams; ++i) many.push_back(random_ids(prompt, 100 + static_cast<uint64_t>(i)));
  run(*model, {many[0]}, 4);  // warm-up
  const Run one = run(*model, {many[0]}, new_tokens);
  const Run all = run(*model, many, new_tokens);
  std::printf("1 stream : decode %.2f tok/s, time to first token %.3f s\n", one.decode_tps, one.ttft_mean);
  std::printf("%lld streams: decode %.2f tok/s aggregate (%.2fx one stream), all tokens %.2f tok/s, time to first "
              "token mean %.3f s max %.3f s, %lld steps\n",
              static_cast<long long>(streams), all.decode_tps, all.decode_tps / one.decode_tps, all.total_tps,
              all.ttft_mean, all.ttft_max, static_cast<long long>(all.stats.steps));
  // Requests sharing a system prompt, sent one after another (the first names its blocks).
  std::vector<std::vector<int64_t>> shared;
  const std::vector<int64_t> sys = random_ids(system, 7);
  for (int64_t i = 0; i < streams; ++i) {
    shared.push_back(sys);
    const auto tail = random_ids(prompt, 500 + static_cast<uint64_t>(i));
    shared.back().insert(shared.back().end(), tail.begin(), tail.end());
  }
  ContinuousBatchingManager manager(*model);
  GenerationConfig g;
  g.max_new_tokens = 2;
  g.eos_token_ids.clear();
  double ttft_first = 0, ttft_rest = 0;
  for (size_t i = 0; i < shared.size(); ++i) {
    const auto t0 = Clock::now();
    const std::string id = manager.add_request(shared[i], {.config = g});
    bool seen = false;
    while (true) {
      auto r = manager.get_result(id, std::chrono::milliseconds(60000));
      if (!r) continue;
      if (!seen) {
        (i == 0 ? ttft_first : ttft_rest) += seconds(t0, Clock::now()) / (i == 0 ? 1.0 : static_cast<double>(shared.size() - 1));
        seen = true;
      }
      if (r->finished) break;
    }
  }
  const auto s = manager.stats();
  std::printf("prefix cache: %lld of %lld prompt tokens cached (hit rate %.1f%%); time to first token %.3f s for the "
              "first request, %.3f s mean for the %lld that share its %lld-token system prompt\n",
              static_cast<long long>(s.cached_prompt_tokens), static_cast<long long>(s.prompt_tokens),
              100.0 * static_cast<double>(s.cached_prompt_tokens) / static_cast<double>(s.prompt_tokens), ttft_first,
              ttft_rest, static_cast<long long>(streams - 1), static_cast<long long>(system));
  return 0;
}
