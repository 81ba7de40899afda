// Jinja2 lexer with the whitespace rules of HF's environment (trim_blocks, lstrip_blocks,
// keep_trailing_newline=False), following jinja2.lexer rule for rule: newlines normalised to
// "\n", one trailing newline dropped, `-`/`+` modifiers on tags, raw blocks, comments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace transformers::jinja {

enum class TokenType : uint8_t {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  Eof,
};

struct Token {
  TokenType type;
  std::string value;  // data text, name, unescaped string, operator spelling
  int64_t int_value = 0;
  int big_base = 0;  // an integer literal beyond int64: `value` holds its digits in this base
  double float_value = 0;
  int line = 1;
  int column = 1;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws FormatError ("template:LINE:COL: message") on malformed input.
std::vector<Token> tokenize(std::string_view source, const LexerOptions& options = {});

// Formats a syntax error the way every template error reports its place.
[[noreturn]] void syntax_error(int line, int column, const std::string& message);

}  // namespace transformers::jinja
