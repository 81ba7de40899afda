#include "transformers/chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "transformers/chat/bigint.h"
#include "transformers/chat/budget.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

namespace {

// ~ListObj and ~DictObj hand the containers they were the last owner of to this list instead
// of destroying them in place, and the outermost destructor drains it: a list nested a million
// levels deep is freed in a loop, not a million nested destructor calls.
struct PendingRelease {
  std::vector<Value> values;
  bool draining = false;
};
thread_local PendingRelease pending_release;

void defer_if_last(Value& v) {
  if ((v.is_list() || v.is_dict()) && v.use_count() == 1) pending_release.values.push_back(std::move(v));
}

void drain_pending_release() {
  if (pending_release.draining) return;
  pending_release.draining = true;
  while (!pending_release.values.empty()) {
    Value v = std::move(pending_release.values.back());
    pending_release.values.pop_back();
  }  // ~Value here may run ~ListObj/~DictObj, which only append to the list
  pending_release.draining = false;
}

}  // namespace

ListObj::~ListObj() {
  for (auto& v : items) defer_if_last(v);
  items.clear();
  drain_pending_release();
}

DictObj::~DictObj() {
  for (auto& [k, v] : items) {
    defer_if_last(k);
    defer_if_last(v);
  }
  items.clear();
  drain_pending_release();
}

void raise(const std::string& kind, const std::string& message) { throw TemplateError(kind, message); }

void raise_undefined(const Value& v) {
  const std::string& hint = v.undefined_hint();
  // A leading \x01 marks the sandbox's "unsafe attribute" undefined: it fails as SecurityError.
  if (!hint.empty() && hint[0] == '\x01') raise("SecurityError", hint.substr(1));
  raise("UndefinedError", hint);
}

// ---- DictObj / CallArgs ------------------------------------------------------------------

const Value* DictObj::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_str()));
  for (const auto& [k, v] : items)
    if (k.equals(key)) return &v;
  return nullptr;
}

const Value* DictObj::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k.is_string() && k.as_str() == key) return &v;
  return nullptr;
}

void DictObj::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (k.equals(key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::kwarg(std::string_view name) const {
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

const Value* CallArgs::get(size_t index, std::string_view name) const {
  if (index < args.size()) return &args[index];
  return kwarg(name);
}

Value ObjectObj::call(Context&, CallArgs&) const { raise("TypeError", "'object' object is not callable"); }

// ---- construction ------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.v_ = UndefinedV{std::make_shared<const std::string>(std::move(hint))};
  return v;
}

Value Value::safe(std::string text) {
  Value v;
  v.v_ = SafeStringV{std::make_shared<const std::string>(std::move(text))};
  return v;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

Value escape_value(const Value& v) { return v.is_safe() ? v : Value::safe(html_escape(v.str())); }

Value Value::list(std::vector<Value> items) {
  auto l = std::make_shared<ListObj>();
  l->items = std::move(items);
  return Value(std::move(l));
}

Value Value::tuple(std::vector<Value> items) {
  auto l = std::make_shared<ListObj>();
  l->items = std::move(items);
  l->is_tuple = true;
  return Value(std::move(l));
}

Value Value::dict() { return Value(std::make_shared<DictObj>()); }

Value Value::generator(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.as_list().view = ListObj::View::Generator;
  return v;
}

Value Value::function(std::string name, std::function<Value(Context&, CallArgs&)> fn) {
  auto f = std::make_shared<FunctionObj>();
  f->name = std::move(name);
  f->fn = std::move(fn);
  return Value(std::move(f));
}

namespace {
Value value_from_json(const OrderedJson& j, std::string_view what, int depth) {
  if (depth > kMaxValueDepth)
    throw FormatError(std::string(what) + ": JSON nested deeper than " + std::to_string(kMaxValueDepth) + " levels");
  switch (j.type()) {
    case OrderedJson::value_t::null: return Value(nullptr);
    case OrderedJson::value_t::boolean: return Value(j.get<bool>());
    case OrderedJson::value_t::number_integer: return Value(j.get<int64_t>());
    case OrderedJson::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case OrderedJson::value_t::number_float: return Value(j.get<double>());
    case OrderedJson::value_t::string: return Value(j.get_ref<const std::string&>());
    case OrderedJson::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(value_from_json(e, what, depth + 1));
      return Value::list(std::move(items));
    }
    case OrderedJson::value_t::object: {
      auto d = std::make_shared<DictObj>();
      d->items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d->items.emplace_back(Value(it.key()), value_from_json(it.value(), what, depth + 1));
      return Value(std::move(d));
    }
    default: return Value(nullptr);
  }
}
}  // namespace

Value Value::from_json(const OrderedJson& j, std::string_view what) { return value_from_json(j, what, 0); }

long Value::use_count() const {
  switch (type()) {
    case Type::String: return string_ptr().use_count();
    case Type::List: return list_ptr().use_count();
    case Type::Dict: return dict_ptr().use_count();
    default: return 0;
  }
}

std::weak_ptr<const void> Value::weak_ref() const {
  switch (type()) {
    case Type::String: return string_ptr();
    case Type::List: return list_ptr();
    case Type::Dict: return dict_ptr();
    default: return {};
  }
}

// ---- accessors ---------------------------------------------------------------------------

double Value::to_double() const {
  switch (type()) {
    case Type::Bool: return as_bool() ? 1.0 : 0.0;
    case Type::Int: return static_cast<double>(as_int());
    case Type::Float: return as_float();
    case Type::BigInt:
      return big_to_double(as_bigint());
    case Type::Undefined: raise_undefined(*this);
    default: raise("TypeError", "must be real number, not " + type_name());
  }
}

int64_t Value::to_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  if (is_int()) return as_int();
  if (is_bigint()) raise("OverflowError", "Python int too large to convert to C ssize_t");
  if (is_undefined()) raise_undefined(*this);
  raise("TypeError", "'" + type_name() + "' object cannot be interpreted as an integer");
}

const std::string& Value::undefined_hint() const {
  static const std::string kEmpty = "undefined value";
  const auto& u = std::get<UndefinedV>(v_);
  return u.hint ? *u.hint : kEmpty;
}

bool Value::truthy() const {
  switch (type()) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return as_bool();
    case Type::Int: return as_int() != 0;
    case Type::Float: return as_float() != 0.0;
    case Type::String: return !as_str().empty();
    case Type::List: return as_list().is_iterator() || !as_list().items.empty();
    case Type::Dict: return is_namespace() || !as_dict().items.empty();
    default: return true;
  }
}

std::string Value::type_name() const {
  switch (type()) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int:
    case Type::BigInt:
      return "int";
    case Type::Float: return "float";
    case Type::String:
      return is_safe() ? "Markup" : "str";
    case Type::List:
      if (as_list().view == ListObj::View::Generator) return "generator";
      if (as_list().view == ListObj::View::ReverseIterator) return "list_reverseiterator";
      if (as_list().view == ListObj::View::Range) return "range";
      return is_tuple() ? "tuple" : "list";
    case Type::Dict: return is_namespace() ? "Namespace" : "dict";
    case Type::Function: return as_function().is_macro ? "Macro" : "builtin_function_or_method";
    case Type::Object: return "object";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  if (v.is_namespace()) return "jinja2.utils.Namespace object";
  if (v.is_undefined()) return "jinja2.runtime.Undefined object";
  return v.type_name() + " object";
}

const void* Value::identity() const {
  switch (type()) {
    case Type::String: return &as_str();
    case Type::List: return &as_list();
    case Type::Dict: return &as_dict();
    case Type::Function: return &as_function();
    case Type::Object: return &as_object();
    default: return nullptr;
  }
}

int64_t truncate_to_int(double d) {
  if (std::isnan(d)) raise("ValueError", "cannot convert float NaN to integer");
  if (std::isinf(d)) raise("OverflowError", "cannot convert float infinity to integer");
  double t = std::trunc(d);
  if (t >= 9223372036854775808.0 || t < -9223372036854775808.0)
    raise("OverflowError", "integer too large for this engine (64-bit)");
  return static_cast<int64_t>(t);
}

std::optional<int64_t> parse_digits(std::string_view digits) {
  if (digits.empty() || digits.size() > 18) {
    if (digits.size() > 18) return std::nullopt;
  }
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// ---- printing ----------------------------------------------------------------------------

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  int exp = std::stoi(sci.substr(e + 1));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  } else if (exp >= 0) {
    if (static_cast<int>(digits.size()) <= exp + 1) {
      out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
  } else {
    out += "0." + std::string(-exp - 1, '0') + digits;
  }
  return out;
}

void append_string_repr(std::string& out, std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  out.push_back(quote);
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F) {
      if (b == '\\' || b == static_cast<unsigned char>(quote)) out.push_back('\\');
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    size_t start = i;
    char32_t c = unicode::decode(s, i);
    char buf[16];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (unicode::is_printable(c)) {
      out.append(s.substr(start, i - start));
    } else {
      if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    }
  }
  out.push_back(quote);
}

void Value::append_str(std::string& out) const {
  switch (type()) {
    case Type::Undefined: return;
    case Type::String: out += as_str(); return;
    default: append_repr(out); return;
  }
}

std::string Value::str() const {
  if (is_string()) return as_str();
  std::string out;
  append_str(out);
  return out;
}

std::string Value::repr() const {
  std::string out;
  append_repr(out);
  return out;
}

void Value::append_repr(std::string& out, int depth) const {
  if (depth > kMaxValueDepth) raise("RecursionError", "maximum recursion depth exceeded while getting the repr of an object");
  charge_work(1);
  switch (type()) {
    case Type::Undefined: out += "Undefined"; return;  // repr(Undefined); str() is ""
    case Type::None: out += "None"; return;
    case Type::Bool: out += as_bool() ? "True" : "False"; return;
    case Type::Int: out += std::to_string(as_int()); return;
    case Type::BigInt:
      out += big_str(as_bigint());
      return;
    case Type::Float: out += float_repr(as_float()); return;
    case Type::String:
      if (is_safe()) out += "Markup(";
      append_string_repr(out, as_str());
      if (is_safe()) out += ")";
      return;
    case Type::List: {
      const auto& l = as_list();
      if (l.is_iterator()) {  // Python shows an address here; no output can match it
        out += "<" + type_name() + " object>";
        return;
      }
      if (l.view == ListObj::View::Range) {
        out += "range(" + std::to_string(l.range_start) + ", " + std::to_string(l.range_stop);
        if (l.range_step != 1) out += ", " + std::to_string(l.range_step);
        out += ")";
        return;
      }
      static const char* const kViews[] = {"", "dict_items(", "dict_keys(", "dict_values("};
      out += kViews[static_cast<int>(l.view)];
      out.push_back(l.is_tuple ? '(' : '[');
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        l.items[i].append_repr(out, depth + 1);
        check_built_string(out.size());  // a list shared at every level prints exponentially
      }
      if (l.is_tuple && l.items.size() == 1) out.push_back(',');
      out.push_back(l.is_tuple ? ')' : ']');
      if (l.view != ListObj::View::None) out.push_back(')');
      return;
    }
    case Type::Dict: {
      const auto& d = as_dict();
      if (d.is_namespace) out += "<Namespace ";
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : d.items) {
        if (!first) out += ", ";
        first = false;
        k.append_repr(out, depth + 1);
        out += ": ";
        v.append_repr(out, depth + 1);
        check_built_string(out.size());
      }
      out.push_back('}');
      if (d.is_namespace) out.push_back('>');
      return;
    }
    case Type::Function: {
      const auto& f = as_function();
      if (f.is_macro) out += "<Macro '" + f.name + "'>";
      else out += "<built-in function " + f.name + ">";
      return;
    }
    case Type::Object: out += as_object().repr(); return;
  }
}

// ---- comparison --------------------------------------------------------------------------

namespace {
// Comparing nested lists and dicts recurses: bounded like Python's RecursionError.
thread_local int comparison_depth = 0;
struct ComparisonDepth {
  ComparisonDepth() {
    if (++comparison_depth > kMaxValueDepth) {
      --comparison_depth;
      raise("RecursionError", "maximum recursion depth exceeded in comparison");
    }
  }
  ~ComparisonDepth() { --comparison_depth; }
};
}  // namespace

bool Value::equals(const Value& other) const {
  // Python's containers compare an item with itself as equal without looking inside it.
  if (identity() != nullptr && identity() == other.identity()) return true;
  Type a = type(), b = other.type();
  if (is_number() && other.is_number()) {
    if (a == Type::BigInt || b == Type::BigInt) return big_compare(*this, other) == 0;
    if ((a == Type::Int || a == Type::Bool) && (b == Type::Int || b == Type::Bool)) return to_int() == other.to_int();
    return to_double() == other.to_double();
  }
  if (a != b) return false;
  switch (a) {
    case Type::Undefined:
    case Type::None: return true;
    case Type::String:
      charge_scan(as_str().size());
      return as_str() == other.as_str();
    case Type::List: {
      const auto &x = as_list(), &y = other.as_list();
      if (x.is_iterator() || y.is_iterator()) return &x == &y;
      ComparisonDepth guard;
      charge_work(static_cast<int64_t>(x.items.size()));
      if ((x.view == ListObj::View::Range) != (y.view == ListObj::View::Range)) return false;
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!x.items[i].equals(y.items[i])) return false;
      return true;
    }
    case Type::Dict: {
      const auto &x = as_dict(), &y = other.as_dict();
      if (x.is_namespace || y.is_namespace) return &x == &y;
      if (x.items.size() != y.items.size()) return false;
      ComparisonDepth guard;
      charge_work(static_cast<int64_t>(x.items.size() * x.items.size()));  // each key found by a scan
      for (const auto& [k, v] : x.items) {
        const Value* w = y.find(k);
        if (!w || !v.equals(*w)) return false;
      }
      return true;
    }
    default: return identity() == other.identity();
  }
}

int compare_values(const Value& a, const Value& b, const char* op) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_bigint() || b.is_bigint()) return big_compare(a, b);
    if (!a.is_float() && !b.is_float()) {
      int64_t x = a.to_int(), y = b.to_int();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    double x = a.to_double(), y = b.to_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    charge_scan(std::min(a.as_str().size(), b.as_str().size()));
    int c = a.as_str().compare(b.as_str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto &x = a.as_list().items, &y = b.as_list().items;
    ComparisonDepth guard;
    charge_work(static_cast<int64_t>(std::min(x.size(), y.size())));
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (x[i].equals(y[i])) continue;
      return compare_values(x[i], y[i], op);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  raise("TypeError", std::string("'") + op + "' not supported between instances of '" + a.type_name() + "' and '" +
                         b.type_name() + "'");
}

// ---- json.dumps --------------------------------------------------------------------------

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80) {
      size_t start = i;
      char32_t c = unicode::decode(s, i);
      if (!ensure_ascii) {
        out.append(s.substr(start, i - start));
        continue;
      }
      char buf[16];
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                      static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
      continue;
    }
    ++i;
    switch (b) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (b < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", b);
          out += buf;
        } else {
          out.push_back(static_cast<char>(b));
        }
    }
  }
  out.push_back('"');
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return float_repr(d);
}

std::string json_key(const Value& k) {
  switch (k.type()) {
    case Value::Type::String: return k.as_str();
    case Value::Type::Bool: return k.as_bool() ? "true" : "false";
    case Value::Type::None: return "null";
    case Value::Type::Int: return std::to_string(k.as_int());
    case Value::Type::BigInt:
      return big_str(k.as_bigint());
    case Value::Type::Float: return json_float(k.as_float());
    default:
      raise("TypeError", "keys must be str, int, float, bool or None, not " + k.type_name());
  }
}

void newline_indent(std::string& out, const JsonDumpOptions& o, int level) {
  out.push_back('\n');
  for (int i = 0; i < level; ++i) out += o.indent;
}

void dump(std::string& out, const Value& v, const JsonDumpOptions& o, int level) {
  if (level > kMaxValueDepth) raise("RecursionError", "maximum recursion depth exceeded while encoding a JSON object");
  charge_work(1);
  check_built_string(out.size());
  switch (v.type()) {
    case Value::Type::None: out += "null"; return;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Type::Int: out += std::to_string(v.as_int()); return;
    case Value::Type::BigInt:
      out += big_str(v.as_bigint());
      return;
    case Value::Type::Float: out += json_float(v.as_float()); return;
    case Value::Type::String: json_string(out, v.as_str(), o.ensure_ascii); return;
    case Value::Type::List: {
      if (v.as_list().is_iterator() || v.as_list().view == ListObj::View::Range) break;
      const auto& items = v.as_list().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        if (o.has_indent) newline_indent(out, o, level + 1);
        dump(out, items[i], o, level + 1);
      }
      if (o.has_indent) newline_indent(out, o, level);
      out.push_back(']');
      return;
    }
    case Value::Type::Dict: {
      if (v.is_namespace()) break;
      const auto& d = v.as_dict();
      if (d.items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : d.items) items.push_back(&kv);
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return compare_values(a->first, b->first) < 0; });
      out.push_back('{');
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += o.item_separator;
        first = false;
        if (o.has_indent) newline_indent(out, o, level + 1);
        json_string(out, json_key(kv->first), o.ensure_ascii);
        out += o.key_separator;
        dump(out, kv->second, o, level + 1);
      }
      if (o.has_indent) newline_indent(out, o, level);
      out.push_back('}');
      return;
    }
    default: break;
  }
  std::string name = v.is_undefined() ? "Undefined" : v.is_namespace() ? "Namespace" : v.type_name();
  raise("TypeError", "Object of type " + name + " is not JSON serializable");
}

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  std::string out;
  dump(out, v, options, 0);
  return out;
}

}  // namespace transformers::jinja
