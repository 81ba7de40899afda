#include "transformers/chat/parser.h"

#include <initializer_list>
#include <set>

namespace transformers::jinja {

namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseLimits& limits) : toks_(std::move(tokens)), limits_(limits) {}

  Program run() {
    Program p;
    p.body = subparse({});
    if (cur().type != TokenType::Eof) fail("unexpected token");
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

  static std::string describe(const Token& t) {
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

  [[noreturn]] void fail(const std::string& message) const { syntax_error(cur().line, cur().column, message); }

  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail("expected token 'end of statement block', got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail("expected token 'name', got '" + describe(cur()) + "'");
    std::string v = cur().value;
    next();
    return v;
  }

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > p.limits_.max_nesting) p.fail("template nesting too deep");
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr make(ExprKind kind, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }
  StmtPtr make_stmt(StmtKind kind, const Token& at) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = at.line;
    s->column = at.column;
    return s;
  }

  // ---- statements ------------------------------------------------------------------------
  bool at_end_token(const std::vector<std::string>& end_tokens) const {
    if (cur().type != TokenType::Name) return false;
    for (const auto& e : end_tokens)
      if (cur().value == e) return true;
    return false;
  }

  Body subparse(const std::vector<std::string>& end_tokens) {
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

  Body parse_statements(const std::vector<std::string>& end_tokens, bool drop_needle) {
    skip_op(":");
    expect_block_end();
    DepthGuard guard(*this);
    Body body = subparse(end_tokens);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
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
    else if (tag == "generation") {
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
    } else if (tag == "extends" || tag == "include" || tag == "import" || tag == "from" || tag == "block") {
      fail("'" + tag + "' is not available: chat templates are rendered without a loader");
    } else if (tag == "autoescape" || tag == "do") {
      fail("Encountered unknown tag '" + tag + "'.");
    } else {
      std::string msg = "Encountered unknown tag '" + tag + "'.";
      if (tag_stack_.size() > 1) msg += " The innermost block that needs to be closed is '" + tag_stack_[tag_stack_.size() - 2] + "'.";
      fail(msg);
    }
    tag_stack_.pop_back();
    return s;
  }

  StmtPtr parse_if() {
    auto s = make_stmt(StmtKind::If, cur());
    next();
    while (true) {
      s->exprs.push_back(parse_tuple(false, {}, false));
      s->branches.push_back(parse_statements({"elif", "else", "endif"}, false));
      std::string which = cur().value;
      next();
      if (which == "elif") continue;
      if (which == "else") s->else_body = parse_statements({"endif"}, true);
      break;
    }
    return s;
  }

  Target parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
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

  StmtPtr parse_for() {
    auto s = make_stmt(StmtKind::For, cur());
    next();
    s->target = parse_assign_target(false, {"in"});
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

  StmtPtr parse_set() {
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

  void parse_signature(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      s.params.push_back(expect_name());
      if (skip_op("=")) s.defaults.push_back(parse_expression(true));
      else if (!s.defaults.empty()) fail("non-default argument follows default argument");
    }
    expect_op(")");
  }

  void parse_macro_body(Stmt& s, const char* end_tag) {
    macro_uses_.emplace_back();
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s.body = parse_statements({end_tag}, true);
    loop_depth_ = saved_loops;
    const auto& used = macro_uses_.back();
    s.uses_caller = used.count("caller") > 0;
    s.uses_varargs = used.count("varargs") > 0;
    s.uses_kwargs = used.count("kwargs") > 0;
    macro_uses_.pop_back();
  }

  StmtPtr parse_macro() {
    auto s = make_stmt(StmtKind::Macro, cur());
    next();
    s->name = expect_name();
    parse_signature(*s);
    parse_macro_body(*s, "endmacro");
    return s;
  }

  StmtPtr parse_call_block() {
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

  StmtPtr parse_filter_block() {
    auto s = make_stmt(StmtKind::FilterBlock, cur());
    next();
    s->exprs.push_back(parse_filter(nullptr, true));
    s->body = parse_statements({"endfilter"}, true);
    return s;
  }

  StmtPtr parse_with() {
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

  // ---- expressions -----------------------------------------------------------------------
  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      const Token at = cur();
      next();
      ExprPtr expr2 = parse_or();
      ExprPtr expr3 = skip_name("else") ? parse_condexpr() : nullptr;
      auto c = make(ExprKind::Cond, at);
      c->items.push_back(std::move(expr2));
      c->items.push_back(std::move(expr1));
      c->items.push_back(std::move(expr3));
      expr1 = std::move(c);
    }
    return expr1;
  }

  ExprPtr binary(ExprKind kind, const Token& at, ExprPtr a, ExprPtr b) {
    auto e = make(kind, at);
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Token at = cur();
      next();
      left = binary(ExprKind::Or, at, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Token at = cur();
      next();
      left = binary(ExprKind::And, at, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      const Token at = cur();
      next();
      DepthGuard guard(*this);
      auto e = make(ExprKind::Not, at);
      e->items.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token at = cur();
    ExprPtr expr = parse_math1();
    ExprPtr cmp;
    while (true) {
      CmpOp op;
      if (is_op("==")) op = CmpOp::Eq;
      else if (is_op("!=")) op = CmpOp::Ne;
      else if (is_op("<")) op = CmpOp::Lt;
      else if (is_op("<=")) op = CmpOp::Le;
      else if (is_op(">")) op = CmpOp::Gt;
      else if (is_op(">=")) op = CmpOp::Ge;
      else if (is_name("in")) op = CmpOp::In;
      else if (is_name("not") && look().type == TokenType::Name && look().value == "in") {
        next();
        op = CmpOp::NotIn;
      } else {
        break;
      }
      next();
      if (!cmp) {
        cmp = make(ExprKind::Compare, at);
        cmp->items.push_back(std::move(expr));
      }
      cmp->cmp_ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(expr);
  }

  ExprPtr bin(BinOp op, const Token& at, ExprPtr a, ExprPtr b) {
    auto e = binary(ExprKind::Binary, at, std::move(a), std::move(b));
    e->bin_op = op;
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token at = cur();
      BinOp op = at.value == "+" ? BinOp::Add : BinOp::Sub;
      next();
      left = bin(op, at, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const Token at = cur();
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = make(ExprKind::Concat, at);
    c->items.push_back(std::move(first));
    while (skip_op("~")) c->items.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token at = cur();
      BinOp op = at.value == "*" ? BinOp::Mul : at.value == "/" ? BinOp::Div : at.value == "//" ? BinOp::FloorDiv : BinOp::Mod;
      next();
      left = bin(op, at, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token at = cur();
      next();
      left = bin(BinOp::Pow, at, std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const Token at = cur();
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      next();
      node = make(at.value == "-" ? ExprKind::Neg : ExprKind::Pos, at);
      node->items.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token at = cur();
    ExprPtr node;
    if (at.type == TokenType::Name) {
      node = make(ExprKind::Const, at);
      if (at.value == "true" || at.value == "True") node->value = Value(true);
      else if (at.value == "false" || at.value == "False") node->value = Value(false);
      else if (at.value == "none" || at.value == "None") node->value = Value(nullptr);
      else {
        node->kind = ExprKind::Name;
        node->name = at.value;
        if (!macro_uses_.empty()) macro_uses_.back().insert(at.value);
      }
      next();
    } else if (at.type == TokenType::String) {
      std::string s;
      while (cur().type == TokenType::String) {
        s += cur().value;
        next();
      }
      node = make(ExprKind::Const, at);
      node->value = Value(std::move(s));
    } else if (at.type == TokenType::Integer || at.type == TokenType::Float) {
      node = make(ExprKind::Const, at);
      node->value = at.type == TokenType::Integer ? Value(at.int_value) : Value(at.float_value);
      next();
    } else if (is_op("(")) {
      next();
      node = parse_tuple(true, {}, true);
      expect_op(")");
    } else if (is_op("[")) {
      next();
      node = make(ExprKind::List, at);
      while (!is_op("]")) {
        if (!node->items.empty()) expect_op(",");
        if (is_op("]")) break;
        node->items.push_back(parse_expression(true));
      }
      expect_op("]");
    } else if (is_op("{")) {
      next();
      node = make(ExprKind::Dict, at);
      while (!is_op("}")) {
        if (!node->items.empty()) expect_op(",");
        if (is_op("}")) break;
        node->items.push_back(parse_expression(true));
        expect_op(":");
        node->items.push_back(parse_expression(true));
      }
      expect_op("}");
    } else {
      fail("unexpected '" + describe(at) + "'");
    }
    return node;
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::vector<std::string>& extra_end, bool explicit_parens) {
    const Token at = cur();
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (cur().type == TokenType::VariableEnd || cur().type == TokenType::BlockEnd || is_op(")") ||
          (cur().type == TokenType::Name && std::find(extra_end.begin(), extra_end.end(), cur().value) != extra_end.end()))
        break;
      args.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto t = make(ExprKind::Tuple, at);
    t->items = std::move(args);
    return t;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node), false);
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else break;
    }
    return node;
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token at = cur();
    if (skip_op(".")) {
      const Token attr = cur();
      next();
      if (attr.type == TokenType::Name) {
        auto e = make(ExprKind::GetAttr, at);
        e->items.push_back(std::move(node));
        e->name = attr.value;
        return e;
      }
      if (attr.type != TokenType::Integer) syntax_error(attr.line, attr.column, "expected name or number");
      auto e = make(ExprKind::GetItem, at);
      auto key = make(ExprKind::Const, attr);
      key->value = Value(attr.int_value);
      e->items.push_back(std::move(node));
      e->items.push_back(std::move(key));
      return e;
    }
    expect_op("[");
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.size() == 1 && args[0]->kind == ExprKind::Slice && args[0]->items.empty()) {
      // A slice: items are start, stop, step stored in value-less children.
      auto e = std::move(args[0]);
      e->items = std::move(e->call.args);
      e->items.insert(e->items.begin(), std::move(node));
      return e;
    }
    auto e = make(ExprKind::GetItem, at);
    e->items.push_back(std::move(node));
    if (args.size() == 1) {
      e->items.push_back(std::move(args[0]));
    } else {
      auto t = make(ExprKind::Tuple, at);
      t->items = std::move(args);
      e->items.push_back(std::move(t));
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    const Token at = cur();
    std::vector<ExprPtr> parts;
    if (is_op(":")) {
      next();
      parts.push_back(nullptr);
    } else {
      ExprPtr node = parse_expression(true);
      if (!is_op(":")) return node;
      next();
      parts.push_back(std::move(node));
    }
    if (is_op(":") || is_op("]") || is_op(",")) parts.push_back(nullptr);
    else parts.push_back(parse_expression(true));
    if (skip_op(":")) {
      if (is_op("]") || is_op(",")) parts.push_back(nullptr);
      else parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    auto s = make(ExprKind::Slice, at);
    s->call.args = std::move(parts);
    return s;
  }

  void parse_call_args(CallSpec& spec) {
    expect_op("(");
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail("invalid syntax for function call expression");
    };
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*")) {
        ensure(!spec.dyn_args && !spec.dyn_kwargs);
        next();
        spec.dyn_args = parse_expression(true);
      } else if (is_op("**")) {
        ensure(!spec.dyn_kwargs);
        next();
        spec.dyn_kwargs = parse_expression(true);
      } else if (cur().type == TokenType::Name && look().type == TokenType::Operator && look().value == "=") {
        ensure(!spec.dyn_kwargs);
        std::string key = cur().value;
        next();
        next();
        spec.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        ensure(!spec.dyn_args && !spec.dyn_kwargs && spec.kwargs.empty());
        spec.args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, cur());
    e->items.push_back(std::move(node));
    parse_call_args(e->call);
    return e;
  }

  ExprPtr parse_filter(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      start_inline = false;
      const Token at = cur();
      std::string name = expect_name();
      while (skip_op(".")) name += "." + expect_name();
      auto e = make(ExprKind::Filter, at);
      e->name = name;
      e->filter = find_filter(name);
      e->items.push_back(std::move(node));
      if (is_op("(")) parse_call_args(e->call);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    const Token at = cur();
    next();  // is
    bool negated = skip_name("not");
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    auto e = make(ExprKind::Test, at);
    e->name = name;
    e->test = find_test(name);
    e->items.push_back(std::move(node));
    const Token& c = cur();
    if (is_op("(")) {
      parse_call_args(e->call);
    } else if ((c.type == TokenType::Name || c.type == TokenType::String || c.type == TokenType::Integer ||
                c.type == TokenType::Float || is_op("[") || is_op("{")) &&
               !(is_name("else") || is_name("or") || is_name("and"))) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      DepthGuard guard(*this);
      e->call.args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return e;
    auto n = make(ExprKind::Not, at);
    n->items.push_back(std::move(e));
    return n;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  ParseLimits limits_;
  int depth_ = 0;
  int loop_depth_ = 0;
  std::vector<std::string> tag_stack_;
  std::vector<std::set<std::string>> macro_uses_;
};

}  // namespace

Program parse(std::string_view source, const ParseLimits& limits) {
  return Parser(tokenize(source), limits).run();
}

}  // namespace transformers::jinja
