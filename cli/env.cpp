// transformers env / transformers version
#include <thread>
#include <iostream>

#include "cli/command.h"
#include "transformers/core/thread_pool.h"
#include "transformers/ops/cpu/kernels.h"
#include "transformers/models/encoder.h"
#include "transformers/models/registry.h"

namespace transformers::cli {
namespace {

const Command kVersion{[](CLI::App& app) {
  CLI::App* sub = app.add_subcommand("version", "Print the version");
  sub->callback([] { std::cout << "transformers-cpp " << TCPP_VERSION << "\n"; });
}};

const Command kEnv{[](CLI::App& app) {
  CLI::App* sub = app.add_subcommand("env", "Print the environment: version, CPU features, threads, models");
  sub->callback([] {
    std::cout << "transformers-cpp version: " << TCPP_VERSION << "\n";
    std::cout << "compiler: " << __VERSION__ << "\n";
    std::cout << "hardware threads: " << std::thread::hardware_concurrency() << "\n";
    std::cout << "thread pool: " << ThreadPool::global().size() << " threads (TRANSFORMERS_NUM_THREADS)\n";
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    std::cout << "cpu: avx2 " << yes(__builtin_cpu_supports("avx2")) << ", fma " << yes(__builtin_cpu_supports("fma"))
              << ", f16c " << yes(__builtin_cpu_supports("f16c")) << ", avx512f "
              << yes(__builtin_cpu_supports("avx512f")) << "\n";
    std::cout << "kernels: " << cpu::kernels().name << "\n";
    std::cout << "model types:";
    for (const auto& e : model_registry()) std::cout << " " << e.model_type;
    std::cout << "\nencoder model types:";
    for (const auto& e : encoder_registry()) std::cout << " " << e.model_type;
    std::cout << "\n";
  });
}};

}  // namespace
}  // namespace transformers::cli
