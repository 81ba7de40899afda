// Tokenizer throughput: MB/s of encode on a corpus, single thread and with one thread per core,
// for GPT-2, Llama-3 and Qwen3 (and any folder given), beside Hugging Face tokenizers (Rust) run
// on the same corpus through ../shared/tools/bench_hf.mjs when node and the npm package are
// available (set NODE_PATH to the node_modules holding @anush008/tokenizers).
//
// usage: bench_tokenizer [--corpus FILE] [--reps N] [--no-hf] [--only ids|full]
//                        [tokenizer folders...]
// "ids" is encode (ids only); "full" is encode_full (ids, tokens, offsets, word ids: what HF's
// encode returns, so the HF ratio that matters); --only runs just one of them (for profiling).
// Without --corpus, the corpus is ../shared/tokenizers/texts/samples.jsonl's texts repeated to
// 4 MB. The corpus is cut into ~4 KB chunks at line ends, as bench_hf.mjs does.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "transformers/io/json.h"
#include "transformers/tokenization/tokenizer.h"

namespace fs = std::filesystem;
using transformers::Tokenizer;

namespace {

std::string build_default_corpus(const fs::path& out_path) {
  fs::path samples = fs::path(TCPP_SHARED_DIR) / "tokenizers/texts/samples.jsonl";
  std::ifstream in(samples);
  if (!in) throw std::runtime_error("missing " + samples.string());
  std::string one, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto v = transformers::parse_json(line, samples.string());
    one += (v.is_string() ? v.get<std::string>() : v["text"].get<std::string>()) + "\n";
  }
  std::string corpus;
  while (corpus.size() < 4'000'000) corpus += one;
  std::ofstream(out_path, std::ios::binary) << corpus;
  return corpus;
}

std::vector<std::string> chunks_of(const std::string& text, size_t chunk_bytes) {
  std::vector<std::string> out;
  size_t s = 0;
  while (s < text.size()) {
    size_t e = std::min(text.size(), s + chunk_bytes);
    size_t nl = text.find('\n', e);
    e = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(s, e - s));
    s = e;
  }
  return out;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Median wall seconds of fn(); `cpu` gets the median CPU seconds of the calling thread (the
// machine is shared: CPU time shows single-thread speed without the other processes).
template <typename Fn>
double median_seconds(int reps, Fn fn, double* cpu = nullptr) {
  std::vector<double> t, c;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = thread_cpu_seconds();
    fn();
    c.push_back(thread_cpu_seconds() - c0);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  std::sort(c.begin(), c.end());
  if (cpu) *cpu = c[c.size() / 2];
  return t[t.size() / 2];
}

size_t encode_range(const Tokenizer& tok, const std::vector<std::string>& chunks, size_t begin,
                    size_t step, bool full) {
  size_t tokens = 0;
  for (size_t i = begin; i < chunks.size(); i += step)
    tokens += full ? tok.encode_full(chunks[i], false).size() : tok.encode(chunks[i], false).size();
  return tokens;
}

// Runs bench_hf.mjs; returns {seq MB/s, batch MB/s} or negative values when unavailable.
std::pair<double, double> run_hf(const fs::path& tokenizer_json, const fs::path& corpus, int reps) {
  fs::path script = fs::path(TCPP_SHARED_DIR) / "tools/bench_hf.mjs";
  std::string cmd = "node " + script.string() + " " + tokenizer_json.string() + " " +
                    corpus.string() + " 4096 " + std::to_string(reps) + " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return {-1, -1};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  if (pclose(pipe) != 0 || out.empty()) return {-1, -1};
  try {
    auto j = transformers::parse_json(out, "bench_hf.mjs output");
    return {j["seq"]["median_MBps"].get<double>(), j["batch"]["median_MBps"].get<double>()};
  } catch (...) {
    return {-1, -1};
  }
}

}  // namespace

int main(int argc, char** argv) {
  fs::path corpus_path;
  int reps = 3;
  bool with_hf = true;
  bool run_ids = true, run_full = true;
  std::vector<fs::path> folders;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--corpus" && i + 1 < argc) corpus_path = argv[++i];
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--no-hf") with_hf = false;
    else if (a == "--only" && i + 1 < argc) {
      std::string what = argv[++i];
      run_ids = what == "ids";
      run_full = what == "full";
      if (!run_ids && !run_full) {
        std::fprintf(stderr, "--only takes ids or full\n");
        return 2;
      }
    }
    else folders.emplace_back(a);
  }
  if (folders.empty())
    for (const char* f : {"gpt2", "llama3", "qwen3"})
      folders.push_back(fs::path(TCPP_SHARED_DIR) / "tokenizers/models" / f);
  std::string corpus;
  if (corpus_path.empty()) {
    corpus_path = fs::temp_directory_path() / "transformers_cpp_tokenizer_corpus.txt";
    corpus = build_default_corpus(corpus_path);
  } else {
    std::ifstream in(corpus_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    corpus = ss.str();
  }
  auto chunks = chunks_of(corpus, 4096);
  double mb = corpus.size() / 1e6;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::printf("corpus %s: %.2f MB, %zu chunks; %u threads\n", corpus_path.c_str(), mb,
              chunks.size(), threads);
  std::printf("%-10s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n", "tokenizer", "ids 1T", "full 1T",
              "ids cpu", "full cpu", "ids NT", "HF 1T", "HF NT", "ids/HF", "full/HF");
  for (const auto& folder : folders) {
    auto t0 = std::chrono::steady_clock::now();
    Tokenizer tok = Tokenizer::from_pretrained(folder);
    double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    size_t ntok = 0;
    // MB/s from seconds; 0 (printed as n/a) for what was not run.
    auto rate = [&](double seconds) { return seconds > 0 ? mb / seconds : 0.0; };
    double t_ids = 0, cpu_ids = 0, t_full = 0, cpu_full = 0, t_mt = 0;
    if (run_ids)
      t_ids = median_seconds(reps, [&] { ntok = encode_range(tok, chunks, 0, 1, false); }, &cpu_ids);
    if (run_full)
      t_full = median_seconds(reps, [&] { ntok = encode_range(tok, chunks, 0, 1, true); }, &cpu_full);
    if (run_ids)
      t_mt = median_seconds(reps, [&] {
        std::vector<std::thread> pool;
        for (unsigned k = 0; k < threads; ++k)
          pool.emplace_back([&, k] { encode_range(tok, chunks, k, threads, false); });
        for (auto& th : pool) th.join();
      });
    auto [hf_seq, hf_batch] = with_hf ? run_hf(folder / "tokenizer.json", corpus_path, reps)
                                      : std::pair<double, double>{-1, -1};
    auto cell = [](double v, const char* unit) {
      char buf[32] = "n/a";
      if (v > 0) std::snprintf(buf, sizeof buf, "%.2f%s", v, unit);
      return std::string(buf);
    };
    double hf = hf_seq > 0 ? hf_seq : 0;
    std::printf("%-10s %9s %9s %9s %9s %9s %9s %9s %8s %8s   (%zu tokens, load %.0f ms)\n",
                folder.filename().c_str(), cell(rate(t_ids), "").c_str(),
                cell(rate(t_full), "").c_str(), cell(rate(cpu_ids), "").c_str(),
                cell(rate(cpu_full), "").c_str(), cell(rate(t_mt), "").c_str(),
                cell(hf, "").c_str(), cell(hf_batch, "").c_str(),
                cell(hf > 0 ? rate(t_ids) / hf : 0, "x").c_str(),
                cell(hf > 0 ? rate(t_full) / hf : 0, "x").c_str(), ntok, load_ms);
  }
  return 0;
}
