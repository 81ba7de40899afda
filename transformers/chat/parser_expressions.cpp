// Expression parsing: jinja2's precedence climbing (parse_condexpr ... parse_primary), postfix
// subscripts and calls, filters and tests.
#include "transformers/chat/bigint.h"
#include "transformers/chat/parser_impl.h"

namespace transformers::jinja {

ExprPtr Parser::parse_expression(bool with_condexpr) {
  DepthGuard guard(*this, kExpressionNesting);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
  size_t first_unknown = unknown_names_.size();
  ExprPtr expr1 = parse_or();
  while (is_name("if")) {
    const Token at = cur();
    next();
    ExprPtr expr2 = parse_or();
    ExprPtr expr3;
    if (skip_name("else")) {
      DepthGuard guard(*this, kOperatorNesting);  // `a if x else b if y else ...` recurses here
      expr3 = parse_condexpr();
    }
    auto c = make(ExprKind::Cond, at);
    c->items.push_back(std::move(expr2));
    c->items.push_back(std::move(expr1));
    c->items.push_back(std::move(expr3));
    expr1 = std::move(c);
    // jinja2 compiles a conditional expression in a "soft" frame: unknown names fail when run.
    for (size_t i = first_unknown; i < unknown_names_.size(); ++i) unknown_names_[i].soft = true;
  }
  return expr1;
}

ExprPtr Parser::binary(ExprKind kind, const Token& at, ExprPtr a, ExprPtr b) {
  auto e = make(kind, at);
  e->items.push_back(std::move(a));
  e->items.push_back(std::move(b));
  return e;
}

ExprPtr Parser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name("or")) {
    const Token at = cur();
    next();
    left = binary(ExprKind::Or, at, std::move(left), parse_and());
  }
  return left;
}

ExprPtr Parser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name("and")) {
    const Token at = cur();
    next();
    left = binary(ExprKind::And, at, std::move(left), parse_not());
  }
  return left;
}

ExprPtr Parser::parse_not() {
  if (is_name("not")) {
    const Token at = cur();
    next();
    DepthGuard guard(*this, kOperatorNesting);
    auto e = make(ExprKind::Not, at);
    e->items.push_back(parse_not());
    return e;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
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

ExprPtr Parser::bin(BinOp op, const Token& at, ExprPtr a, ExprPtr b) {
  auto e = binary(ExprKind::Binary, at, std::move(a), std::move(b));
  e->bin_op = op;
  return e;
}

ExprPtr Parser::parse_math1() {
  ExprPtr left = parse_concat();
  while (is_op("+") || is_op("-")) {
    const Token at = cur();
    BinOp op = at.value == "+" ? BinOp::Add : BinOp::Sub;
    next();
    left = bin(op, at, std::move(left), parse_concat());
  }
  return left;
}

ExprPtr Parser::parse_concat() {
  const Token at = cur();
  ExprPtr first = parse_math2();
  if (!is_op("~")) return first;
  auto c = make(ExprKind::Concat, at);
  c->items.push_back(std::move(first));
  while (skip_op("~")) c->items.push_back(parse_math2());
  return c;
}

ExprPtr Parser::parse_math2() {
  ExprPtr left = parse_pow();
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    const Token at = cur();
    BinOp op = at.value == "*" ? BinOp::Mul : at.value == "/" ? BinOp::Div : at.value == "//" ? BinOp::FloorDiv : BinOp::Mod;
    next();
    left = bin(op, at, std::move(left), parse_pow());
  }
  return left;
}

ExprPtr Parser::parse_pow() {
  ExprPtr left = parse_unary(true);
  while (is_op("**")) {
    const Token at = cur();
    next();
    left = bin(BinOp::Pow, at, std::move(left), parse_unary(true));
  }
  return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  DepthGuard guard(*this, kOperatorNesting);
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

ExprPtr Parser::parse_primary() {
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
    if (at.type == TokenType::Float)
      node->value = Value(at.float_value);
    else
      node->value = at.big_base ? *parse_big_int(at.value, at.big_base) : Value(at.int_value);
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

ExprPtr Parser::parse_tuple(bool with_condexpr, const std::vector<std::string>& extra_end, bool explicit_parens) {
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

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
    else if (is_op("(")) node = parse_call(std::move(node));
    else break;
  }
  return node;
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) node = parse_filter(std::move(node), false);
    else if (is_name("is")) node = parse_test(std::move(node));
    else if (is_op("(")) node = parse_call(std::move(node));
    else break;
  }
  return node;
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
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

ExprPtr Parser::parse_subscribed() {
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

void Parser::parse_call_args(CallSpec& spec) {
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

ExprPtr Parser::parse_call(ExprPtr node) {
  auto e = make(ExprKind::Call, cur());
  e->items.push_back(std::move(node));
  parse_call_args(e->call);
  return e;
}

ExprPtr Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (is_op("|") || start_inline) {
    if (!start_inline) next();
    start_inline = false;
    const Token at = cur();
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    auto e = make(ExprKind::Filter, at);
    e->name = name;
    e->filter = find_filter(name);
    if (!e->filter) unknown_names_.push_back({e.get(), soft_depth_ > 0});
    e->items.push_back(std::move(node));
    if (is_op("(")) parse_call_args(e->call);
    node = std::move(e);
  }
  return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
  const Token at = cur();
  next();  // is
  bool negated = skip_name("not");
  std::string name = expect_name();
  while (skip_op(".")) name += "." + expect_name();
  auto e = make(ExprKind::Test, at);
  e->name = name;
  e->test = find_test(name);
  if (!e->test) unknown_names_.push_back({e.get(), soft_depth_ > 0});
  e->items.push_back(std::move(node));
  const Token& c = cur();
  if (is_op("(")) {
    parse_call_args(e->call);
  } else if ((c.type == TokenType::Name || c.type == TokenType::String || c.type == TokenType::Integer ||
              c.type == TokenType::Float || is_op("[") || is_op("{")) &&
             !(is_name("else") || is_name("or") || is_name("and"))) {
    if (is_name("is")) fail("You cannot chain multiple tests with is");
    DepthGuard guard(*this, kOperatorNesting);
    e->call.args.push_back(parse_postfix(parse_primary()));
  }
  if (!negated) return e;
  auto n = make(ExprKind::Not, at);
  n->items.push_back(std::move(e));
  return n;
}
}  // namespace transformers::jinja
