// Expression evaluation with jinja2's runtime semantics.
#include "transformers/chat/bigint.h"
#include "transformers/chat/context.h"
#include "transformers/chat/parser.h"

namespace transformers::jinja {

void Context::eval_call_args(const CallSpec& spec, const ScopePtr& scope, CallArgs& out) {
  out.args.reserve(spec.args.size());
  for (const auto& a : spec.args) out.args.push_back(eval(*a, scope));
  if (spec.dyn_args) {
    Value extra = eval(*spec.dyn_args, scope);
    for (auto& v : iterate(extra)) out.args.push_back(std::move(v));
  }
  for (const auto& [k, v] : spec.kwargs) out.kwargs.emplace_back(k, eval(*v, scope));
  if (spec.dyn_kwargs) {
    Value extra = eval(*spec.dyn_kwargs, scope);
    if (!extra.is_dict()) raise("TypeError", "argument after ** must be a mapping, not " + extra.type_name());
    for (const auto& [k, v] : extra.as_dict().items) {
      if (!k.is_string()) raise("TypeError", "keywords must be strings");
      out.kwargs.emplace_back(k.as_str(), v);
    }
  }
}

Value Context::call(const Value& callee, CallArgs& args) {
  budget.work(kCallWork);
  switch (callee.type()) {
    case Value::Type::Function: {
      auto& f = callee.as_function();
      if (!f.fn) raise("TypeError", "'" + f.name + "' can no longer be called");
      return f.fn(*this, args);
    }
    case Value::Type::Object: return callee.as_object().call(*this, args);
    case Value::Type::Undefined: raise_undefined(callee);
    default: raise("TypeError", "'" + callee.type_name() + "' object is not callable");
  }
}

Value Context::apply_filter(std::string_view name, const Value& input, CallArgs& args) {
  FilterFn f = find_filter(name);
  if (!f) raise("TemplateRuntimeError", "No filter named '" + std::string(name) + "'.");
  return f(*this, input, args);
}

bool Context::apply_test(std::string_view name, const Value& input, CallArgs& args) {
  TestFn t = find_test(name);
  if (!t) raise("TemplateRuntimeError", "No test named '" + std::string(name) + "' found.");
  return t(*this, input, args);
}

Value Context::eval_call(const Expr& e, const ScopePtr& scope) {
  const Expr& callee_expr = *e.items[0];
  CallArgs args;
  if (callee_expr.kind == ExprKind::GetAttr) {
    // obj.method(...): call str/dict/list methods without materialising a bound method.
    Value obj = eval(*callee_expr.items[0], scope);
    eval_call_args(e.call, scope, args);
    budget.work(kCallWork + visit_work(obj));  // str/dict/list methods scan their object
    Value result;
    if (call_method(*this, obj, callee_expr.name, args, result)) return result;
    return call(get_attr(obj, callee_expr.name), args);
  }
  Value callee = eval(callee_expr, scope);
  eval_call_args(e.call, scope, args);
  return call(callee, args);
}

Value Context::eval_compare(const Expr& e, const ScopePtr& scope) {
  Value left = eval(*e.items[0], scope);
  for (size_t i = 0; i < e.cmp_ops.size(); ++i) {
    Value right = eval(*e.items[i + 1], scope);
    bool ok;
    switch (e.cmp_ops[i]) {
      case CmpOp::Eq: ok = left.equals(right); break;
      case CmpOp::Ne: ok = !left.equals(right); break;
      case CmpOp::Lt: ok = compare_values(left, right, "<") < 0; break;
      case CmpOp::Le: ok = compare_values(left, right, "<=") <= 0; break;
      case CmpOp::Gt: ok = compare_values(left, right, ">") > 0; break;
      case CmpOp::Ge: ok = compare_values(left, right, ">=") >= 0; break;
      case CmpOp::In:
      case CmpOp::NotIn:
        budget.work(visit_work(right));
        ok = contains(right, left) == (e.cmp_ops[i] == CmpOp::In);
        break;
      default: ok = false;
    }
    if (!ok) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

namespace {
// Filters that take constant time whatever the size of their input.
bool is_constant_time_filter(std::string_view name) {
  for (std::string_view f : {"length", "count", "first", "last", "default", "d"})
    if (name == f) return true;
  return false;
}
}  // namespace

Value Context::eval(const Expr& e, const ScopePtr& scope) {
  DepthGuard guard(*this);
  budget.work(1);
  Value v = eval_node(e, scope);
  // A value nobody else holds was just built by this expression: its bytes are work and memory.
  // (Once: `a if c else b`, `x|default(y)` hand the value they got up unchanged.)
  if (v.use_count() == 1 && v.identity() != last_built_) {
    budget.built(v);
    last_built_ = v.identity();
  }
  return v;
}

Value Context::eval_node(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Const: return e.value;
    case ExprKind::Name: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      if (const Value* g = find_global(e.name)) return *g;
      return Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.items.size());
      for (const auto& i : e.items) items.push_back(eval(*i, scope));
      return e.kind == ExprKind::List ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::Dict: {
      Value d = Value::dict();
      auto& obj = d.as_dict();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], scope);
        if (k.is_list() && !k.is_tuple()) raise("TypeError", "unhashable type: 'list'");
        if (k.is_dict()) raise("TypeError", "unhashable type: 'dict'");
        obj.set(std::move(k), eval(*e.items[i + 1], scope));
      }
      return d;
    }
    case ExprKind::GetAttr: return get_attr(eval(*e.items[0], scope), e.name);
    case ExprKind::GetItem: {
      Value obj = eval(*e.items[0], scope);  // Python evaluates left to right
      return get_item(obj, eval(*e.items[1], scope));
    }
    case ExprKind::Slice: {
      // A slice nested in a subscript tuple (x[1:2, 3]) has no object: Python fails on it too.
      if (e.items.empty()) raise("TypeError", "indices must be integers or slices, not tuple");
      Value obj = eval(*e.items[0], scope);
      Value parts[3];
      for (int i = 0; i < 3; ++i)
        parts[i] = (static_cast<size_t>(i + 1) < e.items.size() && e.items[i + 1]) ? eval(*e.items[i + 1], scope) : Value(nullptr);
      return slice_value(obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::Call: return eval_call(e, scope);
    case ExprKind::Filter: {
      Value input = e.items[0] ? eval(*e.items[0], scope) : Value();
      CallArgs args;
      eval_call_args(e.call, scope, args);
      if (!e.filter)
        raise("TemplateRuntimeError",
              "No filter named '" + e.name + "' found.");  // in a soft frame
      if (!is_constant_time_filter(e.name)) budget.work(visit_work(input));
      return e.filter(*this, input, args);
    }
    case ExprKind::Test: {
      Value input = eval(*e.items[0], scope);
      CallArgs args;
      eval_call_args(e.call, scope, args);
      if (!e.test) raise("TemplateRuntimeError", "No test named '" + e.name + "' found.");
      return Value(e.test(*this, input, args));
    }
    case ExprKind::Neg:
    case ExprKind::Pos: {
      Value v = eval(*e.items[0], scope);
      if (v.is_undefined()) raise_undefined(v);
      if (v.is_float()) return Value(e.kind == ExprKind::Neg ? -v.as_float() : v.as_float());
      if (v.is_bigint()) return e.kind == ExprKind::Neg ? big_negate(v) : v;
      if (v.is_int() || v.is_bool()) {
        int64_t i = v.to_int();
        if (e.kind == ExprKind::Pos) return Value(i);
        if (i == INT64_MIN) return big_negate(v);
        return Value(-i);
      }
      raise("TypeError", std::string("bad operand type for unary ") + (e.kind == ExprKind::Neg ? "-" : "+") + ": '" +
                             v.type_name() + "'");
    }
    case ExprKind::Not: return Value(!eval(*e.items[0], scope).truthy());
    case ExprKind::Binary: {
      Value left = eval(*e.items[0], scope);  // Python evaluates left to right
      return binary_op(*this, e.bin_op, left, eval(*e.items[1], scope));
    }
    case ExprKind::And: {
      Value a = eval(*e.items[0], scope);
      return a.truthy() ? eval(*e.items[1], scope) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.items[0], scope);
      return a.truthy() ? a : eval(*e.items[1], scope);
    }
    case ExprKind::Compare: return eval_compare(e, scope);
    case ExprKind::Cond: {
      if (eval(*e.items[0], scope).truthy()) return eval(*e.items[1], scope);
      if (e.items[2]) return eval(*e.items[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::Concat: {
      std::string s;
      for (const auto& i : e.items) eval(*i, scope).append_str(s);
      check_size(s.size());
      return Value(std::move(s));
    }
  }
  return Value();
}

}  // namespace transformers::jinja
