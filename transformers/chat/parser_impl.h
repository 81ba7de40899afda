// The parser (jinja2/parser.py) as a class shared by parser.cpp (statements) and
// parser_expressions.cpp (expressions). Internal to chat/.
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "transformers/chat/parser.h"

namespace transformers::jinja {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseLimits& limits) : toks_(std::move(tokens)), limits_(limits) {}

  Program run() {
    Program p;
    p.body = subparse({});
    if (cur().type != TokenType::Eof) fail("unexpected token");
    check_unknown_names();
    p.blocks = std::move(blocks_);
    return p;
  }

 private:
  // ---- token stream ----------------------------------------------------------------------
  const Token& cur() const { return toks_[pos_]; }
  const Token& look() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().value == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().value == name; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t);

  [[noreturn]] void fail(const std::string& message) const { syntax_error(cur().line, cur().column, message); }

  void expect_op(const char* op);
  void expect_block_end();
  std::string expect_name();

  struct DepthGuard {
    Parser& p;
    int cost;
    DepthGuard(Parser& parser, int nesting_cost) : p(parser), cost(nesting_cost) {
      p.depth_ += cost;
      if (p.depth_ > p.limits_.max_nesting) {
        p.depth_ -= cost;
        p.fail("template nesting too deep");
      }
    }
    ~DepthGuard() { p.depth_ -= cost; }
  };

  ExprPtr make(ExprKind kind, const Token& at);
  StmtPtr make_stmt(StmtKind kind, const Token& at);

  // ---- statements ------------------------------------------------------------------------
  bool at_end_token(const std::vector<std::string>& end_tokens) const;

  Body subparse(const std::vector<std::string>& end_tokens);

  Body parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle);

  StmtPtr parse_statement();

  StmtPtr parse_if();

  Target parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end);

  StmtPtr parse_for();

  StmtPtr parse_set();

  void parse_signature(Stmt& s);

  void parse_macro_body(Stmt& s, const char* end_tag);

  StmtPtr parse_macro();

  StmtPtr parse_call_block();

  StmtPtr parse_filter_block();

  StmtPtr parse_with();

  StmtPtr parse_block();

  // ---- expressions -----------------------------------------------------------------------
  ExprPtr parse_expression(bool with_condexpr);

  ExprPtr parse_condexpr();

  ExprPtr binary(ExprKind kind, const Token& at, ExprPtr a, ExprPtr b);

  ExprPtr parse_or();

  ExprPtr parse_and();

  ExprPtr parse_not();

  ExprPtr parse_compare();

  ExprPtr bin(BinOp op, const Token& at, ExprPtr a, ExprPtr b);

  ExprPtr parse_math1();

  ExprPtr parse_concat();

  ExprPtr parse_math2();

  ExprPtr parse_pow();

  ExprPtr parse_unary(bool with_filter);

  ExprPtr parse_primary();

  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string>& extra_end, bool explicit_parens);

  ExprPtr parse_postfix(ExprPtr node);

  ExprPtr parse_filter_expr(ExprPtr node);

  ExprPtr parse_subscript(ExprPtr node);

  ExprPtr parse_subscribed();

  void parse_call_args(CallSpec& spec);

  ExprPtr parse_call(ExprPtr node);

  ExprPtr parse_filter(ExprPtr node, bool start_inline);

  ExprPtr parse_test(ExprPtr node);

  std::vector<Token> toks_;
  size_t pos_ = 0;
  ParseLimits limits_;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> tag_stack_;
  std::vector<const Stmt*> blocks_;
  // Filters and tests that do not exist. jinja2 rejects them when it compiles the template
  // (TemplateAssertionError), except inside an if statement or a conditional expression, its
  // "soft" frames, where only running them fails (TemplateRuntimeError).
  struct UnknownName {
    const Expr* expr;
    bool soft;
  };
  std::vector<UnknownName> unknown_names_;
  int soft_depth_ = 0;
  bool soft_body_ = false;  // the next parse_statements is an if branch
  void check_unknown_names() const {
    for (const auto& u : unknown_names_)
      if (!u.soft)
        syntax_error(u.expr->line, u.expr->column,
                     std::string("No ") + (u.expr->kind == ExprKind::Filter ? "filter" : "test") +
                         " named '" + u.expr->name + "'.");
  }
  std::vector<std::set<std::string>> macro_uses_;
};

}  // namespace transformers::jinja
