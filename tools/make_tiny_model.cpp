// make_tiny_model: writes a small random checkpoint (config.json + model.safetensors +
// generation_config.json) of a supported architecture, for tests and the README's demo.
//   make_tiny_model --arch llama --out /tmp/tiny [--dtype bf16] [--hidden 64] [--layers 2]
//                   [--heads 4] [--kv-heads 2] [--head-dim 16] [--intermediate 128] [--vocab 256]
//                   [--sliding-window 6] [--tie] [--v5-config] [--seed 0] [--std 0.15]
//                   [--max-positions 4096] [--bos-id 1] [--eos-id 2] [--pad-id 0]
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/progress.h"
#include "transformers/models/encoder.h"
#include "transformers/models/registry.h"
#include "transformers/models/save.h"

using namespace transformers;

namespace {

// Keys a family reads under its own names or needs to exercise its distinctive parts.
void add_family_keys(const std::string& arch, Json& c, int64_t sliding_window) {
  if (arch == "gpt2") {
    c["n_embd"] = c["hidden_size"];
    c["n_layer"] = c["num_hidden_layers"];
    c["n_head"] = c["num_attention_heads"];
    c["n_positions"] = 1024;
    c["activation_function"] = "gelu_new";
    for (const char* k :
         {"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
          "head_dim", "intermediate_size", "hidden_act", "rms_norm_eps", "max_position_embeddings"})
      c.erase(k);
  } else if (arch == "gemma" || arch == "gemma2" || arch == "gemma3_text") {
    c["hidden_activation"] = "gelu_pytorch_tanh";
    c.erase("hidden_act");
    if (arch != "gemma") c["query_pre_attn_scalar"] = c["head_dim"];
    if (arch != "gemma") c["sliding_window"] = sliding_window > 0 ? sliding_window : 4;
    if (arch == "gemma2") {
      c["attn_logit_softcapping"] = 50.0;
      c["final_logit_softcapping"] = 30.0;
    }
    if (arch == "gemma3_text") {
      c["sliding_window_pattern"] = 6;
      c["rope_local_base_freq"] = 10000.0;
    }
  } else if (arch == "phi") {
    c["hidden_act"] = "gelu_new";
    c["partial_rotary_factor"] = 0.5;
    c["layer_norm_eps"] = 1e-5;
  } else if (arch == "starcoder2") {
    c["hidden_act"] = "gelu_pytorch_tanh";
    c["norm_epsilon"] = 1e-5;
  } else if (arch == "cohere") {
    c["use_qk_norm"] = true;
    c["logit_scale"] = 0.25;
    c["layer_norm_eps"] = 1e-5;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a tiny random Hugging Face checkpoint"};
  std::string arch = "llama", out, dtype = "float32";
  int64_t hidden = 64, layers = 2, heads = 4, kv_heads = 2, head_dim = 16, intermediate = 128,
          vocab = 256;
  int64_t sliding_window = 0, max_window_layers = -1, seed = 0, max_positions = 4096;
  int64_t bos_id = 1, eos_id = 2, pad_id = 0;
  double std_dev = 0.15, rope_theta = 10000.0;
  bool tie = false, v5 = false;
  app.add_option("--arch", arch,
                 "model_type: llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, phi3, phi, "
                 "gpt2, olmo2, "
                 "starcoder2, cohere, bert, roberta, modernbert, ...");
  app.add_option("--out", out, "Output folder")->required();
  app.add_flag_callback("--quiet,-q", [] { cli::set_quiet(true); }, "No progress lines on stderr");
  app.add_option("--dtype", dtype, "float32, bfloat16 or float16");
  app.add_option("--hidden", hidden);
  app.add_option("--layers", layers);
  app.add_option("--heads", heads);
  app.add_option("--kv-heads", kv_heads);
  app.add_option("--head-dim", head_dim);
  app.add_option("--intermediate", intermediate);
  app.add_option("--vocab", vocab);
  app.add_option("--sliding-window", sliding_window,
                 "Sliding window (mistral; qwen2/qwen3 with use_sliding_window)");
  app.add_option("--max-window-layers", max_window_layers,
                 "qwen2/qwen3: first layer index with a sliding window");
  app.add_option("--rope-theta", rope_theta);
  app.add_option("--max-positions", max_positions, "max_position_embeddings");
  app.add_option("--bos-id", bos_id, "bos_token_id (config and generation_config)");
  app.add_option("--eos-id", eos_id, "eos_token_id (config and generation_config)");
  app.add_option("--pad-id", pad_id, "pad_token_id (config and generation_config)");
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
              {"max_position_embeddings", max_positions},
              {"rms_norm_eps", 1e-5},
              {"tie_word_embeddings", tie},
              {"bos_token_id", bos_id},
              {"eos_token_id", eos_id},
              {"pad_token_id", pad_id}};
    for (const auto& e : model_registry())
      if (e.model_type == arch) c["architectures"].push_back(e.architectures.front());
    if (sliding_window > 0) {
      c["sliding_window"] = sliding_window;
      if (arch == "qwen2" || arch == "qwen3") {
        c["use_sliding_window"] = true;
        c["max_window_layers"] = max_window_layers >= 0 ? max_window_layers : 0;
      }
    }
    add_family_keys(arch, c, sliding_window);
    if (v5)
      c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", rope_theta}};
    else
      c["rope_theta"] = rope_theta;
    PretrainedConfig config = PretrainedConfig::from_json(c);
    const DType dt = dtype_from_name(dtype, "--dtype");
    if (find_encoder(arch)) {
      // Encoders: f32, with the masked-LM head (the checkpoint also loads as the bare model).
      c["architectures"] = {arch == "bert"         ? "BertForMaskedLM"
                            : arch == "modernbert" ? "ModernBertForMaskedLM"
                                                   : "RobertaForMaskedLM"};
      c["num_key_value_heads"] = c["num_attention_heads"];
      c.erase("head_dim");
      auto encoder = make_random_encoder(PretrainedConfig::from_json(c), EncoderHead::MaskedLM,
                                         static_cast<uint64_t>(seed), std_dev);
      save_encoder(*encoder, out);
      std::cout << "wrote " << arch << " (" << layers << " layers, hidden " << hidden
                << ", float32) to " << out << "\n";
      return 0;
    }
    std::unique_ptr<CausalLM> model;
    {
      cli::ProgressLine filling("initialising weights");
      model = make_random_model(config, static_cast<uint64_t>(seed), std_dev, dt, filling.callback());
    }
    model->generation_config.raw = {{"bos_token_id", bos_id}, {"eos_token_id", eos_id}, {"pad_token_id", pad_id}};
    cli::ProgressLine saving("saving weights");
    save_pretrained(*model, out, {.dtype = dt, .v4_config = !v5, .on_progress = saving.callback()});
    std::cout << "wrote " << arch << " (" << layers << " layers, hidden " << hidden << ", " << dtype_torch_name(dt)
              << ") to " << out << "\n";
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
