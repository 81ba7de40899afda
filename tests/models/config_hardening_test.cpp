// Hostile config.json values: refused with a ConfigError naming the key (never truncated,
// wrapped, used as an index or allocated from), checked against the checkpoint's tensors before
// a model is built, and Qwen's max_window_layers with Transformers' semantics.
#include <gtest/gtest.h>

#include <functional>

#include "common/golden_copy.h"
#include "transformers/config/pretrained_config.h"
#include "transformers/models/auto.h"
#include "transformers/models/registry.h"

namespace transformers {
namespace {

Json golden_config(const std::string& arch) { return read_json_file(testing::shared_path("golden/" + arch + "/config.json")); }

// from_json on the golden config of `arch` with `key` set to `value` must throw a ConfigError
// whose message contains every one of `needles`.
void expect_config_error(const std::string& arch, const std::function<void(Json&)>& edit,
                         const std::vector<std::string>& needles) {
  Json c = golden_config(arch);
  edit(c);
  try {
    PretrainedConfig config = PretrainedConfig::from_json(c, "config.json");
    // Some values are only refused when the model is laid out from the config.
    find_model(config).causal_lm(config);
    ADD_FAILURE() << "accepted: " << c.dump();
  } catch (const ConfigError& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

void expect_key_error(const std::string& key, const Json& value, const std::vector<std::string>& needles) {
  SCOPED_TRACE(key + " = " + value.dump());
  expect_config_error("qwen2", [&](Json& c) { c[key] = value; }, needles);
}

TEST(ConfigHardening, NonIntegralOrOutOfRangeIntegersAreRefusedNamingTheKey) {
  expect_key_error("hidden_size", 64.9, {"'hidden_size'", "must be an integer", "64.9"});
  expect_key_error("num_hidden_layers", true, {"'num_hidden_layers'", "must be an integer"});
  expect_key_error("vocab_size", "256", {"'vocab_size'", "must be an integer"});
  expect_key_error("vocab_size", Json(18446744073709551615ull), {"'vocab_size'", "int64"});
  expect_key_error("max_position_embeddings", 1e300, {"'max_position_embeddings'", "must be an integer"});
  // <= 0 is out of range, not "missing".
  expect_key_error("hidden_size", 0, {"hidden_size is 0, out of range"});
  expect_key_error("num_attention_heads", -4, {"num_attention_heads is -4, out of range"});
  expect_key_error("num_hidden_layers", 100000000, {"num_hidden_layers is 100000000, out of range (1 to 16384)"});
  expect_key_error("head_dim", int64_t{1} << 30, {"head_dim is 1073741824, out of range"});
  expect_key_error("sliding_window", 0, {"sliding_window is 0, out of range"});
  expect_key_error("sliding_window", -3, {"sliding_window is -3, out of range"});
}

TEST(ConfigHardening, IntegralFloatsAreAcceptedAsIntegers) {
  Json c = golden_config("qwen2");
  c["hidden_size"] = 64.0;
  EXPECT_EQ(PretrainedConfig::from_json(c).hidden_size, 64);
}

TEST(ConfigHardening, WrongTypesNameTheKey) {
  expect_key_error("torch_dtype", 5, {"'torch_dtype'"});
  expect_key_error("dtype", Json::array({"float32"}), {"'dtype'"});
  expect_key_error("eos_token_id", "2", {"'eos_token_id'"});
  expect_key_error("eos_token_id", Json::array({"a", "b"}), {"'eos_token_id'"});
  expect_key_error("eos_token_id", 2.5, {"'eos_token_id'"});
  expect_key_error("tie_word_embeddings", 1, {"'tie_word_embeddings'"});
  expect_key_error("rope_scaling", "linear", {"rope_scaling: rope parameters must be an object"});
}

TEST(ConfigHardening, RopeValuesThatWouldDivideByZeroAreRefused) {
  expect_key_error("rope_theta", 0.0, {"rope_theta is 0, out of range"});
  expect_key_error("rope_theta", -10000.0, {"rope_theta is -10000, out of range"});
  expect_key_error("rope_scaling", {{"rope_type", "linear"}, {"factor", 0.0}}, {"factor is 0, out of range"});
  expect_key_error("rope_scaling", {{"rope_type", "dynamic"}, {"factor", -2.0}}, {"factor is -2, out of range"});
  expect_key_error("rope_scaling",
                   {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 2.0}, {"high_freq_factor", 2.0},
                    {"original_max_position_embeddings", 64}},
                   {"low_freq_factor and high_freq_factor must differ"});
  expect_key_error("rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 0}},
                   {"original_max_position_embeddings is 0, out of range"});
  expect_key_error("rope_scaling",
                   {{"rope_type", "longrope"}, {"short_factor", {1, 1}}, {"long_factor", {1, 1}},
                    {"original_max_position_embeddings", 0}},
                   {"original_max_position_embeddings is 0, out of range"});
  expect_key_error("partial_rotary_factor", 0.0, {"partial_rotary_factor is 0, out of range"});
}

TEST(ConfigHardening, ScaledRopeWithoutMaxPositionEmbeddingsIsRefused) {
  // Dynamic divides by max_position_embeddings; yarn and longrope take a missing factor or
  // original length from it, llama3 a missing original length: without it each would divide by 0.
  auto without_max_positions = [](const Json& rope) {
    return [rope](Json& c) {
      c.erase("max_position_embeddings");
      c["rope_scaling"] = rope;
    };
  };
  const std::string needs = "config.json: rope_scaling (rope_type '";
  const Json refused[] = {
      {{"rope_type", "dynamic"}, {"factor", 2.0}, {"original_max_position_embeddings", 64}},
      {{"rope_type", "yarn"}, {"factor", 4.0}},
      {{"rope_type", "yarn"}, {"original_max_position_embeddings", 64}},
      {{"rope_type", "longrope"}, {"short_factor", {1, 1, 1, 1, 1, 1, 1, 1}}, {"long_factor", {1, 1, 1, 1, 1, 1, 1, 1}}},
      {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}}};
  for (const Json& rope : refused) {
    SCOPED_TRACE(rope.dump());
    expect_config_error("llama", without_max_positions(rope),
                        {needs + rope["rope_type"].get<std::string>() + "') needs max_position_embeddings"});
  }
  // The v5 spelling names its own key.
  expect_config_error("llama",
                      [](Json& c) {
                        c.erase("max_position_embeddings");
                        c["rope_parameters"] = {{"rope_type", "dynamic"}, {"factor", 2.0}, {"rope_theta", 10000.0}};
                      },
                      {"config.json: rope_parameters (rope_type 'dynamic') needs max_position_embeddings"});
  // Lengths given in the rope itself (and the unscaled ropes) need nothing more.
  for (const Json& rope : {Json{{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 64}},
                           Json{{"rope_type", "linear"}, {"factor", 2.0}}, Json::object()}) {
    SCOPED_TRACE(rope.dump());
    Json c = golden_config("llama");
    without_max_positions(rope)(c);
    PretrainedConfig config = PretrainedConfig::from_json(c, "config.json");
    EXPECT_NO_THROW(find_model(config).causal_lm(config));
  }
}

TEST(ConfigHardening, GemmaScalarsMustBePositive) {
  expect_config_error("gemma2", [](Json& c) { c["query_pre_attn_scalar"] = 0; }, {"query_pre_attn_scalar is 0, out of range"});
  expect_config_error("gemma2", [](Json& c) { c["query_pre_attn_scalar"] = -1.5; }, {"query_pre_attn_scalar is -1.5"});
  expect_config_error("gemma3", [](Json& c) { c["rope_local_base_freq"] = 0; }, {"rope_local_base_freq is 0, out of range"});
  expect_config_error("gemma3", [](Json& c) { c["sliding_window_pattern"] = 0; }, {"sliding_window_pattern is 0"});
}

// Transformers v5 (Qwen2Config): layer_types[i] = "sliding_attention" when sliding_window is set
// (use_sliding_window) and i >= max_window_layers, else "full_attention".
std::vector<std::optional<int64_t>> python_qwen_windows(int64_t layers, int64_t max_window_layers, int64_t window) {
  std::vector<std::optional<int64_t>> out;
  for (int64_t i = 0; i < layers; ++i) out.push_back(i >= max_window_layers ? std::optional<int64_t>(window) : std::nullopt);
  return out;
}

TEST(ConfigHardening, QwenMaxWindowLayersFollowsTransformersForAnyValue) {
  for (const std::string arch : {"qwen2", "qwen3", "qwen3_moe"}) {
    for (int64_t mwl : {int64_t{-1000000}, int64_t{-1}, int64_t{0}, int64_t{1}, int64_t{2}, int64_t{28}}) {
      SCOPED_TRACE(arch + " max_window_layers " + std::to_string(mwl));
      Json c = golden_config(arch);
      c["use_sliding_window"] = true;
      c["sliding_window"] = 5;
      c["max_window_layers"] = mwl;
      PretrainedConfig config = PretrainedConfig::from_json(c);
      auto model = find_model(config).causal_lm(config);
      EXPECT_EQ(model->make_cache()->layer_windows(), python_qwen_windows(config.num_hidden_layers, mwl, 5));
    }
  }
}

using testing::edited_golden_copy;

void expect_load_error(const std::filesystem::path& dir, const std::vector<std::string>& needles) {
  try {
    AutoModelForCausalLM::from_pretrained(dir);
    ADD_FAILURE() << "loaded " << dir;
  } catch (const ConfigError& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(ConfigHardening, SizesAreCheckedAgainstTheCheckpointBeforeBuilding) {
  // The golden qwen2 has 2 layers, hidden 64, 4 heads of 16, vocab 256.
  expect_load_error(edited_golden_copy("cfg_layers", "qwen2", [](Json& c) { c["num_hidden_layers"] = 10000; }),
                    {"num_hidden_layers is 10000 but the checkpoint holds weights for 2 layers"});
  expect_load_error(edited_golden_copy("cfg_hidden", "qwen2", [](Json& c) { c["hidden_size"] = 4096; }),
                    {"hidden_size is 4096 but model.embed_tokens.weight is [256, 64]"});
  expect_load_error(edited_golden_copy("cfg_vocab", "qwen2", [](Json& c) { c["vocab_size"] = 1 << 20; }),
                    {"vocab_size is 1048576 but model.embed_tokens.weight is [256, 64]"});
  expect_load_error(edited_golden_copy("cfg_head_dim", "qwen2", [](Json& c) { c["head_dim"] = 4096; }),
                    {"num_attention_heads x head_dim is 4 x 4096", "q_proj"});
  expect_load_error(edited_golden_copy("cfg_gpt2_layers", "gpt2", [](Json& c) { c["n_layer"] = 9999; }),
                    {"n_layer is 9999 but the checkpoint holds weights for"});
}

TEST(ConfigHardening, FewerLayersThanTheCheckpointWarnsAndStrictRefuses) {
  auto dir = edited_golden_copy("cfg_one_layer", "qwen2", [](Json& c) { c["num_hidden_layers"] = 1; });
  ::testing::internal::CaptureStderr();
  auto model = AutoModelForCausalLM::from_pretrained(dir);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("warning: "), std::string::npos) << err;
  EXPECT_NE(err.find("model.layers.1."), std::string::npos) << err;
  EXPECT_EQ(model->config().num_hidden_layers, 1);
  try {
    AutoModelForCausalLM::from_pretrained(dir, {.strict = true});
    ADD_FAILURE() << "strict load accepted unused layer weights";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1."), std::string::npos) << e.what();
  }
  // The unmodified checkpoint uses every tensor: no warning.
  ::testing::internal::CaptureStderr();
  AutoModelForCausalLM::from_pretrained(testing::shared_path("golden/qwen2"));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace transformers
