// TrainingArguments against v5's names and defaults and ../shared/train_golden/args.json.
#include <gtest/gtest.h>

#include <filesystem>

#include "error_text.h"
#include "transformers/training/training_arguments.h"

using namespace transformers;
using namespace transformers::training;
using transformers::training::testing::error_of;


TEST(TrainingArguments, DefaultsAreV5s) {
  const TrainingArguments args;
  EXPECT_EQ(args.output_dir, "trainer_output");
  EXPECT_EQ(args.per_device_train_batch_size, 8);
  EXPECT_EQ(args.learning_rate, 5e-5);
  EXPECT_EQ(args.num_train_epochs, 3.0);
  EXPECT_EQ(args.max_steps, -1);
  EXPECT_EQ(args.lr_scheduler_type, "linear");
  EXPECT_EQ(args.optim, "adamw_torch_fused");
  EXPECT_EQ(args.logging_steps, 500);
  EXPECT_TRUE(args.average_tokens_across_devices);
  EXPECT_EQ(args.train_sampling_strategy, "random");
  EXPECT_EQ(args.max_grad_norm, 1.0);
  EXPECT_NO_THROW(args.validate());
}

TEST(TrainingArguments, ReadsTheGoldenArgsJson) {
  const auto args = TrainingArguments::from_json_file(std::string(TCPP_SHARED_DIR) + "/train_golden/args.json");
  EXPECT_EQ(args.max_steps, 24);
  EXPECT_EQ(args.gradient_accumulation_steps, 3);
  EXPECT_EQ(args.learning_rate, 0.002);
  EXPECT_EQ(args.warmup_steps, 0.1);
  EXPECT_EQ(args.lr_scheduler_type, "cosine");
  EXPECT_EQ(args.train_sampling_strategy, "sequential");
  EXPECT_EQ(args.save_strategy, "no");
  EXPECT_NO_THROW(args.validate());
  EXPECT_EQ(args.resolved_warmup_steps(24), 3);  // ceil(24 * 0.1)
}

TEST(TrainingArguments, WarmupStepsAreCountsOrRatios) {
  TrainingArguments args;
  args.warmup_steps = 5.7;
  EXPECT_EQ(args.resolved_warmup_steps(100), 5);  // >= 1: truncated step count
  args.warmup_steps = 0.25;
  EXPECT_EQ(args.resolved_warmup_steps(10), 3);  // ceil(2.5)
  args.warmup_steps = 0;
  EXPECT_EQ(args.resolved_warmup_steps(10), 0);
  EXPECT_EQ(TrainingArguments::resolve_interval(0.1, 24), 3);
  EXPECT_EQ(TrainingArguments::resolve_interval(7, 24), 7);
}

TEST(TrainingArguments, CommandLineWords) {
  TrainingArguments args;
  args.apply_command_line({"learning_rate=1e-3", "--max_steps", "10", "--logging-first-step", "--seed=3",
                           "--lr_scheduler_kwargs", "{\"num_cycles\": 2}", "--resume_from_checkpoint", "true",
                           "--save_total_limit", "None", "--bf16", "false"});
  EXPECT_EQ(args.learning_rate, 1e-3);
  EXPECT_EQ(args.max_steps, 10);
  EXPECT_TRUE(args.logging_first_step);
  EXPECT_EQ(args.seed, 3);
  EXPECT_EQ(args.lr_scheduler_kwargs.at("num_cycles"), 2);
  EXPECT_EQ(args.resume_from_checkpoint, true);
  EXPECT_FALSE(args.save_total_limit);
  EXPECT_FALSE(args.bf16);
  EXPECT_NE(error_of([&] { args.apply_command_line({"--max_steps", "ten"}); }).find("--max_steps"), std::string::npos);
  EXPECT_NE(error_of([&] { args.apply_command_line({"--max_steps"}); }).find("missing value"), std::string::npos);
  EXPECT_NE(error_of([&] { args.apply_command_line({"stray"}); }).find("stray"), std::string::npos);
}

TEST(TrainingArguments, UnknownAndRemovedKeysAreNamed) {
  EXPECT_NE(error_of([] { TrainingArguments::from_json({{"learning_rte", 1}}, "a.json"); }).find("'learning_rte'"),
            std::string::npos);
  const std::string ratio = error_of([] { TrainingArguments::from_json({{"warmup_ratio", 0.1}}, "a.json"); });
  EXPECT_NE(ratio.find("warmup_ratio"), std::string::npos);
  EXPECT_NE(ratio.find("warmup_steps"), std::string::npos);
  EXPECT_NE(error_of([] { TrainingArguments().set("evaluation_strategy", "steps"); }).find("eval_strategy"),
            std::string::npos);
  EXPECT_NE(error_of([] { TrainingArguments().set("no_cuda", "true"); }).find("use_cpu"), std::string::npos);
  EXPECT_NE(error_of([] { TrainingArguments().set("per_gpu_train_batch_size", "2"); })
                .find("per_device_train_batch_size"),
            std::string::npos);
  EXPECT_NE(error_of([] { TrainingArguments().set("group_by_length", "true"); }).find("train_sampling_strategy"),
            std::string::npos);
  EXPECT_NE(error_of([] { TrainingArguments::from_json({{"max_steps", "x"}}, "a.json"); }).find("max_steps"),
            std::string::npos);
}

TEST(TrainingArguments, RefusesWhatCannotRunHere) {
  TrainingArguments args;
  args.fp16 = true;
  EXPECT_NE(error_of([&] { args.validate(); }).find("fp16"), std::string::npos);
  args = {};
  args.label_smoothing_factor = 0.1;
  EXPECT_NE(error_of([&] { args.validate(); }).find("label_smoothing_factor"), std::string::npos);
  args = {};
  args.optim = "adafactor";
  EXPECT_NE(error_of([&] { args.validate(); }).find("adafactor"), std::string::npos);
  args = {};
  args.report_to = "wandb";
  EXPECT_NE(error_of([&] { args.validate(); }).find("report_to"), std::string::npos);
}

TEST(TrainingArguments, WritesAndReadsBack) {
  TrainingArguments args;
  args.max_steps = 7;
  args.eval_steps = 0.5;
  args.save_total_limit = 2;
  const auto path = std::filesystem::temp_directory_path() / "tcpp_training_args_test.json";
  args.save(path);
  const auto back = TrainingArguments::from_json_file(path);
  EXPECT_EQ(back.to_json(), args.to_json());
  EXPECT_EQ(back.max_steps, 7);
  EXPECT_EQ(*back.eval_steps, 0.5);
  std::filesystem::remove(path);
}
