// The `transformers` command: one subcommand per file in cli/.
#include <cstdio>
#include <exception>

#include "cli/command.h"
#include "transformers/core/error.h"

namespace transformers::cli {
std::vector<CommandSetup>& command_setups() {
  static std::vector<CommandSetup> setups;
  return setups;
}
}  // namespace transformers::cli

int main(int argc, char** argv) {
  CLI::App app{"transformers: Hugging Face Transformers v5, native (C++)"};
  app.require_subcommand(1);
  for (auto& setup : transformers::cli::command_setups()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const transformers::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
