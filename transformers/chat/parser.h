// Recursive-descent parser for jinja2's grammar (jinja2/parser.py): statements of HF's
// environment (the builtin tags, loopcontrols' break/continue and HF's {% generation %}) and the
// full expression grammar with Python's precedence.
#pragma once

#include <string_view>

#include "transformers/chat/ast.h"
#include "transformers/chat/lexer.h"

namespace transformers::jinja {

struct ParseLimits {
  int max_nesting = 128;  // nested expressions/blocks; keeps the parser's stack bounded
};

// Throws FormatError with line and column on a syntax error.
Program parse(std::string_view source, const ParseLimits& limits = {});

// Filter and test registries (filters.cpp, tests.cpp), looked up when parsing.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

}  // namespace transformers::jinja
