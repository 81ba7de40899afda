// jinja2's builtin tests (`x is defined`, `x is string`, `n is divisibleby 3`, ...).
#include <unordered_map>

#include "transformers/chat/context.h"
#include "transformers/chat/parser.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

namespace {

const Value& arg0(const CallArgs& a, const char* test) {
  if (a.args.empty() && a.kwargs.empty()) raise("TypeError", std::string(test) + "() missing 1 required positional argument");
  return a.args.empty() ? a.kwargs[0].second : a.args[0];
}

bool t_defined(Context&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Context&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Context&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Context&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_true(Context&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_false(Context&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_integer(Context&, const Value& v, CallArgs&) { return v.is_int() || v.is_bigint(); }
bool t_float(Context&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Context&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Context&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Context&, const Value& v, CallArgs&) { return v.is_dict() && !v.is_namespace(); }
bool t_sequence(Context&, const Value& v, CallArgs&) {
  if (v.is_list() && v.as_list().view != ListObj::View::None && v.as_list().view != ListObj::View::Range)
    return false;  // dict views and iterators
  return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace());
}
bool t_iterable(Context&, const Value& v, CallArgs&) {
  return v.is_string() || v.is_list() || (v.is_dict() && !v.is_namespace()) || v.is_undefined();
}
bool t_callable(Context&, const Value& v, CallArgs&) { return v.is_function() || v.is_object(); }
bool t_escaped(Context&, const Value&, CallArgs&) { return false; }

int64_t int_of(const Value& v, const char* test) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  if (v.is_undefined()) raise_undefined(v);
  raise("TypeError", std::string("unsupported operand type(s) for %: '") + v.type_name() + "' and 'int' in test " + test);
}

bool t_odd(Context&, const Value& v, CallArgs&) {
  if (v.is_float()) return std::fmod(v.as_float(), 2.0) != 0;
  int64_t i = int_of(v, "odd");
  return (i % 2 + 2) % 2 == 1;
}
bool t_even(Context&, const Value& v, CallArgs&) {
  if (v.is_float()) return std::fmod(v.as_float(), 2.0) == 0;
  return int_of(v, "even") % 2 == 0;
}
bool t_divisibleby(Context& ctx, const Value& v, CallArgs& a) {
  Value r = binary_op(ctx, BinOp::Mod, v, arg0(a, "divisibleby"));
  return !r.truthy();
}

bool t_eq(Context&, const Value& v, CallArgs& a) { return v.equals(arg0(a, "eq")); }
bool t_ne(Context&, const Value& v, CallArgs& a) { return !v.equals(arg0(a, "ne")); }
bool t_lt(Context&, const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "lt"), "<") < 0; }
bool t_le(Context&, const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "le"), "<=") <= 0; }
bool t_gt(Context&, const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "gt"), ">") > 0; }
bool t_ge(Context&, const Value& v, CallArgs& a) { return compare_values(v, arg0(a, "ge"), ">=") >= 0; }
bool t_in(Context&, const Value& v, CallArgs& a) { return contains(arg0(a, "in"), v); }

bool t_sameas(Context&, const Value& v, CallArgs& a) {
  const Value& other = arg0(a, "sameas");
  if (v.type() != other.type()) return false;
  if (v.is_none() || v.is_undefined()) return true;
  if (v.is_bool() || v.is_int() || v.is_float()) return v.equals(other);
  return v.identity() == other.identity();
}

bool t_lower(Context&, const Value& v, CallArgs&) {
  std::string s = v.str();
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    if (unicode::is_upper(c)) return false;
    if (unicode::is_lower(c)) cased = true;
  }
  return cased;
}
bool t_upper(Context&, const Value& v, CallArgs&) {
  std::string s = v.str();
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    if (unicode::is_lower(c)) return false;
    if (unicode::is_upper(c)) cased = true;
  }
  return cased;
}

bool t_filter(Context&, const Value& v, CallArgs&) { return v.is_string() && find_filter(v.as_str()) != nullptr; }
bool t_test(Context&, const Value& v, CallArgs&) { return v.is_string() && find_test(v.as_str()) != nullptr; }

}  // namespace

TestFn find_test(std::string_view name) {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"true", t_true}, {"false", t_false}, {"integer", t_integer}, {"float", t_float}, {"number", t_number},
      {"string", t_string}, {"mapping", t_mapping}, {"sequence", t_sequence}, {"iterable", t_iterable},
      {"callable", t_callable}, {"escaped", t_escaped}, {"odd", t_odd}, {"even", t_even},
      {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq}, {"ne", t_ne},
      {"!=", t_ne}, {"lt", t_lt}, {"lessthan", t_lt}, {"<", t_lt}, {"le", t_le}, {"<=", t_le},
      {"gt", t_gt}, {"greaterthan", t_gt}, {">", t_gt}, {"ge", t_ge}, {">=", t_ge}, {"in", t_in},
      {"sameas", t_sameas}, {"lower", t_lower}, {"upper", t_upper}, {"filter", t_filter}, {"test", t_test},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace transformers::jinja
