// Python's arithmetic operators on template values, with its error messages.
#include <cmath>

#include "transformers/chat/bigint.h"
#include "transformers/chat/context.h"

namespace transformers::jinja {

namespace {

const char* op_symbol(BinOp op) {
  switch (op) {
    case BinOp::Add: return "+";
    case BinOp::Sub: return "-";
    case BinOp::Mul: return "*";
    case BinOp::Div: return "/";
    case BinOp::FloorDiv: return "//";
    case BinOp::Mod: return "%";
    case BinOp::Pow: return "** or pow()";
  }
  return "?";
}

[[noreturn]] void unsupported(BinOp op, const Value& a, const Value& b) {
  raise("TypeError", std::string("unsupported operand type(s) for ") + op_symbol(op) + ": '" + a.type_name() + "' and '" +
                         b.type_name() + "'");
}

bool is_intlike(const Value& v) { return v.is_int() || v.is_bool(); }

Value repeat(Context& ctx, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_str();
    if (n > 0 && !s.empty() && static_cast<uint64_t>(n) > ctx.options.limits.max_output_bytes / s.size()) ctx.check_size(SIZE_MAX);
    std::string out;
    out.reserve(s.size() * n);
    for (int64_t i = 0; i < n; ++i) out += s;
    return make_str(std::move(out), seq.is_safe());
  }
  const auto& items = seq.as_list().items;
  if (n > 0 && !items.empty() && static_cast<uint64_t>(n) > ctx.options.limits.max_output_bytes / (16 * items.size())) ctx.check_size(SIZE_MAX);
  std::vector<Value> out;
  out.reserve(items.size() * n);
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return seq.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

double py_fmod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  if (r == 0) r = std::copysign(0.0, b);
  return r;
}

}  // namespace

Value binary_op(Context& ctx, BinOp op, const Value& a, const Value& b) {
  // str % Undefined is str's own formatting (Undefined acts as an empty mapping there).
  if (op == BinOp::Mod && a.is_string() && b.is_undefined())
    return make_str(percent_format(ctx, a.as_str(), b, a.is_safe()), a.is_safe());
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (a.is_bigint() || b.is_bigint()) return big_arith(ctx, op, a, b);  // ints beyond 64 bits
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && is_intlike(a) && is_intlike(b);
  switch (op) {
    case BinOp::Add:
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.to_int(), b.to_int(), &r)) return big_arith(ctx, op, a, b);
        return Value(r);
      }
      if (nums) return Value(a.to_double() + b.to_double());
      if (a.is_string()) {
        if (!b.is_string()) raise("TypeError", "can only concatenate str (not \"" + b.type_name() + "\") to str");
        ctx.check_size(a.as_str().size() + b.as_str().size());
        // Markup + str and str + Markup (Markup.__radd__) escape the plain operand.
        if (a.is_safe() || b.is_safe())
          return Value::safe(escape_value(a).as_str() + escape_value(b).as_str());
        return Value(a.as_str() + b.as_str());
      }
      if (a.is_list() && !a.as_list().is_iterator() && a.as_list().view != ListObj::View::Range) {
        if (!b.is_list() || a.is_tuple() != b.is_tuple() || b.as_list().is_iterator() || b.as_list().view == ListObj::View::Range)
          raise("TypeError", "can only concatenate " + a.type_name() + " (not \"" + b.type_name() + "\") to " + a.type_name());
        std::vector<Value> items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return a.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      unsupported(op, a, b);
    case BinOp::Sub:
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.to_int(), b.to_int(), &r)) return big_arith(ctx, op, a, b);
        return Value(r);
      }
      if (nums) return Value(a.to_double() - b.to_double());
      unsupported(op, a, b);
    case BinOp::Mul:
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.to_int(), b.to_int(), &r)) return big_arith(ctx, op, a, b);
        return Value(r);
      }
      if (nums) return Value(a.to_double() * b.to_double());
      if ((a.is_string() || (a.is_list() && a.as_list().view == ListObj::View::None)) && is_intlike(b)) return repeat(ctx, a, b.to_int());
      if ((b.is_string() || (b.is_list() && b.as_list().view == ListObj::View::None)) && is_intlike(a)) return repeat(ctx, b, a.to_int());
      if (a.is_string() || b.is_string() || a.is_list() || b.is_list())
        raise("TypeError", "can't multiply sequence by non-int of type '" +
                               ((a.is_string() || a.is_list()) ? b.type_name() : a.type_name()) + "'");
      unsupported(op, a, b);
    case BinOp::Div:
      if (!nums) unsupported(op, a, b);
      if (b.to_double() == 0.0) raise("ZeroDivisionError", "division by zero");
      return Value(a.to_double() / b.to_double());
    case BinOp::FloorDiv:
      if (!nums) unsupported(op, a, b);
      if (ints) {
        if (b.to_int() == 0) raise("ZeroDivisionError", "integer division or modulo by zero");
        if (a.to_int() == INT64_MIN && b.to_int() == -1) return big_arith(ctx, op, a, b);
        return Value(floor_div(a.to_int(), b.to_int()));
      }
      if (b.to_double() == 0.0) raise("ZeroDivisionError", "float floor division by zero");
      return Value(std::floor(a.to_double() / b.to_double()));
    case BinOp::Mod:
      if (a.is_string())
        return make_str(percent_format(ctx, a.as_str(), b, a.is_safe()), a.is_safe());
      if (!nums) unsupported(op, a, b);
      if (ints) {
        if (b.to_int() == 0) raise("ZeroDivisionError", "integer modulo by zero");
        if (b.to_int() == -1) return Value(int64_t{0});
        return Value(py_mod(a.to_int(), b.to_int()));
      }
      if (b.to_double() == 0.0) raise("ZeroDivisionError", "float modulo");
      return Value(py_fmod(a.to_double(), b.to_double()));
    case BinOp::Pow:
      if (!nums) unsupported(op, a, b);
      if (ints && b.to_int() >= 0) {
        int64_t base = a.to_int(), e = b.to_int(), r = 1;
        while (e > 0) {
          if (e & 1)
            if (__builtin_mul_overflow(r, base, &r)) return big_arith(ctx, op, a, b);
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return big_arith(ctx, op, a, b);
        }
        return Value(r);
      }
      if (a.to_double() == 0.0 && b.to_double() < 0)
        raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
      return Value(std::pow(a.to_double(), b.to_double()));
  }
  unsupported(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.type()) {
    case Value::Type::String:
      if (item.is_undefined()) raise_undefined(item);
      if (!item.is_string())
        raise("TypeError", "'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_str().find(item.as_str()) != std::string::npos;
    case Value::Type::List: {
      ListObj& l = container.as_list();
      if (l.deferred_error) throw TemplateError(*l.deferred_error);
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (!l.items[i].equals(item)) continue;
        if (l.is_iterator()) l.items.erase(l.items.begin(), l.items.begin() + i + 1);  // consumed up to the match
        return true;
      }
      if (l.is_iterator()) l.items.clear();
      return false;
    }
    case Value::Type::Dict:
      if (container.is_namespace()) break;
      if ((item.is_list() && !item.is_tuple()) || item.is_dict())
        raise("TypeError", "unhashable type: '" + item.type_name() + "'");
      return container.as_dict().find(item) != nullptr;
    case Value::Type::Undefined: return false;
    default: break;
  }
  raise("TypeError", "argument of type '" + container.type_name() + "' is not iterable");
}

}  // namespace transformers::jinja
