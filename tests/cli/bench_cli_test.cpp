// `transformers bench` on a tiny model made by tools/make_tiny_model: the JSON it writes has every
// figure, each positive and finite, and the token counts asked for. No speed is asserted: the
// figures only have to be the kind of numbers a measurement gives.
#include <cmath>
#include <filesystem>

#include "common/process.h"
#include "common/test_util.h"
#include "transformers/io/json.h"

namespace transformers {
namespace {

namespace fs = std::filesystem;

fs::path tiny_model(const std::string& name, const std::string& extra = "") {
  const fs::path dir = testing::scratch_dir(name);
  auto r = testing::run_command(std::string(TCPP_BINARY_DIR) +
                                "/tools/make_tiny_model --arch llama --out " + dir.string() + " " +
                                extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

void expect_positive(const Json& j, const std::string& key) {
  ASSERT_TRUE(j.contains(key)) << key;
  ASSERT_TRUE(j[key].is_number()) << key << " = " << j[key].dump();
  const double v = j[key].get<double>();
  EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
}

Json bench_json(const fs::path& model, const std::string& flags) {
  const fs::path out = testing::scratch_dir("bench-out") / "figures.json";
  auto r = testing::run_transformers("bench " + model.string() +
                                     " --reps 1 --n-prompt 4 --n-gen 2 --quiet-wait 0 " + flags +
                                     " --json " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("median"), std::string::npos) << r.out;
  return read_json_file(out);
}

TEST(CliBench, JsonHasEveryFigureWithTheRequestedCounts) {
  const fs::path model = tiny_model("bench-tiny");
  Json j = bench_json(model, "--threads 1");
  EXPECT_EQ(j["n_prompt"], 4);
  EXPECT_EQ(j["n_gen"], 2);
  EXPECT_EQ(j["reps"], 1);
  EXPECT_EQ(j["batch"], 1);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["dtype"], "float32");
  ASSERT_EQ(j["prompt_tok_s_reps"].size(), 1u);
  ASSERT_EQ(j["gen_tok_s_reps"].size(), 1u);
  ASSERT_EQ(j["others_cores_reps"].size(), 1u);
  for (const char* key :
       {"prompt_tok_s", "gen_tok_s", "ttft_s", "load_s", "cold_ttft_s", "peak_rss_mib", "params",
        "weight_bytes", "step_weight_bytes", "decode_gb_s", "prefill_gflop_s",
        "decode_roofline_tok_s", "decode_roofline_fraction", "prefill_peak_fraction"})
    expect_positive(j, key);
  ASSERT_TRUE(j["machine"].is_object());
  expect_positive(j["machine"], "read_gb_s");
  expect_positive(j["machine"], "fma_gflop_s");
  EXPECT_NE(j["machine"]["isa"].get<std::string>(), "");
  // The tiny llama (make_tiny_model defaults: vocab 256, hidden 64, 2 layers, 4 heads of 16, 2 kv
  // heads, intermediate 128, untied head) has, per layer, q 64x64 + k 32x64 + v 32x64 + o 64x64 +
  // gate/up/down 3 x 128x64 = 36864 weights, 2 x 64 norm weights; plus embedding, head and final
  // norm: 256x64 x 2 + 64. A decode step reads everything but the embedding table, in f32.
  const int64_t per_layer = 64 * 64 * 2 + 32 * 64 * 2 + 3 * 128 * 64 + 2 * 64;
  EXPECT_EQ(j["params"], 2 * per_layer + 2 * 256 * 64 + 64);
  EXPECT_EQ(j["step_weight_bytes"], 4 * (2 * per_layer + 256 * 64 + 64));
  EXPECT_GE(j["cold_ttft_s"].get<double>(), j["load_s"].get<double>());
  // One rep: at most the default 3 tries (2 redone), and it is disturbed or not.
  EXPECT_GE(j["redone_reps"].get<int>(), 0);
  EXPECT_LE(j["redone_reps"].get<int>(), 2);
  EXPECT_LE(j["disturbed_reps"].get<int>(), 1);
  EXPECT_EQ(j["median_reps"], 1);  // the one rep, quiet or (marked) not
}

TEST(CliBench, BatchedDecodeAndBf16) {
  const fs::path model = tiny_model("bench-tiny-batch");
  Json j = bench_json(model, "--batch 3 --dtype bf16");
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["dtype"], "bfloat16");
  expect_positive(j, "gen_tok_s");
  expect_positive(j, "decode_gb_s");
}

TEST(CliBench, BadInputGivesOneLineErrors) {
  testing::expect_one_line_error(testing::run_transformers("bench"), "MODEL");
  testing::expect_one_line_error(testing::run_transformers("bench --random gpt-9"), "--random");
  const fs::path model = tiny_model("bench-tiny-bad");
  testing::expect_one_line_error(
      testing::run_transformers("bench " + model.string() + " --n-gen 0"), "--n-gen");
  testing::expect_one_line_error(
      testing::run_transformers("bench " + model.string() + " --n-prompt 100000"), "--n-prompt");
  // The figures may not overwrite the model's own files.
  testing::expect_one_line_error(testing::run_transformers("bench " + model.string() + " --json " +
                                                           (model / "config.json").string()),
                                 "--json");
  testing::expect_one_line_error(
      testing::run_transformers("bench " + model.string() + " --batch 1000 --n-prompt 1000"),
      "--batch");
  testing::expect_one_line_error(testing::run_transformers("bench " + model.string() + " --json " +
                                                           (model / "no" / "f.json").string()),
                                 "--json");
  // No missing folder is benchmarked.
  testing::expect_one_line_error(testing::run_transformers("bench " + (model / "absent").string()),
                                 "absent");
}

}  // namespace
}  // namespace transformers
