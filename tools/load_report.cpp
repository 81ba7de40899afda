// load_report: the load time and peak memory of a ~1B-parameter random checkpoint in bf16,
// against its size on disk. Two steps in two processes, so that writing does not count:
//   load_report --write --arch llama-1b --out /tmp/llama-1b     # Llama-3.2-1B dimensions
//   load_report --load /tmp/llama-1b [--dtype float32]          # time, VmHWM, RssAnon, RssFile
// --arch qwen3-moe-1b writes per-expert keys (the Hub layout), so loading runs the converter
// (MergeModulelist + Concatenate per layer) instead of mapping the file in place.
#include <chrono>
#include <map>
#include <set>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "transformers/core/half.h"
#include "transformers/core/thread_pool.h"
#include "transformers/models/auto.h"
#include "transformers/models/registry.h"
#include "transformers/models/save.h"

using namespace transformers;

namespace {

Json config_for(const std::string& arch) {
  if (arch == "llama-1b")
    return {{"model_type", "llama"},     {"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 128256},
            {"hidden_size", 2048},       {"intermediate_size", 8192},             {"num_hidden_layers", 16},
            {"num_attention_heads", 32}, {"num_key_value_heads", 8},              {"head_dim", 64},
            {"rms_norm_eps", 1e-5},      {"rope_theta", 500000.0},                {"max_position_embeddings", 8192},
            {"tie_word_embeddings", true}};
  if (arch == "qwen3-moe-1b")
    return {{"model_type", "qwen3_moe"},   {"architectures", {"Qwen3MoeForCausalLM"}}, {"vocab_size", 151936},
            {"hidden_size", 1024},         {"intermediate_size", 3072},               {"moe_intermediate_size", 512},
            {"num_hidden_layers", 16},     {"num_attention_heads", 16},               {"num_key_value_heads", 4},
            {"head_dim", 64},              {"num_experts", 32},                       {"num_experts_per_tok", 4},
            {"norm_topk_prob", true},      {"rms_norm_eps", 1e-6},                    {"rope_theta", 1000000.0},
            {"max_position_embeddings", 8192}, {"tie_word_embeddings", true}};
  throw ValueError("--arch: llama-1b or qwen3-moe-1b");
}

// Uniform values of the right scale are enough for a memory and time measurement; a fast
// generator keeps writing 1B values to seconds.
void fill(Tensor& t, uint64_t& state, float scale, float offset) {
  auto next = [&] {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (static_cast<float>(state >> 40) / 16777216.0f - 0.5f) * 2 * scale + offset;
  };
  if (t.dtype() == DType::BF16) {
    uint16_t* p = t.data_u16();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = f32_to_bf16(next());
  } else {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = next();
  }
}

std::map<std::string, double> memory_mb() {
  std::ifstream in("/proc/self/status");
  std::map<std::string, double> out;
  std::string key;
  double kb;
  std::string unit;
  while (in >> key) {
    if (key == "VmHWM:" || key == "VmRSS:" || key == "RssAnon:" || key == "RssFile:") {
      in >> kb >> unit;
      out[key.substr(0, key.size() - 1)] = kb / 1024.0;
    } else {
      std::getline(in, unit);
    }
  }
  return out;
}

uint64_t folder_bytes(const std::filesystem::path& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") n += e.file_size();
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load time and peak memory of a ~1B random bf16 checkpoint"};
  std::string arch = "llama-1b", out, load, shard = "2GB", dtype = "auto", resave;
  bool write = false;
  app.add_flag("--write", write, "Write the checkpoint to --out");
  app.add_option("--arch", arch, "llama-1b (loads in place) or qwen3-moe-1b (per-expert keys, converted)");
  app.add_option("--out", out, "Folder to write");
  app.add_option("--max-shard-size", shard, "Shard size of the written checkpoint");
  app.add_option("--load", load, "Folder to load and measure");
  app.add_option("--resave", resave, "After loading, save_pretrained to this folder (original layout) and measure");
  app.add_option("--dtype", dtype, "Load dtype: auto (the checkpoint's, bf16 here) or float32 (every tensor cast)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (write) {
      PretrainedConfig config = PretrainedConfig::from_json(config_for(arch));
      auto model = find_model(config).causal_lm(config);
      model->dtype = DType::BF16;
      uint64_t state = 0x9E3779B97F4A7C15ull, params = 0;
      std::set<std::string> tied;
      for (const auto& [target, source] : model->tied_weights()) tied.insert(target);
      for (const auto& p : model->named_parameters()) {
        if (tied.count(p.name)) continue;
        const bool matrix = p.role == nn::ParamRole::Matrix;
        *p.tensor = Tensor::empty(p.shape, matrix ? DType::BF16 : DType::F32);
        fill(*p.tensor, state, matrix ? 0.02f : 0.01f, matrix || p.name.find("norm") == std::string::npos ? 0.f : 1.f);
        params += static_cast<uint64_t>(p.tensor->numel());
      }
      save_pretrained(*model, out, {.max_shard_size = parse_shard_size(shard)});
      std::printf("wrote %s: %.3f B parameters, %.2f GB of safetensors\n", out.c_str(), params / 1e9,
                  folder_bytes(out) / 1e9);
    }
    if (!load.empty()) {
      const auto before = memory_mb();
      const auto t0 = std::chrono::steady_clock::now();
      LoadReport report;
      auto model = AutoModelForCausalLM::from_pretrained(load, {.dtype = dtype}, &report);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const auto after = memory_mb();
      std::printf("load %s (%s, %d threads): %.3f s; files %.2f GB; tensors in place %zu, converted %zu\n",
                  load.c_str(), std::string(dtype_torch_name(model->dtype)).c_str(), ThreadPool::global().size(), s,
                  folder_bytes(load) / 1e9, report.mapped, report.converted);
      std::printf("memory MB: peak RSS %.0f (before load %.0f), RssAnon %.0f, RssFile %.0f (mapped file pages read)\n",
                  after.at("VmHWM"), before.at("VmRSS"), after.at("RssAnon"), after.at("RssFile"));
      for (const auto& r : report.conversions) std::printf("  fired: %s\n", r.describe().c_str());
      if (!resave.empty()) {
        const auto t2 = std::chrono::steady_clock::now();
        SaveOptions so;
        so.conversions = report.conversions;
        so.max_shard_size = parse_shard_size(shard);
        save_pretrained(*model, resave, so);
        const auto m = memory_mb();
        std::printf("save_pretrained %s (original layout): %.2f s; peak RSS %.0f MB, RssAnon %.0f\n", resave.c_str(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count(), m.at("VmHWM"),
                    m.at("RssAnon"));
      }
      // One token through the model, to show it runs.
      const auto t1 = std::chrono::steady_clock::now();
      model->forward(Tensor::from_values<int64_t>({1, 2, 3, 4}, {1, 4}));
      std::printf("first forward (4 tokens, pages faulted in): %.2f s; peak RSS now %.0f MB\n",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(),
                  memory_mb().at("VmHWM"));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
