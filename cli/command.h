// Subcommands of the `transformers` executable register themselves: each cli/<name>.cpp defines
//   static const transformers::cli::Command kCommand{[](CLI::App& app) { ... }};
// adding its subcommand (with --help) and a callback. Errors derived from transformers::Error
// thrown by a callback are printed as one line by main() and give exit status 1; a UsageError
// (cli/usage_error.h) also names the command's --help on that line.
#pragma once

#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/usage_error.h"

namespace transformers::cli {

using CommandSetup = std::function<void(CLI::App&)>;

std::vector<CommandSetup>& command_setups();

struct Command {
  explicit Command(CommandSetup setup) { command_setups().push_back(std::move(setup)); }
};

}  // namespace transformers::cli
