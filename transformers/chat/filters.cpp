// jinja2's builtin filters on strings and scalars (sequence filters live in filters_seq.cpp),
// with HF's tojson, and the registry the parser resolves filter names against.
#include <cmath>
#include <unordered_map>

#include "transformers/chat/bigint.h"
#include "transformers/chat/context.h"
#include "transformers/chat/filters_internal.h"
#include "transformers/chat/parser.h"
#include "transformers/chat/strings.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

Value arg_or(const CallArgs& args, size_t index, std::string_view name, const Value& fallback) {
  const Value* v = args.get(index, name);
  return v ? *v : fallback;
}

namespace filters {

namespace {

const Value kNone(nullptr);

// jinja2's soft_str: str(value), Undefined -> "".
std::string s_of(const Value& v) { return v.str(); }

Value f_trim(Context&, const Value& v, CallArgs& a) {
  const Value chars = arg_or(a, 0, "chars", kNone);
  std::optional<std::string> c;
  if (!chars.is_none()) c = chars.str();
  return Value(strings::strip(s_of(v), c, true, true));
}

Value f_upper(Context&, const Value& v, CallArgs&) { return Value(unicode::upper(s_of(v))); }
Value f_lower(Context&, const Value& v, CallArgs&) { return Value(unicode::lower(s_of(v))); }
Value f_capitalize(Context&, const Value& v, CallArgs&) { return Value(strings::capitalize(s_of(v))); }

// jinja2's title: capitalise after '-', whitespace and opening brackets; lower the rest.
Value f_title(Context&, const Value& v, CallArgs&) {
  std::string s = s_of(v), out;
  bool word_start = true;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    bool sep = c == '-' || unicode::is_space(c) || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      unicode::append_utf8(out, c);
      word_start = true;
      continue;
    }
    unicode::append_utf8(out, word_start ? unicode::to_upper(c) : unicode::to_lower(c));
    word_start = false;
  }
  return Value(std::move(out));
}

Value f_replace(Context& ctx, const Value& v, CallArgs& a) {
  std::string s = s_of(v);
  const Value* old_v = a.get(0, "old");
  const Value* new_v = a.get(1, "new");
  if (!old_v || !new_v) raise("TypeError", "replace() missing required argument");
  const Value count = arg_or(a, 2, "count", kNone);
  std::string old_s = old_v->str(), new_s = new_v->str();
  if (new_s.size() > old_s.size()) {
    size_t n = 0;
    if (old_s.empty()) n = s.size() + 1;
    else
      for (size_t p = s.find(old_s); p != std::string::npos; p = s.find(old_s, p + old_s.size())) ++n;
    ctx.check_size(s.size() + n * (new_s.size() - old_s.size()));
  }
  return Value(strings::replace(s, old_s, new_s, count.is_none() ? -1 : count.to_int()));
}

Value f_string(Context&, const Value& v, CallArgs&) { return v.is_string() ? v : Value(s_of(v)); }
Value f_safe(Context&, const Value& v, CallArgs&) { return v.is_safe() ? v : Value::safe(s_of(v)); }
// |escape leaves a Markup string alone; |forceescape escapes its text again.
Value f_escape(Context&, const Value& v, CallArgs&) { return escape_value(v); }
Value f_forceescape(Context&, const Value& v, CallArgs&) {
  return Value::safe(html_escape(s_of(v)));
}

Value f_length(Context&, const Value& v, CallArgs&) {
  switch (v.type()) {
    case Value::Type::String: return Value(static_cast<int64_t>(unicode::length(v.as_str())));
    case Value::Type::List:
      if (v.as_list().is_iterator()) break;
      return Value(static_cast<int64_t>(v.as_list().items.size()));
    case Value::Type::Dict:
      if (v.is_namespace()) break;
      return Value(static_cast<int64_t>(v.as_dict().items.size()));
    case Value::Type::Undefined: return Value(int64_t{0});
    default: break;
  }
  raise("TypeError", "object of type '" + v.type_name() + "' has no len()");
}

Value f_default(Context&, const Value& v, CallArgs& a) {
  static const Value kEmpty("");
  const Value dflt = arg_or(a, 0, "default_value", kEmpty);
  const Value boolean = arg_or(a, 1, "boolean", Value(false));
  if (v.is_undefined() || (boolean.truthy() && !v.truthy())) return dflt;
  return v;
}

Value f_int(Context&, const Value& v, CallArgs& a) {
  const Value dflt = arg_or(a, 0, "default", Value(int64_t{0}));
  int64_t base = arg_or(a, 1, "base", Value(int64_t{10})).to_int();
  if (v.is_undefined()) raise_undefined(v);  // int(Undefined) fails, it is not a TypeError
  if (v.is_int() || v.is_bigint()) return v;
  if (v.is_bool()) return Value(v.to_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_float())) return dflt;
    return int_from_double(v.as_float());
  }
  if (v.is_string()) {
    std::string s = strings::strip(v.as_str(), std::nullopt, true, true);
    std::string digits;
    for (char c : s)
      if (c != '_') digits.push_back(c);
    if (!digits.empty()) {
      errno = 0;
      char* end = nullptr;
      long long r = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
      bool clean = *end == 0 && digits.find_first_of(" \t") == std::string::npos;
      if (clean && errno == 0) return Value(static_cast<int64_t>(r));
      if (clean && errno == ERANGE) {  // beyond 64 bits: Python's int has no limit
        bool negative = digits[0] == '-';
        size_t sign = digits[0] == '-' || digits[0] == '+' ? 1 : 0;
        if (auto big = parse_big_int(std::string_view(digits).substr(sign), static_cast<int>(base)))
          return negative ? big_negate(*big) : *big;
      }
      // int(float(value)).
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (*end == 0 && std::isfinite(d)) return int_from_double(d);
    }
  }
  return dflt;
}

Value f_float(Context&, const Value& v, CallArgs& a) {
  const Value dflt = arg_or(a, 0, "default", Value(0.0));
  if (v.is_undefined()) raise_undefined(v);
  if (v.is_number()) return Value(v.to_double());
  if (v.is_string()) {
    std::string s = strings::strip(v.as_str(), std::nullopt, true, true);
    std::string low = unicode::lower(s);
    if (low == "inf" || low == "+inf" || low == "infinity") return Value(HUGE_VAL);
    if (low == "-inf" || low == "-infinity") return Value(-HUGE_VAL);
    if (low == "nan" || low == "+nan" || low == "-nan") return Value(std::nan(""));
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == 0 && low.find_first_of("xp") == std::string::npos) return Value(d);
  }
  return dflt;
}

Value f_abs(Context&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_bigint() || (v.is_int() && v.as_int() == INT64_MIN))
    return compare_values(v, Value(int64_t{0})) < 0 ? big_negate(v) : v;
  if (v.is_int() || v.is_bool()) return Value(v.to_int() < 0 ? -v.to_int() : v.to_int());
  raise("TypeError", "bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(Context&, const Value& v, CallArgs& a) {
  int64_t precision = arg_or(a, 0, "precision", Value(int64_t{0})).to_int();
  std::string method = arg_or(a, 1, "method", Value("common")).str();
  if (method != "common" && method != "ceil" && method != "floor")
    raise("FilterArgumentError", "method must be common, ceil or floor");
  if (v.is_undefined()) raise_undefined(v);
  if (!v.is_number()) raise("TypeError", "type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_bigint()) return v;
    if (v.is_int() || v.is_bool()) return Value(v.to_int());
    double d = v.as_float();
    if (!std::isfinite(d)) return Value(d);
    // Python rounds the exact binary value half-to-even; printf does the same.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::clamp<int64_t>(precision, 0, 300)), d);
    double r = std::strtod(buf, nullptr);
    if (precision < 0) {
      double p = std::pow(10.0, static_cast<double>(-precision));
      r = std::nearbyint(d / p) * p;
    }
    return Value(r);
  }
  double p = std::pow(10.0, static_cast<double>(precision));
  double d = v.to_double() * p;
  return Value((method == "ceil" ? std::ceil(d) : std::floor(d)) / p);
}

Value f_indent(Context& ctx, const Value& v, CallArgs& a) {
  const Value width = arg_or(a, 0, "width", Value(int64_t{4}));
  bool first = arg_or(a, 1, "first", Value(false)).truthy();
  bool blank = arg_or(a, 2, "blank", Value(false)).truthy();
  std::string indention;
  if (width.is_string()) {
    indention = width.as_str();
  } else {
    int64_t w = width.to_int();
    ctx.check_size(static_cast<size_t>(std::max<int64_t>(w, 0)));
    indention = std::string(static_cast<size_t>(std::max<int64_t>(w, 0)), ' ');
  }
  // jinja2 does `s += "\n"` then s.splitlines(): only strings get through.
  if (v.is_list() && !v.is_tuple() && v.as_list().view == ListObj::View::None)
    raise("AttributeError", "'list' object has no attribute 'splitlines'");
  if (!v.is_string() && !v.is_undefined())
    raise("TypeError", "unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
  std::string s = s_of(v) + "\n";
  auto lines = strings::splitlines(s, false);
  ctx.check_size(s.size() + lines.size() * indention.size());
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
    }
  }
  if (first) rv = indention + rv;
  return Value(std::move(rv));
}

Value f_wordcount(Context&, const Value& v, CallArgs&) {
  std::string s = s_of(v);
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    char32_t c = unicode::decode(s, i);
    bool w = c == '_' || unicode::is_alpha(c) || unicode::is_digit(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

Value f_center(Context& ctx, const Value& v, CallArgs& a) {
  int64_t width = arg_or(a, 0, "width", Value(int64_t{80})).to_int();
  ctx.check_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
  return Value(strings::pad(s_of(v), width, ' ', 'c'));
}

Value f_truncate(Context&, const Value& v, CallArgs& a) {
  if (!v.is_string() && !v.is_undefined() && !v.is_list() && !v.is_dict())
    raise("TypeError", "object of type '" + v.type_name() + "' has no len()");
  if (v.is_list() || v.is_dict()) {
    // jinja2 returns the object itself when len() fits.
    size_t n = v.is_list() ? v.as_list().items.size() : v.as_dict().items.size();
    const Value lw0 = arg_or(a, 3, "leeway", kNone);
    if (static_cast<int64_t>(n) <= arg_or(a, 0, "length", Value(int64_t{255})).to_int() + (lw0.is_none() ? 5 : lw0.to_int()))
      return v;
  }
  std::string s = s_of(v);
  int64_t length = arg_or(a, 0, "length", Value(int64_t{255})).to_int();
  bool killwords = arg_or(a, 1, "killwords", Value(false)).truthy();
  std::string end = arg_or(a, 2, "end", Value("...")).str();
  const Value lw = arg_or(a, 3, "leeway", kNone);
  int64_t leeway = lw.is_none() ? 5 : lw.to_int();
  std::u32string u = unicode::to_u32(s);
  int64_t end_len = static_cast<int64_t>(unicode::length(end));
  if (length < end_len) raise("AssertionError", "expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (static_cast<int64_t>(u.size()) <= length + leeway) return Value(s);
  std::u32string head = u.substr(0, length - end_len);
  if (killwords) return Value(unicode::to_utf8(head) + end);
  size_t sp = head.rfind(U' ');
  if (sp != std::u32string::npos) head = head.substr(0, sp);
  return Value(unicode::to_utf8(head) + end);
}

Value f_format(Context& ctx, const Value& v, CallArgs& a) {
  std::string fmt = s_of(v);
  if (!a.kwargs.empty() && !a.args.empty()) raise("FilterArgumentError", "can't handle positional and keyword arguments at the same time");
  if (!a.kwargs.empty()) {
    Value d = Value::dict();
    for (const auto& [k, val] : a.kwargs) d.as_dict().items.emplace_back(Value(k), val);
    return make_str(percent_format(ctx, fmt, d, v.is_safe()), v.is_safe());
  }
  return make_str(percent_format(ctx, fmt, Value::tuple(a.args), v.is_safe()), v.is_safe());
}

Value f_tojson(Context&, const Value& v, CallArgs& a) {
  JsonDumpOptions o;
  o.ensure_ascii = arg_or(a, 0, "ensure_ascii", Value(false)).truthy();
  const Value indent = arg_or(a, 1, "indent", kNone);
  const Value separators = arg_or(a, 2, "separators", kNone);
  o.sort_keys = arg_or(a, 3, "sort_keys", Value(false)).truthy();
  if (!indent.is_none()) {
    o.has_indent = true;
    if (indent.is_string()) {
      o.indent = indent.as_str();
    } else {
      int64_t n = indent.to_int();
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 1024)), ' ');
    }
    o.item_separator = ",";
  }
  if (!separators.is_none()) {
    auto parts = iterate(separators);
    if (parts.size() != 2) raise("ValueError", "separators must be an (item_separator, key_separator) pair");
    o.item_separator = parts[0].str();
    o.key_separator = parts[1].str();
  }
  return Value(json_dumps(v, o));
}

Value f_attr(Context&, const Value& v, CallArgs& a) {
  if (a.args.empty()) raise("TypeError", "attr() missing required argument 'name'");
  return get_attr(v, a.args[0].str());
}

Value f_filesizeformat(Context&, const Value& v, CallArgs& a) {
  bool binary = arg_or(a, 0, "binary", Value(false)).truthy();
  double bytes = v.is_string() ? std::strtod(v.as_str().c_str(), nullptr) : v.to_double();
  double base = binary ? 1024 : 1000;
  static const char* kDec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  static const char* kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  char buf[64];
  if (bytes == 1) return Value("1 Byte");
  if (bytes < base) {
    std::snprintf(buf, sizeof buf, "%d Bytes", static_cast<int>(bytes));
    return Value(std::string(buf));
  }
  for (int i = 0; i < 8; ++i) {
    double unit = std::pow(base, i + 2);
    if (bytes < unit || i == 7) {
      std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? kBin[i] : kDec[i]);
      return Value(std::string(buf));
    }
  }
  return Value("");
}

}  // namespace

}  // namespace filters

FilterFn find_filter(std::string_view name) {
  using namespace filters;
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"trim", f_trim},
      {"upper", f_upper},
      {"lower", f_lower},
      {"capitalize", f_capitalize},
      {"title", f_title},
      {"replace", f_replace},
      {"string", f_string},
      {"safe", f_safe},
      {"escape", f_escape},
      {"e", f_escape},
      {"forceescape", f_forceescape},
      {"length", f_length},
      {"count", f_length},
      {"default", f_default},
      {"d", f_default},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"indent", f_indent},
      {"wordcount", f_wordcount},
      {"center", f_center},
      {"truncate", f_truncate},
      {"format", f_format},
      {"tojson", f_tojson},
      {"pprint", f_pprint},
      {"striptags", f_striptags},
      {"attr", f_attr},
      {"filesizeformat", f_filesizeformat},
      {"list", f_list},
      {"join", f_join},
      {"first", f_first},
      {"last", f_last},
      {"map", f_map},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"items", f_items},
      {"dictsort", f_dictsort},
      {"unique", f_unique},
      {"sort", f_sort},
      {"reverse", f_reverse},
      {"sum", f_sum},
      {"min", f_min},
      {"max", f_max},
      {"batch", f_batch},
      {"slice", f_slice},
      {"groupby", f_groupby},
      {"xmlattr", f_xmlattr},
      {"urlencode", f_urlencode},
      {"wordwrap", f_wordwrap},
      {"urlize", f_urlize},
      {"random", f_random},
  };
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace transformers::jinja
