// Loading through the converter and saving back: the MoE golden models (per-expert keys in the
// file, fused tensors in memory) against HF Transformers' outputs, save/convert round trips of
// every golden model, sharded checkpoints, and broken checkpoints that must name their keys.
#include <cstring>
#include <fstream>
#include <functional>
#include <set>

#include "common/test_util.h"
#include "transformers/generation/generate.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/models/auto.h"
#include "transformers/models/save.h"
#include "transformers/ops/ops.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;
using testing::max_abs_diff;
using testing::scratch_dir;
using testing::shared_path;

fs::path golden(const std::string& arch) { return shared_path("golden/" + arch); }

// Every tensor of two checkpoints: same names, dtypes, shapes and bytes.
void expect_same_tensors(const fs::path& a, const fs::path& b) {
  auto ca = SafetensorsCheckpoint::open(a), cb = SafetensorsCheckpoint::open(b);
  ASSERT_EQ(ca.names(), cb.names());
  for (const auto& n : ca.names()) {
    Tensor ta = ca.tensor(n), tb = cb.tensor(n);
    ASSERT_EQ(ta.dtype(), tb.dtype()) << n;
    ASSERT_EQ(ta.shape(), tb.shape()) << n;
    EXPECT_EQ(std::memcmp(ta.raw_data(), tb.raw_data(), ta.nbytes()), 0) << n;
  }
}

Tensor logits_of(const fs::path& dir, const fs::path& golden_dir) {
  auto model = AutoModelForCausalLM::from_pretrained(dir);
  return model->forward(load_npy(golden_dir / "input_ids.npy")).logits;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class MoEGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(MoEGolden, PerExpertCheckpointLoadsFusedAndMatchesTransformers) {
  const fs::path dir = golden(GetParam());
  LoadReport report;
  auto model = AutoModelForCausalLM::from_pretrained(dir, {}, &report);
  // Fused in memory: one [E, 2I, H] tensor per layer, made by the converter.
  bool fused = false;
  for (const auto& p : model->named_parameters())
    if (p.name == "model.layers.0.mlp.experts.gate_up_proj") fused = p.tensor->dim() == 3 && p.tensor->size(0) == 4;
  EXPECT_TRUE(fused);
  EXPECT_FALSE(report.conversions.empty());
  EXPECT_TRUE(report.unexpected.empty()) << report.to_string();
  Tensor ids = load_npy(dir / "input_ids.npy");
  CausalLMOutput out = model->forward(ids, {.output_hidden_states = true});
  const float diff = max_abs_diff(out.logits, load_npy(dir / "logits.npy"));
  EXPECT_LE(diff, 1e-4f);
  std::printf("[ %s ] max |logits - HF| = %.3g\n", GetParam().c_str(), diff);
  Tensor hs = load_npy(dir / "hidden_states.npy");
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), hs.size(0));
  for (int64_t i = 0; i < hs.size(0); ++i) EXPECT_LE(max_abs_diff(out.hidden_states[i], hs.select(0, i)), 1e-4f) << i;

  Json gen = read_json_file(dir / "generate.json");
  GenerationConfig cfg = model->generation_config;
  cfg.max_new_tokens = gen["max_new_tokens"].get<int64_t>();
  cfg.eos_token_ids.clear();
  const auto expected = gen["output_ids"].get<std::vector<std::vector<int64_t>>>();
  Tensor step_logits = load_npy(dir / "greedy_step_logits.npy");
  for (bool use_cache : {true, false}) {
    GenerateOutput g = generate(*model, ids, cfg, {.use_cache = use_cache, .output_scores = true});
    EXPECT_EQ(g.sequences, expected) << (use_cache ? "with" : "without") << " cache";
    ASSERT_EQ(static_cast<int64_t>(g.scores.size()), step_logits.size(0));
    for (int64_t s = 0; s < step_logits.size(0); ++s) EXPECT_LE(max_abs_diff(g.scores[s], step_logits.select(0, s)), 1e-4f);
  }
}

TEST_P(MoEGolden, FusedLayoutSavesAndLoadsOneToOne) {
  const fs::path dir = golden(GetParam());
  const fs::path out = scratch_dir("fused-" + GetParam());
  LoadReport report;
  auto model = AutoModelForCausalLM::from_pretrained(dir, {}, &report);
  save_pretrained(*model, out, {.save_original_format = false});
  auto ck = SafetensorsCheckpoint::open(out);
  EXPECT_TRUE(ck.contains("model.layers.1.mlp.experts.down_proj"));
  EXPECT_FALSE(ck.contains("model.layers.1.mlp.experts.0.down_proj.weight"));
  LoadReport again;
  auto reloaded = AutoModelForCausalLM::from_pretrained(out, {}, &again);
  EXPECT_TRUE(again.conversions.empty());  // nothing to convert: the file has the model's layout
  Tensor ids = load_npy(dir / "input_ids.npy");
  EXPECT_EQ(max_abs_diff(reloaded->forward(ids).logits, model->forward(ids).logits), 0.0f);
  // And from the fused file, the original layout comes back (the table's rules, reversed).
  const fs::path original = scratch_dir("unfused-" + GetParam());
  save_pretrained(*reloaded, original, {});
  expect_same_tensors(original, dir);
}

INSTANTIATE_TEST_SUITE_P(Golden, MoEGolden, ::testing::Values("mixtral", "qwen3_moe"));

class RoundTrip : public ::testing::TestWithParam<std::string> {};

// What `transformers convert SRC DST` does: load, then save with the conversions that fired.
fs::path convert(const fs::path& src, const std::string& name, const std::string& dtype, uint64_t shard = 50'000'000'000ull) {
  const fs::path dst = scratch_dir(name);
  LoadReport report;
  auto model = AutoModelForCausalLM::from_pretrained(src, {.dtype = dtype}, &report);
  SaveOptions o;
  o.conversions = report.conversions;
  o.max_shard_size = shard;
  save_pretrained(*model, dst, o);
  return dst;
}

TEST_P(RoundTrip, ConvertWritesTheSameTensors) {
  const fs::path src = golden(GetParam());
  expect_same_tensors(convert(src, "rt-" + GetParam(), "auto"), src);
}

TEST_P(RoundTrip, Bf16AndBackOnlyRounds) {
  const fs::path src = golden(GetParam());
  const fs::path bf16 = convert(src, "rt-bf16-" + GetParam(), "bfloat16");
  const fs::path back = convert(bf16, "rt-f32-" + GetParam(), "float32");
  auto orig = SafetensorsCheckpoint::open(src), mid = SafetensorsCheckpoint::open(bf16),
       out = SafetensorsCheckpoint::open(back);
  ASSERT_EQ(out.names(), orig.names());
  for (const auto& n : orig.names()) {
    EXPECT_EQ(mid.entry(n).dtype, DType::BF16) << n;
    Tensor expected = ops::cast(ops::cast(orig.tensor(n), DType::BF16), DType::F32);
    Tensor got = out.tensor(n);
    ASSERT_EQ(got.dtype(), DType::F32) << n;
    EXPECT_EQ(max_abs_diff(got, expected), 0.0f) << n;
    EXPECT_GT(max_abs_diff(got, orig.tensor(n)), 0.0f) << n << " (bf16 must have rounded something)";
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, RoundTrip,
                         ::testing::Values("llama", "llama3", "mistral", "qwen2", "qwen3", "mixtral", "qwen3_moe",
                                           "gemma2", "gemma3", "phi3", "gpt2"));

TEST(ShardedCheckpoint, ThreeShardsLoadIdentically) {
  const fs::path src = golden("mixtral");
  // ~1/3 of the file per shard.
  const uint64_t size = fs::file_size(src / "model.safetensors");
  const fs::path sharded = convert(src, "sharded-mixtral", "auto", size / 3 + 1);
  Json index = read_json_file(sharded / "model.safetensors.index.json");
  std::set<std::string> files;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) files.insert(it.value());
  EXPECT_GE(files.size(), 3u);
  EXPECT_TRUE(files.count("model-00001-of-0000" + std::to_string(files.size()) + ".safetensors"));
  EXPECT_FALSE(fs::exists(sharded / "model.safetensors"));
  expect_same_tensors(sharded, src);
  EXPECT_EQ(max_abs_diff(logits_of(sharded, src), logits_of(src, src)), 0.0f);
}

TEST(BrokenCheckpoint, ErrorsNameTheKeys) {
  const fs::path src = golden("mixtral");
  const uint64_t size = fs::file_size(src / "model.safetensors");
  const fs::path dir = convert(src, "broken-shards", "auto", size / 3 + 1);
  const fs::path index_path = dir / "model.safetensors.index.json";
  const Json index = read_json_file(index_path);
  auto write_index = [&](const Json& j) { std::ofstream(index_path) << j.dump(); };

  // An index naming a shard that is not there.
  Json missing_shard = index;
  missing_shard["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
  write_index(missing_shard);
  std::string msg = error_of([&] { AutoModelForCausalLM::from_pretrained(dir); });
  EXPECT_NE(msg.find("model-00009-of-00009.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;

  // A tensor stored in two shards.
  write_index(index);
  const std::string first = index["weight_map"]["model.embed_tokens.weight"];
  std::string other;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it)
    if (it.value() != first) other = it.value();
  {
    auto ck = SafetensorsFile::open(dir / other);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& n : ck->names()) tensors.emplace_back(n, ck->tensor(n).clone());
    tensors.emplace_back("model.embed_tokens.weight", Tensor::zeros({256, 64}, DType::F32));
    ck.reset();
    save_safetensors(dir / other, tensors);
  }
  msg = error_of([&] { AutoModelForCausalLM::from_pretrained(dir); });
  EXPECT_NE(msg.find("model.embed_tokens.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("two shards"), std::string::npos) << msg;

  // An expert missing: the converter cannot build gate_up_proj and says which key it lacks.
  const fs::path one = scratch_dir("broken-expert");
  {
    auto ck = SafetensorsCheckpoint::open(src);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& n : ck.names())
      if (n != "model.layers.1.block_sparse_moe.experts.2.w3.weight") tensors.emplace_back(n, ck.tensor(n));
    save_safetensors(one / "model.safetensors", tensors);
    fs::copy_file(src / "config.json", one / "config.json");
  }
  msg = error_of([&] { AutoModelForCausalLM::from_pretrained(one); });
  EXPECT_NE(msg.find("model.layers.1.block_sparse_moe.experts.2.w3.weight"), std::string::npos) << msg;
}

TEST(LoadReport, StrictModeFailsOnUnexpectedKeysDefaultReportsThem) {
  const fs::path src = golden("qwen3_moe");
  const fs::path dir = scratch_dir("unexpected-key");
  {
    auto ck = SafetensorsCheckpoint::open(src);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& n : ck.names()) tensors.emplace_back(n, ck.tensor(n));
    tensors.emplace_back("model.layers.0.mlp.extra_bias", Tensor::zeros({4}, DType::F32));
    save_safetensors(dir / "model.safetensors", tensors);
    fs::copy_file(src / "config.json", dir / "config.json");
  }
  LoadReport report;
  AutoModelForCausalLM::from_pretrained(dir, {}, &report);
  EXPECT_EQ(report.unexpected, std::vector<std::string>{"model.layers.0.mlp.extra_bias"});
  EXPECT_NE(report.to_string().find("UNEXPECTED  model.layers.0.mlp.extra_bias"), std::string::npos);
  EXPECT_NE(report.to_string().find("MergeModulelist"), std::string::npos) << report.to_string();
  const std::string msg = error_of([&] { AutoModelForCausalLM::from_pretrained(dir, {.strict = true}); });
  EXPECT_NE(msg.find("model.layers.0.mlp.extra_bias"), std::string::npos) << msg;
}

// A copy of a golden model whose tensor names pass through `rename`.
fs::path renamed_copy(const std::string& arch, const std::string& name,
                      const std::function<std::string(const std::string&)>& rename) {
  const fs::path src = golden(arch), dir = scratch_dir(name);
  auto ck = SafetensorsCheckpoint::open(src);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& n : ck.names()) tensors.emplace_back(rename(n), ck.tensor(n));
  save_safetensors(dir / "model.safetensors", tensors);
  fs::copy_file(src / "config.json", dir / "config.json");
  return dir;
}

TEST(KeyMatching, UserKeyMappingRenamesBeforeTheTables) {
  // Keys under "decoder." instead of "model.", mapped back by the user's key_mapping.
  const fs::path dir = renamed_copy("mixtral", "key-mapping", [](const std::string& n) {
    return n.rfind("model.", 0) == 0 ? "decoder." + n.substr(6) : n;
  });
  EXPECT_NE(error_of([&] { AutoModelForCausalLM::from_pretrained(dir); }).find("missing weights"), std::string::npos);
  auto model = AutoModelForCausalLM::from_pretrained(dir, {.key_mapping = {{"^decoder\\.", "model."}}});
  Tensor ids = load_npy(golden("mixtral") / "input_ids.npy");
  EXPECT_EQ(max_abs_diff(model->forward(ids).logits, logits_of(golden("mixtral"), golden("mixtral"))), 0.0f);
}

TEST(KeyMatching, BaseModelWeightsLoadIntoTheCausalLM) {
  // An XModel checkpoint (no "model." prefix) loads into XForCausalLM; llama3 ties its head.
  const fs::path dir = renamed_copy("llama3", "base-model-keys", [](const std::string& n) {
    return n.rfind("model.", 0) == 0 ? n.substr(6) : n;
  });
  LoadReport report;
  auto model = AutoModelForCausalLM::from_pretrained(dir, {.strict = true}, &report);
  EXPECT_TRUE(report.unexpected.empty());
  Tensor ids = load_npy(golden("llama3") / "input_ids.npy");
  EXPECT_LE(max_abs_diff(model->forward(ids).logits, load_npy(golden("llama3") / "logits.npy")), 1e-4f);
}

}  // namespace
}  // namespace transformers
