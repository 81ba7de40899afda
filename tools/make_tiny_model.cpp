// make_tiny_model: writes a small random checkpoint (config.json + model.safetensors +
// generation_config.json) of a supported architecture, for tests and the README's demo.
//   make_tiny_model --arch llama --out /tmp/tiny [--dtype bf16] [--hidden 64] [--layers 2]
//                   [--heads 4] [--kv-heads 2] [--head-dim 16] [--intermediate 128] [--vocab 256]
//                   [--sliding-window 6] [--tie] [--v5-config] [--seed 0] [--std 0.15]
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "transformers/models/registry.h"
#include "transformers/models/save.h"

using namespace transformers;

int main(int argc, char** argv) {
  CLI::App app{"Write a tiny random Hugging Face checkpoint"};
  std::string arch = "llama", out, dtype = "float32";
  int64_t hidden = 64, layers = 2, heads = 4, kv_heads = 2, head_dim = 16, intermediate = 128, vocab = 256;
  int64_t sliding_window = 0, max_window_layers = -1, seed = 0;
  double std_dev = 0.15, rope_theta = 10000.0;
  bool tie = false, v5 = false;
  app.add_option("--arch", arch, "model_type: llama, mistral, qwen2, qwen3");
  app.add_option("--out", out, "Output folder")->required();
  app.add_option("--dtype", dtype, "float32, bfloat16 or float16");
  app.add_option("--hidden", hidden);
  app.add_option("--layers", layers);
  app.add_option("--heads", heads);
  app.add_option("--kv-heads", kv_heads);
  app.add_option("--head-dim", head_dim);
  app.add_option("--intermediate", intermediate);
  app.add_option("--vocab", vocab);
  app.add_option("--sliding-window", sliding_window, "Sliding window (mistral; qwen2/qwen3 with use_sliding_window)");
  app.add_option("--max-window-layers", max_window_layers, "qwen2/qwen3: first layer index with a sliding window");
  app.add_option("--rope-theta", rope_theta);
  app.add_option("--seed", seed);
  app.add_option("--std", std_dev, "Standard deviation of the random weights");
  app.add_flag("--tie", tie, "Tie the LM head to the embeddings");
  app.add_flag("--v5-config", v5, "Write a v5-style config (rope_parameters, dtype)");
  CLI11_PARSE(app, argc, argv);
  try {
    Json c = {{"model_type", arch},
              {"architectures", Json::array()},
              {"vocab_size", vocab},
              {"hidden_size", hidden},
              {"intermediate_size", intermediate},
              {"num_hidden_layers", layers},
              {"num_attention_heads", heads},
              {"num_key_value_heads", kv_heads},
              {"head_dim", head_dim},
              {"hidden_act", "silu"},
              {"max_position_embeddings", 4096},
              {"rms_norm_eps", 1e-5},
              {"tie_word_embeddings", tie},
              {"bos_token_id", 1},
              {"eos_token_id", 2},
              {"pad_token_id", 0}};
    for (const auto& e : model_registry())
      if (e.model_type == arch) c["architectures"].push_back(e.architectures.front());
    if (sliding_window > 0) {
      c["sliding_window"] = sliding_window;
      if (arch == "qwen2" || arch == "qwen3") {
        c["use_sliding_window"] = true;
        c["max_window_layers"] = max_window_layers >= 0 ? max_window_layers : 0;
      }
    }
    if (v5) c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", rope_theta}};
    else c["rope_theta"] = rope_theta;
    PretrainedConfig config = PretrainedConfig::from_json(c);
    const DType dt = dtype_from_name(dtype, "--dtype");
    auto model = make_random_model(config, static_cast<uint64_t>(seed), std_dev, dt);
    model->generation_config.raw = {{"bos_token_id", 1}, {"eos_token_id", 2}, {"pad_token_id", 0}};
    save_pretrained(*model, out, {.dtype = dt, .v4_config = !v5});
    std::cout << "wrote " << arch << " (" << layers << " layers, hidden " << hidden << ", " << dtype_torch_name(dt)
              << ") to " << out << "\n";
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
