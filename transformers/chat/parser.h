// Recursive-descent parser for jinja2's grammar (jinja2/parser.py): statements of HF's
// environment (the builtin tags, loopcontrols' break/continue and HF's {% generation %}) and the
// full expression grammar with Python's precedence.
#pragma once

#include <string_view>

#include "transformers/chat/ast.h"
#include "transformers/chat/lexer.h"

namespace transformers::jinja {

// jinja2 fails with RecursionError when its parser and code generator nest deeper than Python's
// 1000 frames. We count nesting in those frames: a parenthesis, list or dict costs about what it
// costs jinja2 (kExpressionNesting), so we parse every template jinja2 parses (up to 75 nested
// parentheses with Debian's Python, 69 with pyenv's, ~490 `not`s or unary minuses) and fail with a
// clean syntax error a little beyond, while the C++ stack stays bounded.
struct ParseLimits {
  int max_nesting = 1000;
};
constexpr int kExpressionNesting = 12;  // one nested parse_expression (a bracket, argument, ...)
constexpr int kStatementNesting = 5;    // one nested block of statements
constexpr int kOperatorNesting = 1;     // one nested unary operator or `not`

// Throws FormatError with line and column on a syntax error.
Program parse(std::string_view source, const ParseLimits& limits = {});

// Filter and test registries (filters.cpp, tests.cpp), looked up when parsing.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

}  // namespace transformers::jinja
