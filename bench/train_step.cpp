// Training throughput of forward_backward (training/causal_lm_trainable.h): tokens per second of
// the forward, loss and backward of one micro-batch, per wall second and per second of the
// process's CPU time (all threads; the figure to compare on a shared, loaded machine), and the
// process's peak RSS. Prints figures; asserts nothing.
//   bench_train_step [--model DIR] [--batch B] [--length L] [--steps N]
// Without --model: a ~10M-parameter Llama made in memory (hidden 256, 6 layers, 8 heads / 4 KV,
// intermediate 768, vocab 8192). --model golden: ../shared/train_golden.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "transformers/models/save.h"
#include "transformers/training/causal_lm_trainable.h"

using namespace transformers;
using namespace transformers::training;

namespace {

std::unique_ptr<TrainableModel> tiny_llama(int64_t* vocab) {
  const Json c = {
      {"model_type", "llama"},    {"vocab_size", 8192},     {"hidden_size", 256},
      {"intermediate_size", 768}, {"num_hidden_layers", 6}, {"num_attention_heads", 8},
      {"num_key_value_heads", 4}, {"rms_norm_eps", 1e-6},   {"max_position_embeddings", 1024},
      {"rope_theta", 10000.0}};
  *vocab = 8192;
  return make_trainable(make_random_model(PretrainedConfig::from_json(c), 1, 0.02));
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir;
  int64_t B = 8, L = 256, steps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model")
      model_dir = argv[i + 1];
    else if (flag == "--batch")
      B = std::stoll(argv[i + 1]);
    else if (flag == "--length")
      L = std::stoll(argv[i + 1]);
    else if (flag == "--steps")
      steps = std::stoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  int64_t vocab = 0;
  std::unique_ptr<TrainableModel> model;
  if (model_dir.empty()) {
    model = tiny_llama(&vocab);
  } else {
    if (model_dir == "golden") model_dir = std::string(TCPP_SHARED_DIR) + "/train_golden";
    model = load_trainable_causal_lm(model_dir);
    vocab = PretrainedConfig::from_pretrained(model_dir).vocab_size;
  }
  int64_t parameters = 0;
  for (TrainableParameter* p : model->parameters()) parameters += p->value.numel();
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> token(1, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(B * L));
  for (auto& t : ids) t = token(rng);
  const Tensor input = Tensor::from_values(ids, {B, L});
  const Batch batch{input, input.clone(), Tensor{}};
  const int64_t n = count_shifted_targets(batch.labels);
  model->forward_backward(batch, n);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  float loss = 0;
  for (int64_t s = 0; s < steps; ++s) loss = model->forward_backward(batch, n);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;
  std::printf(
      "parameters %lld, batch %lld x %lld, %lld steps: %.0f tokens/s (%.3f s/step), %.0f tokens per "
      "CPU-second, loss %.4f, peak RSS %.0f MiB\n",
      static_cast<long long>(parameters), static_cast<long long>(B), static_cast<long long>(L),
      static_cast<long long>(steps), static_cast<double>(B * L * steps) / seconds, seconds / steps,
      static_cast<double>(B * L * steps) / cpu, loss, peak_rss_mib());
  return 0;
}
