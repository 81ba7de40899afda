// End-to-end prompt processing and decode speed on random weights with real model dimensions,
// beside llama.cpp's figures measured on this machine class (../shared/README.md).
//   bench_generate [--model qwen2.5-0.5b|llama-3.2-1b] [--dtype f32|bf16] [--prompt 128] [--gen 32]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "transformers/core/thread_pool.h"
#include "transformers/generation/generate.h"
#include "transformers/models/save.h"

using namespace transformers;

namespace {

Json dims(const std::string& name) {
  if (name == "llama-3.2-1b")
    return {{"model_type", "llama"}, {"vocab_size", 128256}, {"hidden_size", 2048}, {"intermediate_size", 8192},
            {"num_hidden_layers", 16}, {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"head_dim", 64},
            {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 131072}, {"tie_word_embeddings", true},
            {"rope_theta", 500000.0}};
  return {{"model_type", "qwen2"}, {"vocab_size", 151936}, {"hidden_size", 896}, {"intermediate_size", 4864},
          {"num_hidden_layers", 24}, {"num_attention_heads", 14}, {"num_key_value_heads", 2}, {"head_dim", 64},
          {"rms_norm_eps", 1e-6}, {"max_position_embeddings", 32768}, {"tie_word_embeddings", true},
          {"rope_theta", 1000000.0}};
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_name = "qwen2.5-0.5b", dtype = "bf16";
  int64_t n_prompt = 128, n_gen = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model_name = argv[i + 1];
    else if (!std::strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
    else if (!std::strcmp(argv[i], "--prompt")) n_prompt = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gen")) n_gen = std::stoll(argv[i + 1]);
  }
  const DType dt = dtype_from_name(dtype, "--dtype");
  auto t0 = std::chrono::steady_clock::now();
  auto model = make_random_model(PretrainedConfig::from_json(dims(model_name)), 1, 0.02, dt);
  std::printf("model %s (%s), built in %.1f s, threads %d\n", model_name.c_str(), dtype.c_str(), seconds_since(t0),
              ThreadPool::global().size());

  Tensor ids = Tensor::empty({1, n_prompt}, DType::I64);
  for (int64_t i = 0; i < n_prompt; ++i) ids.data<int64_t>()[i] = (i * 7919) % 1000 + 10;
  // Prompt processing: one forward over the prompt (best of 2).
  double pp_best = 1e9;
  for (int rep = 0; rep < 2; ++rep) {
    auto cache = model->make_cache();
    auto t = std::chrono::steady_clock::now();
    model->forward(ids, {.cache = cache.get(), .logits_to_keep = 1});
    pp_best = std::min(pp_best, seconds_since(t));
  }
  // Decode: n_gen tokens one at a time after the prompt.
  auto cache = model->make_cache();
  model->forward(ids, {.cache = cache.get(), .logits_to_keep = 1});
  Tensor tok = Tensor::from_values<int64_t>({42}, {1, 1});
  auto t = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_gen; ++i) model->forward(tok, {.cache = cache.get(), .logits_to_keep = 1});
  double tg = seconds_since(t);

  const double pp_tps = n_prompt / pp_best, tg_tps = n_gen / tg;
  // llama.cpp on this machine class (prompt 128 / generate 32, 2 threads): F32 and F16 rows.
  double ref_pp = 0, ref_tg = 0;
  if (model_name == "qwen2.5-0.5b") { ref_pp = dt == DType::F32 ? 65.3 : 70.3; ref_tg = dt == DType::F32 ? 9.26 : 15.56; }
  else { ref_pp = dt == DType::F32 ? 25.7 : 28.7; ref_tg = dt == DType::F32 ? 3.84 : 5.80; }
  std::printf("prompt %lld tokens: %.1f tokens/s   (llama.cpp %s: %.1f, ratio %.2f)\n", static_cast<long long>(n_prompt),
              pp_tps, dt == DType::F32 ? "F32" : "F16", ref_pp, pp_tps / ref_pp);
  std::printf("decode %lld tokens: %.2f tokens/s   (llama.cpp %s: %.2f, ratio %.2f)\n", static_cast<long long>(n_gen),
              tg_tps, dt == DType::F32 ? "F32" : "F16", ref_tg, tg_tps / ref_tg);
  std::printf("peak RSS: %.0f MB\n", peak_rss_mb());
  return 0;
}
