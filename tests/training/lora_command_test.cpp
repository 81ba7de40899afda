// LoRA as a user runs it with the real binary, on the golden tiny Llama of ../shared/train_golden:
// `transformers train --lora` lowers the loss and writes PEFT's adapter layout (file names, key
// names, adapter_config.json fields as PEFT's LoraConfig saves them); `transformers merge-adapter`
// gives a model whose logits equal the base with the adapter applied at run time (`forward
// --adapter`) within 1e-5, and whose greedy continuation equals `generate --adapter`; a LoRA run
// resumed from its checkpoint continues exactly like the uninterrupted one.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/process.h"
#include "common/test_util.h"
#include "training/golden_run.h"
#include "transformers/io/json.h"
#include "transformers/io/npy.h"
#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

namespace transformers::testing {
namespace {

const std::string kIds = "1,167,176,185,194,203,236,221,230,239,248,4,13,215,31";

std::string lora_train(const std::filesystem::path& out, const std::string& extra = "",
                       const std::string& spec = "r=4,alpha=8,target=q_proj,v_proj") {
  return golden_command(out, "--lora " + spec + " learning_rate=0.01 --quiet " + extra);
}

Tensor forward_logits(const std::string& model, const std::filesystem::path& out, const std::string& extra = "") {
  const auto r = run_transformers("forward " + model + " --input-ids " + kIds + " --out " + out.string() + " -q " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return load_npy(out);
}

std::string greedy(const std::string& model, const std::string& extra = "") {
  const auto r = run_transformers("generate " + model + " --input-ids " + kIds + " --max-new-tokens 12 --greedy -q " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

}  // namespace

TEST(LoraCommand, TrainsSavesPeftLayoutAndMergedLogitsEqualTheRunTimeAdapter) {
  const auto dir = scratch_dir("lora_command");
  const auto run = dir / "run";
  const auto trained = run_transformers(lora_train(run));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::vector<Json> logs = step_logs(run);
  ASSERT_EQ(logs.size(), 24u);
  EXPECT_LT(logs.back()["loss"].get<double>(), logs.front()["loss"].get<double>() - 0.03);

  // PEFT's layout: the adapter only (no base weights), under PEFT's file and key names.
  EXPECT_FALSE(std::filesystem::exists(run / "model.safetensors"));
  const auto file = SafetensorsFile::open(run / "adapter_model.safetensors");
  std::set<std::string> want;
  for (const char* layer : {"0", "1"})
    for (const char* proj : {"q_proj", "v_proj"})
      for (const char* factor : {"lora_A", "lora_B"})
        want.insert(std::string("base_model.model.model.layers.") + layer + ".self_attn." + proj + "." + factor + ".weight");
  const auto names = file->names();
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);
  EXPECT_EQ(file->tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape(), (Shape{4, 64}));
  const Json config = read_json_file(run / "adapter_config.json");
  EXPECT_EQ(config.at("peft_type"), "LORA");
  EXPECT_EQ(config.at("task_type"), "CAUSAL_LM");
  EXPECT_EQ(config.at("r"), 4);
  EXPECT_TRUE(config.at("lora_alpha").is_number_integer()) << "PEFT writes an int alpha as an int";
  EXPECT_EQ(config.at("lora_alpha"), 8);
  EXPECT_EQ(config.at("lora_dropout"), 0.0);
  EXPECT_EQ(config.at("target_modules"), Json::array({"q_proj", "v_proj"}));
  EXPECT_EQ(config.at("bias"), "none");
  EXPECT_EQ(config.at("fan_in_fan_out"), false);
  EXPECT_EQ(config.at("use_rslora"), false);
  EXPECT_EQ(config.at("use_dora"), false);
  EXPECT_EQ(config.at("inference_mode"), true);
  EXPECT_TRUE(config.at("modules_to_save").is_null());
  EXPECT_TRUE(config.at("rank_pattern").is_object() && config.at("rank_pattern").empty());
  EXPECT_EQ(config.at("base_model_name_or_path"), shared_path("train_golden").string());

  // Merged model = base + adapter at run time.
  const auto merged = dir / "merged";
  const auto merge = run_transformers("merge-adapter --model " + shared_path("train_golden").string() + " --adapter " +
                                      run.string() + " --output " + merged.string() + " -q");
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  for (const char* name : {"config.json", "generation_config.json", "model.safetensors"})
    EXPECT_TRUE(std::filesystem::exists(merged / name)) << name;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find("tmp"), std::string::npos) << entry.path();
  const Tensor base = forward_logits(shared_path("train_golden").string(), dir / "base.npy");
  const Tensor adapted = forward_logits(shared_path("train_golden").string(), dir / "adapted.npy", "--adapter " + run.string());
  const Tensor merged_logits = forward_logits(merged.string(), dir / "merged.npy");
  const float scale = std::max(1.0f, max_abs(adapted));
  EXPECT_LE(max_abs_diff(merged_logits, adapted), 1e-5f * scale);
  EXPECT_GT(max_abs_diff(base, adapted), 1e-3f) << "the adapter changed nothing";
  EXPECT_EQ(greedy(merged.string()), greedy(shared_path("train_golden").string(), "--adapter " + run.string()));
}

// With lora_dropout: the masks are a function of (seed, step, micro-batch), so the resumed run
// draws the ones the uninterrupted run drew.
TEST(LoraCommand, ResumedRunContinuesExactly) {
  const std::string every_12 = "save_strategy=steps save_steps=12", spec = "r=4,alpha=8,dropout=0.1,target=q_proj,v_proj";
  const auto straight = scratch_dir("lora_straight"), resumed = scratch_dir("lora_resumed");
  ASSERT_EQ(run_transformers(lora_train(straight, every_12, spec)).exit_code, 0);
  // The second run starts from the first one's step-12 checkpoint, as if it had stopped there.
  std::filesystem::copy(straight / "checkpoint-12", resumed / "checkpoint-12", std::filesystem::copy_options::recursive);
  const auto r = run_transformers(lora_train(resumed, every_12 + " resume_from_checkpoint=true", spec));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Json> a = step_logs(straight), b = step_logs(resumed);
  ASSERT_EQ(a.size(), 24u);
  ASSERT_EQ(b.size(), 24u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(a[i]["grad_norm"], b[i]["grad_norm"]) << "step " << i + 1;
  }
  EXPECT_EQ(read_json_file(straight / "adapter_config.json").at("lora_dropout"), 0.1);
  const auto x = SafetensorsFile::open(straight / "adapter_model.safetensors");
  const auto y = SafetensorsFile::open(resumed / "adapter_model.safetensors");
  ASSERT_EQ(x->names(), y->names());
  for (const auto& name : x->names())
    EXPECT_EQ(ops::to_float_vector(x->tensor(name)), ops::to_float_vector(y->tensor(name))) << name;
}

// QLoRA from the command line: the base quantized to Q4_0 blocks while loading, frozen; the f32
// adapters still lower the loss.
TEST(LoraCommand, TrainsOnAQuantizedBase) {
  const auto out = scratch_dir("lora_q4_0");
  const auto r = run_transformers(lora_train(out, "--quantization q4_0"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Json> logs = step_logs(out);
  ASSERT_EQ(logs.size(), 24u);
  EXPECT_LT(logs.back()["loss"].get<double>(), logs.front()["loss"].get<double>() - 0.03);
  EXPECT_TRUE(std::filesystem::exists(out / "adapter_model.safetensors"));
}

TEST(LoraCommand, BadAdapterArgumentsAreOneLineErrors) {
  const std::string model = shared_path("train_golden").string();
  const auto empty = scratch_dir("lora_not_an_adapter");
  expect_one_line_error(run_transformers("generate " + model + " --input-ids 1,2 --adapter " + empty.string()),
                        "adapter_config.json");
  expect_one_line_error(
      run_transformers("forward " + model + " --input-ids 1,2 --out " + (empty / "x.npy").string() + " --adapter " + empty.string()),
      "adapter_config.json");
  expect_one_line_error(
      run_transformers("merge-adapter --model " + model + " --adapter " + empty.string() + " --output " + model),
      "overlaps --model");
  expect_one_line_error(run_transformers("train --model " + model + " --data " + shared_path("train_golden/dataset.jsonl").string() +
                                         " --quantization q8_0 output_dir=" + empty.string()),
                        "--quantization needs --lora");
  expect_one_line_error(run_transformers("train --model " + model + " --data " + shared_path("train_golden/dataset.jsonl").string() +
                                         " --threads abc output_dir=" + empty.string()),
                        "--threads expects an integer, got 'abc'");
}

}  // namespace transformers::testing
