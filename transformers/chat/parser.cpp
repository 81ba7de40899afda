// Statement parsing (jinja2/parser.py: subparse, parse_statement and the tags) and parse().
#include "transformers/chat/parser.h"

#include <algorithm>
#include <utility>

#include "transformers/chat/parser_impl.h"

namespace transformers::jinja {

std::string Parser::describe(const Token& t) {
  switch (t.type) {
    case TokenType::Data: return "template data / text";
    case TokenType::VariableBegin: return "begin of print statement";
    case TokenType::VariableEnd: return "end of print statement";
    case TokenType::BlockBegin: return "begin of statement block";
    case TokenType::BlockEnd: return "end of statement block";
    case TokenType::Name: return t.value;
    case TokenType::String: return "string";
    case TokenType::Integer: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Operator: return t.value;
    case TokenType::Eof: return "end of template";
  }
  return "token";
}

void Parser::expect_op(const char* op) {
  if (!skip_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
}

void Parser::expect_block_end() {
  if (cur().type != TokenType::BlockEnd) fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
  next();
}

std::string Parser::expect_name() {
  if (cur().type != TokenType::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
  std::string v = cur().value;
  next();
  return v;
}

ExprPtr Parser::make(ExprKind kind, const Token& at) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = at.line;
  e->column = at.column;
  return e;
}

StmtPtr Parser::make_stmt(StmtKind kind, const Token& at) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->line = at.line;
  s->column = at.column;
  return s;
}

bool Parser::at_end_token(const std::vector<std::string>& end_tokens) const {
  if (cur().type != TokenType::Name) return false;
  for (const auto& e : end_tokens)
    if (cur().value == e) return true;
  return false;
}

Body Parser::subparse(const std::vector<std::string>& end_tokens) {
  Body body;
  while (cur().type != TokenType::Eof) {
    const Token& t = cur();
    if (t.type == TokenType::Data) {
      auto s = make_stmt(StmtKind::Data, t);
      s->text = t.value;
      body.push_back(std::move(s));
      next();
    } else if (t.type == TokenType::VariableBegin) {
      next();
      auto s = make_stmt(StmtKind::Output, cur());
      s->exprs.push_back(parse_tuple(true, {}, false));
      if (cur().type != TokenType::VariableEnd)
        fail("expected token 'end of print statement', got '" + describe(cur()) + "'");
      next();
      body.push_back(std::move(s));
    } else if (t.type == TokenType::BlockBegin) {
      next();
      if (!end_tokens.empty() && at_end_token(end_tokens)) return body;
      body.push_back(parse_statement());
      expect_block_end();
    } else {
      fail("unexpected '" + describe(t) + "'");
    }
  }
  if (!end_tokens.empty()) {
    std::string looking;
    for (const auto& e : end_tokens) looking += (looking.empty() ? "'" : " or '") + e + "'";
    std::string msg = "Unexpected end of template. Jinja was looking for the following tags: " + looking + ".";
    if (!tag_stack_.empty()) msg += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    fail(msg);
  }
  return body;
}

Body Parser::parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle) {
  skip_op(":");
  expect_block_end();
  DepthGuard guard(*this, kStatementNesting);
  // Bodies are frames of their own in jinja2 (not soft), except the branches of an if.
  int outer_soft = soft_depth_;
  if (!soft_body_) soft_depth_ = 0;
  soft_body_ = false;
  Body body = subparse(end_tokens);
  soft_depth_ = outer_soft;
  if (drop_needle) next();
  return body;
}

StmtPtr Parser::parse_statement() {
  const Token& t = cur();
  if (t.type != TokenType::Name) fail("tag name expected");
  const std::string tag = t.value;
  tag_stack_.push_back(tag);
  StmtPtr s;
  if (tag == "if") s = parse_if();
  else if (tag == "for") s = parse_for();
  else if (tag == "set") s = parse_set();
  else if (tag == "macro") s = parse_macro();
  else if (tag == "call") s = parse_call_block();
  else if (tag == "filter") s = parse_filter_block();
  else if (tag == "with") s = parse_with();
  else if (tag == "block")
    s = parse_block();
  else if (tag == "autoescape") {
    s = make_stmt(StmtKind::AutoEscape, t);
    next();
    s->exprs.push_back(parse_expression(true));
    s->body = parse_statements({"endautoescape"}, true);
  } else if (tag == "generation") {
    s = make_stmt(StmtKind::Generation, t);
    next();
    s->body = parse_statements({"endgeneration"}, true);
  } else if (tag == "break" || tag == "continue") {
    if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
    s = make_stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue, t);
    next();
  } else if (tag == "print") {
    s = make_stmt(StmtKind::Output, t);
    next();
    while (cur().type != TokenType::BlockEnd) {
      if (!s->exprs.empty()) expect_op(",");
      s->exprs.push_back(parse_expression(true));
    }
  } else if (tag == "raw") {
    fail("raw block malformed");
  } else if (tag == "extends" || tag == "include" || tag == "import" || tag == "from") {
    fail("'" + tag + "' is not available: chat templates are rendered without a loader");
  } else if (tag == "do") {
    fail("Encountered unknown tag '" + tag + "'.");
  } else {
    std::string msg = "Encountered unknown tag '" + tag + "'.";
    if (tag_stack_.size() > 1) msg += " The innermost block that needs to be closed is '" + tag_stack_[tag_stack_.size() - 2] + "'.";
    fail(msg);
  }
  tag_stack_.pop_back();
  return s;
}

// jinja2 allows blocks in a template rendered on its own: the body renders where it stands and
// self.name() renders it again.
StmtPtr Parser::parse_block() {
  auto s = make_stmt(StmtKind::Block, cur());
  next();
  s->name = expect_name();
  if (is_op("-"))
    fail(
        "Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use "
        "an underscore instead.");
  for (const Stmt* b : blocks_)
    if (b->name == s->name) fail("block '" + s->name + "' defined twice");
  while (cur().type == TokenType::Name && (cur().value == "scoped" || cur().value == "required")) {
    (cur().value == "scoped" ? s->scoped : s->required) = true;
    next();
  }
  int loops = std::exchange(loop_depth_, 0);  // a block body is its own function in jinja2
  s->body = parse_statements({"endblock"}, true);
  loop_depth_ = loops;
  if (cur().type == TokenType::Name && cur().value == s->name) next();
  blocks_.push_back(s.get());
  return s;
}

StmtPtr Parser::parse_if() {
  auto s = make_stmt(StmtKind::If, cur());
  next();
  ++soft_depth_;  // the whole statement is a soft frame (see unknown_names_)
  while (true) {
    s->exprs.push_back(parse_tuple(false, {}, false));
    soft_body_ = true;
    s->branches.push_back(parse_statements({"elif", "else", "endif"}, false));
    std::string which = cur().value;
    next();
    if (which == "elif") continue;
    if (which == "else") {
      soft_body_ = true;
      s->else_body = parse_statements({"endif"}, true);
    }
    break;
  }
  --soft_depth_;
  return s;
}

Target Parser::parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
  Target t;
  if (with_namespace && cur().type == TokenType::Name && look().type == TokenType::Operator && look().value == ".") {
    t.names.push_back(expect_name());
    next();
    t.ns_attr = expect_name();
    return t;
  }
  // parse_tuple(simplified=True): names (and literals, which cannot be assigned).
  bool trailing_comma = false;
  while (true) {
    if (!t.names.empty()) expect_op(",");
    if (cur().type == TokenType::BlockEnd || cur().type == TokenType::VariableEnd || is_op(")") ||
        (cur().type == TokenType::Name && std::find(extra_end.begin(), extra_end.end(), cur().value) != extra_end.end())) {
      if (t.names.empty()) fail("Expected an expression, got '" + describe(cur()) + "'");
      break;
    }
    if (cur().type != TokenType::Name) fail("can't assign to '" + describe(cur()) + "'");
    std::string name = cur().value;
    if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None")
      fail("can't assign to 'const'");
    t.names.push_back(name);
    next();
    trailing_comma = is_op(",");
    if (!trailing_comma) break;
    t.is_tuple = true;
  }
  return t;
}

StmtPtr Parser::parse_for() {
  auto s = make_stmt(StmtKind::For, cur());
  next();
  s->target = parse_assign_target(false, {"in"});
  if (std::find(s->target.names.begin(), s->target.names.end(), "loop") != s->target.names.end())
    fail("Can't assign to special loop variable in for-loop target");  // jinja2's compile-time check
  if (!skip_name("in")) fail("expected token 'in', got '" + describe(cur()) + "'");
  s->exprs.push_back(parse_tuple(false, {"recursive"}, false));
  if (skip_name("if")) s->exprs.push_back(parse_expression(true));
  else s->exprs.push_back(nullptr);
  s->recursive = skip_name("recursive");
  ++loop_depth_;
  s->body = parse_statements({"endfor", "else"}, false);
  --loop_depth_;
  std::string which = cur().value;
  next();
  if (which == "else") s->else_body = parse_statements({"endfor"}, true);
  return s;
}

StmtPtr Parser::parse_set() {
  auto s = make_stmt(StmtKind::Set, cur());
  next();
  s->target = parse_assign_target(true, {});
  if (skip_op("=")) {
    s->exprs.push_back(parse_tuple(true, {}, false));
    return s;
  }
  s->kind = StmtKind::SetBlock;
  s->exprs.push_back(is_op("|") ? parse_filter(nullptr, false) : nullptr);
  int saved = loop_depth_;
  s->body = parse_statements({"endset"}, true);
  loop_depth_ = saved;
  return s;
}

void Parser::parse_signature(Stmt& s) {
  expect_op("(");
  while (!is_op(")")) {
    if (!s.params.empty()) expect_op(",");
    s.params.push_back(expect_name());
    if (skip_op("=")) s.defaults.push_back(parse_expression(true));
    else if (!s.defaults.empty()) fail("non-default argument follows default argument");
  }
  expect_op(")");
}

void Parser::parse_macro_body(Stmt& s, const char* end_tag) {
  macro_uses_.emplace_back();
  int saved_loops = loop_depth_;
  loop_depth_ = 0;
  s.body = parse_statements({end_tag}, true);
  loop_depth_ = saved_loops;
  const auto& used = macro_uses_.back();
  auto param = [&](const char* name) { return std::find(s.params.begin(), s.params.end(), name) - s.params.begin(); };
  s.uses_caller = used.count("caller") > 0;
  // jinja2: a parameter named varargs or kwargs replaces the implicit one; one named caller must
  // have a default when the body calls caller (the call block passes it by keyword).
  s.uses_varargs = used.count("varargs") > 0 && param("varargs") == static_cast<ptrdiff_t>(s.params.size());
  s.uses_kwargs = used.count("kwargs") > 0 && param("kwargs") == static_cast<ptrdiff_t>(s.params.size());
  size_t first_default = s.params.size() - s.defaults.size();
  if (s.uses_caller && static_cast<size_t>(param("caller")) < first_default)
    fail("When defining macros or call blocks the special \"caller\" argument must be omitted or be given a default.");
  // jinja2 looks for caller/varargs/kwargs in nested macros and call blocks too.
  std::set<std::string> inner = std::move(macro_uses_.back());
  macro_uses_.pop_back();
  if (!macro_uses_.empty()) macro_uses_.back().insert(inner.begin(), inner.end());
}

StmtPtr Parser::parse_macro() {
  auto s = make_stmt(StmtKind::Macro, cur());
  next();
  s->name = expect_name();
  parse_signature(*s);
  parse_macro_body(*s, "endmacro");
  return s;
}

StmtPtr Parser::parse_call_block() {
  auto s = make_stmt(StmtKind::CallBlock, cur());
  next();
  if (is_op("(")) parse_signature(*s);
  ExprPtr call = parse_expression(true);
  if (call->kind != ExprKind::Call) fail("expected call");
  s->exprs.push_back(std::move(call));
  s->name = "caller";
  parse_macro_body(*s, "endcall");
  return s;
}

StmtPtr Parser::parse_filter_block() {
  auto s = make_stmt(StmtKind::FilterBlock, cur());
  next();
  s->exprs.push_back(parse_filter(nullptr, true));
  s->body = parse_statements({"endfilter"}, true);
  return s;
}

StmtPtr Parser::parse_with() {
  auto s = make_stmt(StmtKind::With, cur());
  next();
  while (cur().type != TokenType::BlockEnd) {
    if (!s->targets.empty()) expect_op(",");
    s->targets.push_back(parse_assign_target(false, {}));
    expect_op("=");
    s->exprs.push_back(parse_expression(true));
  }
  s->body = parse_statements({"endwith"}, true);
  return s;
}

Program parse(std::string_view source, const ParseLimits& limits) {
  return Parser(tokenize(source), limits).run();
}

}  // namespace transformers::jinja
