// The Trainer on a bigram model with a hand-derived gradient: the golden trace's schedule, epochs
// and target counts, logging, checkpoints that resume bit for bit, rotation, callbacks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bigram_model.h"
#include "transformers/io/files.h"
#include "transformers/training/checkpoint.h"
#include "transformers/training/trainer.h"

using namespace transformers;
using namespace transformers::training;
using transformers::training::testing::BigramModel;
namespace fs = std::filesystem;

namespace {

const std::string kGolden = std::string(TCPP_SHARED_DIR) + "/train_golden/";

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tcpp_trainer_test_" + name);
  fs::remove_all(dir);
  return dir;
}

Json read_json(const fs::path& path) { return read_json_file(path); }

// log_history without the wall-clock entries (train_runtime, ... differ between runs), keys
// sorted (a resumed run reads its first entries back from the sorted trainer_state.json).
Json without_timings(const OrderedJson& ordered) {
  Json history = Json::parse(ordered.dump());
  for (auto& entry : history)
    for (const char* key : {"train_runtime", "train_samples_per_second", "train_steps_per_second", "eval_runtime",
                            "eval_samples_per_second", "eval_steps_per_second"})
      entry.erase(key);
  return history;
}

}  // namespace

TEST(BigramModel, GradientMatchesFiniteDifferences) {
  BigramModel model(6);
  const Batch batch{Tensor::from_values(std::vector<int64_t>{1, 2, 3, 1, 4, 5}, {2, 3}),
                    Tensor::from_values(std::vector<int64_t>{1, 2, 3, -100, 4, 5}, {2, 3}), Tensor()};
  model.forward_backward(batch, 4);
  const std::vector<float> grad(model.weight_grad(), model.weight_grad() + 36);
  for (int64_t index : {1 * 6 + 2, 1 * 6 + 0, 4 * 6 + 5, 2 * 6 + 3}) {
    const float saved = model.weight()[index];
    const double h = 1e-3;
    model.weight()[index] = static_cast<float>(saved + h);
    const double up = model.evaluate(batch).first / 4;
    model.weight()[index] = static_cast<float>(saved - h);
    const double down = model.evaluate(batch).first / 4;
    model.weight()[index] = saved;
    EXPECT_NEAR(grad[index], (up - down) / (2 * h), 1e-4) << index;
  }
}

TEST(Trainer, FollowsTheGoldenScheduleCountsAndEpochs) {
  auto args = TrainingArguments::from_json_file(kGolden + "args.json");
  args.output_dir = fresh_dir("golden").string();
  const auto trace = read_json(kGolden + "trace.json");
  BigramModel model(256);
  Trainer trainer(model, args, load_dataset(kGolden + "dataset.jsonl", {}));
  const TrainOutput output = trainer.train();
  EXPECT_EQ(output.global_step, 24);
  // Every micro-batch of every step was told the step's count: 3 micro-batches x 4 rows x 23.
  ASSERT_EQ(model.seen_num_items.size(), 72u);
  for (int64_t n : model.seen_num_items) EXPECT_EQ(n, trace.at("config").at("num_items_in_batch").get<int64_t>());
  const auto& history = trainer.state().log_history;
  ASSERT_EQ(history.size(), 25u);  // 24 step logs and the final metrics
  double loss_sum = 0;
  for (size_t i = 0; i < 24; ++i) {
    const auto& step = trace.at("steps")[i];
    EXPECT_EQ(history[i]["step"], step.at("step"));
    EXPECT_EQ(history[i]["learning_rate"].get<double>(), step.at("learning_rate").get<double>()) << i;
    EXPECT_EQ(history[i]["epoch"].get<double>(), step.at("epoch").get<double>()) << i;
    EXPECT_GT(history[i]["grad_norm"].get<double>(), 0.0);
    loss_sum += history[i]["loss"].get<double>();
  }
  EXPECT_EQ(history[24]["train_loss"].get<double>(), loss_sum / 24);
  EXPECT_LT(history[23]["loss"].get<double>(), history[0]["loss"].get<double>());  // it learns
  // The first step's loss: the mean CE of the initial model over the 12 rows of step 1.
  BigramModel fresh(256);
  auto rows = load_dataset(kGolden + "dataset.jsonl", {});
  std::vector<const Example*> first_step;
  for (size_t i = 0; i < 12; ++i) first_step.push_back(&rows[i]);
  const auto [ce, targets] = fresh.evaluate(collate(first_step, 0));
  EXPECT_EQ(targets, 276);
  EXPECT_NEAR(history[0]["loss"].get<double>(), ce / 276, 1e-6 * ce / 276);
  // Files of the run.
  const Json state = read_json(fs::path(args.output_dir) / "trainer_state.json");
  EXPECT_EQ(state.at("global_step"), 24);
  EXPECT_EQ(state.at("max_steps"), 24);
  EXPECT_EQ(state.at("num_train_epochs"), 6);
  EXPECT_EQ(state.at("log_history").size(), 25u);
  EXPECT_EQ(read_json(fs::path(args.output_dir) / "training_args.json").at("warmup_steps"), 0.1);
  const std::string png = read_text_file(fs::path(args.output_dir) / "loss.png");
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_TRUE(sorted_checkpoints(args.output_dir).empty());  // save_strategy "no"
  fs::remove_all(args.output_dir);
}

namespace {

TrainingArguments resume_args(const fs::path& dir) {
  TrainingArguments args;
  args.output_dir = dir.string();
  args.max_steps = 8;
  args.per_device_train_batch_size = 3;
  args.gradient_accumulation_steps = 2;
  args.learning_rate = 0.05;
  args.warmup_steps = 2;
  args.weight_decay = 0.01;
  args.max_grad_norm = 0.5;
  args.logging_steps = 3;  // does not divide the checkpoint step: the running sum must survive
  args.save_steps = 4;
  args.eval_strategy = "steps";
  args.eval_steps = 4;
  args.train_sampling_strategy = "random";
  args.seed = 5;
  return args;
}

std::vector<Example> small_rows(size_t n, size_t length) {
  std::vector<Example> rows;
  for (size_t r = 0; r < n; ++r) {
    Example e;
    for (size_t t = 0; t < length - (r % 3); ++t) e.input_ids.push_back(static_cast<int64_t>((r * 7 + t * 3) % 11));
    e.labels = e.input_ids;
    rows.push_back(e);
  }
  return rows;
}

}  // namespace

TEST(Trainer, ResumeContinuesBitForBit) {
  const fs::path straight_dir = fresh_dir("straight"), resumed_dir = fresh_dir("resumed");
  BigramModel straight_model(11);
  Trainer straight(straight_model, resume_args(straight_dir), small_rows(17, 7), small_rows(4, 6));
  straight.train();

  // First half: stop after step 4 (the checkpoint), as a killed run would have left it.
  struct StopAfter : TrainerCallback {
    void on_step_end(const TrainingArguments&, const TrainerState& s, TrainerControl& c) override {
      c.should_training_stop = s.global_step == 4;
    }
  };
  {
    BigramModel model(11);
    Trainer half(model, resume_args(resumed_dir), small_rows(17, 7), small_rows(4, 6));
    half.add_callback(std::make_shared<StopAfter>());
    half.train();
  }
  ASSERT_TRUE(fs::is_directory(resumed_dir / "checkpoint-4"));
  BigramModel resumed_model(11, /*seed=*/99);  // different start: everything must come from the checkpoint
  auto args = resume_args(resumed_dir);
  args.resume_from_checkpoint = true;
  Trainer resumed(resumed_model, args, small_rows(17, 7), small_rows(4, 6));
  resumed.train();

  EXPECT_EQ(without_timings(resumed.state().log_history), without_timings(straight.state().log_history));
  for (int64_t i = 0; i < 121; ++i) ASSERT_EQ(resumed_model.weight()[i], straight_model.weight()[i]) << i;
  for (int64_t i = 0; i < 11; ++i) ASSERT_EQ(resumed_model.bias()[i], straight_model.bias()[i]) << i;
  // The straight run's log: loss at 3 and 6, eval at 4 and 8, final metrics.
  const auto& history = straight.state().log_history;
  ASSERT_EQ(history.size(), 5u);
  EXPECT_EQ(history[0]["step"], 3);
  EXPECT_TRUE(history[1].contains("eval_loss"));
  EXPECT_DOUBLE_EQ(history[1]["eval_perplexity"].get<double>(), std::exp(history[1]["eval_loss"].get<double>()));
  fs::remove_all(straight_dir);
  fs::remove_all(resumed_dir);
}

TEST(Trainer, CheckpointsAreCompleteAndRotated) {
  const fs::path dir = fresh_dir("rotate");
  auto args = resume_args(dir);
  args.save_steps = 2;
  args.save_total_limit = 2;
  args.eval_strategy = "no";
  BigramModel model(11);
  Trainer trainer(model, args, small_rows(17, 7));
  trainer.train();
  const auto checkpoints = sorted_checkpoints(dir);
  ASSERT_EQ(checkpoints.size(), 2u);
  EXPECT_EQ(checkpoints[0].filename(), "checkpoint-6");
  EXPECT_EQ(checkpoints[1].filename(), "checkpoint-8");
  for (const char* file : {"model.safetensors", "config.json", "optimizer.safetensors", "optimizer.json",
                           "scheduler.json", "rng_state.json", "trainer_state.json", "training_args.json",
                           "trainer_loop.json"})
    EXPECT_TRUE(fs::is_regular_file(checkpoints[1] / file)) << file;
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_FALSE(entry.path().filename().string().starts_with("tmp-")) << entry.path();
  // A half-written folder is never taken for a checkpoint.
  fs::create_directory(dir / "checkpoint-99");
  EXPECT_EQ(latest_checkpoint(dir)->filename(), "checkpoint-8");
  EXPECT_EQ(read_json(checkpoints[1] / "scheduler.json").at("last_epoch"), 8);
  fs::remove_all(dir);
}

TEST(Trainer, NanLossesAreReplacedByTheRunningAverage) {
  const fs::path dir = fresh_dir("nan");
  auto args = resume_args(dir);
  args.save_strategy = "no";
  args.eval_strategy = "no";
  args.logging_steps = 1;
  args.gradient_accumulation_steps = 1;
  args.max_steps = 3;
  BigramModel reference_model(11), model(11);
  model.nan_on_call = 1;  // the second step's loss reads NaN (its gradient is still applied)
  Trainer reference(reference_model, args, small_rows(17, 7));
  reference.train();
  Trainer trainer(model, args, small_rows(17, 7));
  trainer.train();
  const auto& history = trainer.state().log_history;
  // Step 2's running sum is 0 after step 1's log: 0 + 0 / (1 + 1 - 1) = 0.
  EXPECT_EQ(history[1]["loss"].get<double>(), 0.0);
  EXPECT_EQ(history[0]["loss"], reference.state().log_history[0]["loss"]);
  EXPECT_EQ(history[2]["loss"], reference.state().log_history[2]["loss"]);
  fs::remove_all(dir);
}
