// `transformers train` as a user runs it, against PyTorch: the golden run of
// ../shared/train_golden (a tiny Llama, v5 TrainingArguments, the per-step loss / grad norm /
// learning rate of a v5 Trainer run and its final weights), and a run killed with SIGKILL while
// it writes a checkpoint, then resumed, against the uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "common/process.h"
#include "training/golden_run.h"
#include "common/test_util.h"
#include "transformers/io/safetensors.h"
#include "transformers/ops/ops.h"

namespace transformers::testing {
namespace {

double relative(double a, double b) { return b == 0 ? std::fabs(a) : std::fabs(a - b) / std::fabs(b); }

}  // namespace

TEST(TrainCommand, ReproducesThePyTorchTrace) {
  const auto out = scratch_dir("train_golden_run");
  const auto r = run_transformers(golden_command(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Json trace = read_json_file(shared_path("train_golden/trace.json"));
  const std::vector<Json> logs = step_logs(out);
  ASSERT_EQ(logs.size(), trace["steps"].size());
  for (size_t i = 0; i < logs.size(); ++i) {
    const Json& want = trace["steps"][i];
    EXPECT_LT(relative(logs[i]["loss"], want["loss"]), 1e-5) << "step " << i + 1;
    EXPECT_LT(relative(logs[i]["grad_norm"], want["grad_norm"]), 1e-5) << "step " << i + 1;
    EXPECT_LT(relative(logs[i]["learning_rate"], want["learning_rate"]), 1e-9) << "step " << i + 1;
    EXPECT_DOUBLE_EQ(logs[i]["epoch"].get<double>(), want["epoch"].get<double>()) << "step " << i + 1;
  }
  const auto ours = SafetensorsCheckpoint::open(out), torch = SafetensorsCheckpoint::open(shared_path("train_golden/final.safetensors"));
  EXPECT_EQ(ours.names(), torch.names());
  for (const auto& name : torch.names())
    EXPECT_LT(max_abs_diff(ours.tensor(name), torch.tensor(name)), 1e-5f) << name;
}

TEST(TrainCommand, KilledDuringACheckpointSaveResumesExactly) {
  const std::string every_2_steps = "save_strategy=steps save_steps=2 save_total_limit=3";
  const auto straight = scratch_dir("train_straight");
  ASSERT_EQ(run_transformers(golden_command(straight, every_2_steps)).exit_code, 0);

  // The interrupted run: a child `transformers train`, killed the moment it creates the
  // temporary folder of its third checkpoint (step 6), i.e. in the middle of writing it.
  const auto killed = scratch_dir("train_killed");
  bool killed_mid_save = false;
  for (int attempt = 0; attempt < 5 && !killed_mid_save; ++attempt) {
    std::filesystem::remove_all(killed);
    std::filesystem::create_directories(killed);
    const int watch = inotify_init1(IN_CLOEXEC);
    ASSERT_GE(inotify_add_watch(watch, killed.c_str(), IN_CREATE), 0);
    const pid_t child = fork();
    if (child == 0) {
      const std::string command = std::string(TCPP_BINARY_DIR) + "/cli/transformers " +
                                  golden_command(killed, every_2_steps) + " >/dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), nullptr);
      _exit(127);
    }
    alignas(inotify_event) char buffer[4096];
    bool done = false;
    while (!done) {
      const ssize_t n = read(watch, buffer, sizeof buffer);
      ASSERT_GT(n, 0);
      for (char* p = buffer; p < buffer + n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(p);
        if (event->len && std::string(event->name).find("checkpoint-6") != std::string::npos) {
          kill(child, SIGKILL);
          done = true;
          break;
        }
        p += sizeof(inotify_event) + event->len;
      }
    }
    int status = 0;
    waitpid(child, &status, 0);
    close(watch);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it was killed";
    killed_mid_save = !std::filesystem::exists(killed / "checkpoint-6");
  }
  ASSERT_TRUE(killed_mid_save) << "checkpoint-6 was complete in every attempt";
  ASSERT_TRUE(std::filesystem::exists(killed / "checkpoint-4"));

  // Resuming from the latest complete checkpoint (4) gives the uninterrupted run, exactly.
  const auto resumed = run_transformers(golden_command(killed, every_2_steps + " resume_from_checkpoint=true"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const std::vector<Json> a = step_logs(straight), b = step_logs(killed);
  ASSERT_EQ(a.size(), 24u);
  ASSERT_EQ(b.size(), 24u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "step " << i + 1;
    EXPECT_EQ(a[i]["grad_norm"], b[i]["grad_norm"]) << "step " << i + 1;
    EXPECT_EQ(a[i]["learning_rate"], b[i]["learning_rate"]) << "step " << i + 1;
  }
  const auto x = SafetensorsCheckpoint::open(straight), y = SafetensorsCheckpoint::open(killed);
  for (const auto& name : x.names())
    EXPECT_EQ(ops::to_float_vector(x.tensor(name)), ops::to_float_vector(y.tensor(name))) << name;
  // No temporary folder is left behind, and the rotation kept the newest three.
  for (const auto& entry : std::filesystem::directory_iterator(killed))
    EXPECT_EQ(entry.path().filename().string().find("tmp"), std::string::npos) << entry.path();
  EXPECT_TRUE(std::filesystem::exists(killed / "checkpoint-24"));
  EXPECT_FALSE(std::filesystem::exists(killed / "checkpoint-18"));
}

}  // namespace transformers::testing

namespace transformers::testing {

TEST(TrainCommand, MixtureOfExpertsLossFalls) {
  // The golden Mixtral (router, top-2 of 4 experts) fitted to four fixed token rows: every
  // parameter, the router's included, trains through the real binary and the loss falls.
  const auto out = scratch_dir("train_mixtral_run");
  const auto data = out / "rows.jsonl";
  {
    std::ofstream rows(data);
    for (int r = 0; r < 4; ++r) {
      rows << "{\"input_ids\": [1";
      for (int i = 1; i < 16; ++i) rows << ", " << 3 + (r * 37 + i * i * 11) % 250;
      rows << "]}\n";
    }
  }
  const auto r = run_transformers("train --model " + shared_path("golden/mixtral").string() + " --data " +
                                  data.string() + " output_dir=" + (out / "run").string() +
                                  " max_steps=10 per_device_train_batch_size=4 learning_rate=0.005 logging_steps=1"
                                  " save_strategy=no report_to=none use_cpu=true seed=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<Json> logs = step_logs(out / "run");
  ASSERT_EQ(logs.size(), 10u);
  for (const Json& log : logs) EXPECT_GT(log["grad_norm"].get<double>(), 0.0);
  const double first = logs.front()["loss"], last = logs.back()["loss"];
  EXPECT_LT(last, 0.8 * first) << "first " << first << ", last " << last;
  // Saved in the checkpoint's layout (per-expert tensors), with the routers trained too.
  const auto trained = SafetensorsCheckpoint::open(out / "run"),
             golden = SafetensorsCheckpoint::open(shared_path("golden/mixtral"));
  EXPECT_EQ(trained.names(), golden.names());
  for (const char* router : {"model.layers.0.block_sparse_moe.gate.weight", "model.layers.1.block_sparse_moe.gate.weight"})
    EXPECT_GT(max_abs_diff(trained.tensor(router), golden.tensor(router)), 1e-4f) << router;
}

}  // namespace transformers::testing
