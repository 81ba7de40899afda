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
    std::cout << "kernel tiers this cpu runs:";
    for (cpu::Isa isa : cpu::supported_isas()) std::cout << " " << cpu::isa_name(isa);
    std::cout << " (avx512_bf16 " << (cpu::cpu_has_avx512_bf16() ? "yes" : "no") << ", avx512_vnni "
              << (cpu::cpu_has_avx512_vnni() ? "yes" : "no") << ")\n";
    const char* chosen = cpu::kernels().name;  // may throw for a bad TRANSFORMERS_ISA: before printing the line
    std::cout << "kernels: " << chosen << " (TRANSFORMERS_ISA=scalar|avx2|avx512 forces a tier)\n";
    std::cout << "model types:";
    for (const auto& e : model_registry()) std::cout << " " << e.model_type;
    std::cout << "\nencoder model types:";
    for (const auto& e : encoder_registry()) std::cout << " " << e.model_type;
    std::cout << "\n";
  });
}};

}  // namespace
}  // namespace transformers::cli
