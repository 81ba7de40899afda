// The `transformers` command: one subcommand per file in cli/.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/command.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "transformers/core/storage.h"
#include "transformers/core/thread_pool.h"
#include "transformers/core/error.h"

namespace transformers::cli {
std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}
}  // namespace transformers::cli

namespace {
// Every failure is one line on stderr: a message with line breaks (a template error quoting its
// source) is folded onto it.
void print_error(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "error: %s\n", message.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  transformers::keep_freed_memory_for_reuse();  // every command runs passes that free what the next one allocates
  CLI::App app{"transformers: Hugging Face Transformers v5, native (C++)"};
  app.require_subcommand(1);
  // Options every command takes, given after the command's name too (`generate M --threads 2`).
  app.fallthrough();
  app.add_option_function<int>(
         "--threads", [](int n) { transformers::cli::use_threads(n); },
         "Threads for the kernels (default: TRANSFORMERS_NUM_THREADS, else every core)")
      ->check(CLI::Range(1, transformers::kMaxThreads));
  app.add_flag_callback(
      "--quiet,-q", [] { transformers::cli::set_quiet(true); }, "No progress lines and no speed line on stderr");
  for (auto& setup : transformers::cli::command_setups()) setup(app);
  // The command named first, when it is one: argument errors point at its --help.
  const CLI::App* command = nullptr;
  if (argc > 1 && argv[1][0] != '-') {
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      if (sub->get_name() == argv[1]) command = sub;
    if (!command) {
      std::string names;
      for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        names += (names.empty() ? "" : ", ") + sub->get_name();
      std::fprintf(stderr, "error: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
      return 1;
    }
  }
  // Usage errors end with where to read the usage, on the same line.
  auto usage_error = [command](const std::string& message) {
    const std::string help = command ? "transformers " + command->get_name() + " --help" : "transformers --help";
    print_error(message + " (see '" + help + "')");
    return 1;
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // a command that printed its own error and chose its status
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e);
    // Anything else is one line and status 1, like every other error of this command.
    return usage_error(e.what());
  } catch (const transformers::cli::UsageError& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
  return 0;
}
