// The runtime value of the Jinja engine, with Python's semantics: str/int/float/bool/None, lists
// and tuples, insertion-ordered dicts, jinja2's Undefined (which carries the message it fails
// with), callables (macros, builtins, bound methods) and a few objects (loop, namespace).
// Printing follows Python: str() for output, repr() inside containers, exactly as jinja2 shows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/io/json.h"

namespace transformers {

// A template failed while rendering. kind() is the Python exception name jinja2 would raise
// (TemplateError for raise_exception, UndefinedError, TypeError, SecurityError, ...); what() is
// exactly the message, so raise_exception("x") fails with what() == "x".
class TemplateError : public Error {
 public:
  TemplateError(std::string kind, const std::string& message)
      : Error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }
  // The template line of the statement that failed (0 if unknown); not part of what(), which
  // stays exactly the message Python would show.
  int line() const { return line_; }
  void set_line(int line) { line_ = line; }

 private:
  std::string kind_;
  int line_ = 0;
};

namespace jinja {

class Value;
class Context;
struct BigInt;  // an int beyond int64 (bigint.h)

struct ListObj {
  std::vector<Value> items;
  bool is_tuple = false;
  bool is_group = false;  // groupby's (grouper, list) named tuple
  // dict.items()/keys()/values() return views; they print as dict_items([...]) etc.
  enum class View : uint8_t { None, Items, Keys, Values, Generator, ReverseIterator, Range } view = View::None;
  int64_t range_start = 0, range_stop = 0, range_step = 1;  // View::Range: prints as range(a, b)
  // jinja2's select/map/unique/batch/... return generators and reverse an iterator: lazy, always
  // true, without len(), consumed by the first iteration. We hold the items and mimic that.
  bool is_iterator() const { return view == View::Generator || view == View::ReverseIterator; }
  // A generator's body runs when it is first iterated: a failure is raised then, not before.
  std::shared_ptr<const TemplateError> deferred_error;

  ListObj() = default;
  ListObj(const ListObj&) = default;
  ListObj& operator=(const ListObj&) = default;
  ~ListObj();  // releases nested values without recursion (any depth)
};

// A Python dict (insertion ordered). Linear search: template dicts are small (messages, tool
// schemas), and a scan over a handful of short keys beats hashing.
struct DictObj {
  std::vector<std::pair<Value, Value>> items;
  bool is_namespace = false;  // jinja2's namespace(): the only mutable object in the sandbox

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);

  DictObj() = default;
  DictObj(const DictObj&) = default;
  DictObj& operator=(const DictObj&) = default;
  ~DictObj();  // releases nested values without recursion (any depth)
};

// Deepest nesting of lists and dicts that from_json accepts and that repr, tojson and comparisons
// follow (Python's own limit is its recursion limit of 1000 frames).
constexpr int kMaxValueDepth = 512;

struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;

  // Python-style binding of (positional or keyword) parameter `index` named `name`.
  const Value* get(size_t index, std::string_view name) const;
  const Value* kwarg(std::string_view name) const;
};

struct FunctionObj {
  std::string name;
  std::function<Value(Context&, CallArgs&)> fn;
  bool is_macro = false;
};

// Objects with attributes computed on access (the loop variable, cyclers, ...).
struct ObjectObj {
  virtual ~ObjectObj() = default;
  virtual Value get_attr(std::string_view name) const = 0;
  virtual std::string repr() const = 0;
  virtual Value call(Context& ctx, CallArgs& args) const;
};

// markupsafe's Markup: a str already safe for HTML, which |safe and |escape return. Even with
// autoescape off (HF's environment) it escapes the plain-str operands of +, % and .format.
struct SafeStringV {
  std::shared_ptr<const std::string> text;
};

struct UndefinedV {
  std::shared_ptr<const std::string> hint;  // the message UndefinedError would carry
};
struct NoneV {};

class Value {
 public:
  // The variant's index, except that a Markup string (index 10) is a String. BigInt is an int
  // beyond 64 bits: is_number() but not is_int(); as_int() never sees it.
  enum class Type : uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Dict,
    Function,
    Object,
    BigInt = 11
  };

  Value() : v_(UndefinedV{}) {}
  Value(std::nullptr_t) : v_(NoneV{}) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(size_t i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::make_shared<const std::string>(s)) {}
  Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}
  Value(std::string_view s) : v_(std::make_shared<const std::string>(s)) {}
  Value(std::shared_ptr<ListObj> l) : v_(std::move(l)) {}
  Value(std::shared_ptr<DictObj> d) : v_(std::move(d)) {}
  Value(std::shared_ptr<FunctionObj> f) : v_(std::move(f)) {}
  Value(std::shared_ptr<ObjectObj> o) : v_(std::move(o)) {}
  Value(std::shared_ptr<const BigInt> b) : v_(std::move(b)) {}

  static Value undefined(std::string hint = {});
  static Value safe(std::string text);  // a Markup string
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items);
  static Value dict();
  static Value generator(std::vector<Value> items);
  static Value function(std::string name, std::function<Value(Context&, CallArgs&)> fn);
  // FormatError naming `what` (e.g. "conversation 'messages'") past kMaxValueDepth levels.
  static Value from_json(const OrderedJson& j, std::string_view what = "JSON value");

  // A Markup string is a str (Python: a str subclass); is_safe() tells it apart.
  Type type() const {
    return v_.index() == kSafeIndex ? Type::String : static_cast<Type>(v_.index());
  }
  bool is_safe() const { return v_.index() == kSafeIndex; }
  bool is_undefined() const { return type() == Type::Undefined; }
  bool is_none() const { return type() == Type::None; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_int() const { return type() == Type::Int; }
  bool is_float() const { return type() == Type::Float; }
  bool is_bigint() const { return type() == Type::BigInt; }
  bool is_number() const { return is_int() || is_float() || is_bool() || is_bigint(); }
  bool is_string() const { return type() == Type::String; }
  bool is_list() const { return type() == Type::List; }
  bool is_tuple() const { return is_list() && std::get<std::shared_ptr<ListObj>>(v_)->is_tuple; }
  bool is_dict() const { return type() == Type::Dict; }
  bool is_namespace() const { return is_dict() && as_dict().is_namespace; }
  bool is_function() const { return type() == Type::Function; }
  bool is_object() const { return type() == Type::Object; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  // Numeric value of a bool/int/float (Python: bool is an int).
  double to_double() const;
  int64_t to_int() const;  // bool or int (OverflowError for a BigInt, as Python's index-sized ints)
  const std::string& as_str() const { return *string_ptr(); }
  ListObj& as_list() const { return *std::get<std::shared_ptr<ListObj>>(v_); }
  DictObj& as_dict() const { return *std::get<std::shared_ptr<DictObj>>(v_); }
  FunctionObj& as_function() const { return *std::get<std::shared_ptr<FunctionObj>>(v_); }
  const ObjectObj& as_object() const { return *std::get<std::shared_ptr<ObjectObj>>(v_); }
  const BigInt& as_bigint() const { return *std::get<std::shared_ptr<const BigInt>>(v_); }
  // The shared text of a str or Markup string.
  const std::shared_ptr<const std::string>& string_ptr() const {
    return is_safe() ? std::get<SafeStringV>(v_).text : std::get<std::shared_ptr<const std::string>>(v_);
  }
  const std::shared_ptr<DictObj>& dict_ptr() const { return std::get<std::shared_ptr<DictObj>>(v_); }
  const std::shared_ptr<ListObj>& list_ptr() const { return std::get<std::shared_ptr<ListObj>>(v_); }
  const std::string& undefined_hint() const;
  // For strings, lists and dicts: how many Values share the object (1: just built), and a weak
  // reference to it (the render's memory budget watches big values with these). 0 / empty else.
  long use_count() const;
  std::weak_ptr<const void> weak_ref() const;

  // Python truthiness.
  bool truthy() const;
  // Python str() (what {{ }} prints; Undefined prints as "").
  std::string str() const;
  void append_str(std::string& out) const;
  // Python repr() (used inside lists and dicts).
  std::string repr() const;
  void append_repr(std::string& out, int depth = 0) const;
  // The Python type name used in error messages: 'str', 'int', 'dict', 'NoneType', ...
  std::string type_name() const;

  // Python ==.
  bool equals(const Value& other) const;
  // A stable identity of the underlying object (for the `sameas` test).
  const void* identity() const;

 private:
  std::variant<UndefinedV, NoneV, bool, int64_t, double, std::shared_ptr<const std::string>,
               std::shared_ptr<ListObj>, std::shared_ptr<DictObj>, std::shared_ptr<FunctionObj>,
               std::shared_ptr<ObjectObj>, SafeStringV, std::shared_ptr<const BigInt>>
      v_;
  static constexpr size_t kSafeIndex = 10;
};

// markupsafe.escape: & < > " ' as HTML entities (a Markup string is returned unchanged).
std::string html_escape(std::string_view text);
Value escape_value(const Value& v);
// A str, or a Markup string when `safe` (what a Markup operand's methods return).
inline Value make_str(std::string text, bool safe) {
  return safe ? Value::safe(std::move(text)) : Value(std::move(text));
}

// Throws TemplateError(kind, message).
[[noreturn]] void raise(const std::string& kind, const std::string& message);
// Throws the UndefinedError that using `v` (an Undefined) in an operation raises.
[[noreturn]] void raise_undefined(const Value& v);

// int(d) for a finite double in int64 range; OverflowError otherwise (Python would go bigint).
int64_t truncate_to_int(double d);
// Parses a run of decimal digits; nullopt when it does not fit in int64.
std::optional<int64_t> parse_digits(std::string_view digits);

// Python float repr: shortest round-trip digits, "1.0", "1e+16", "inf", "nan".
std::string float_repr(double d);
// Python repr of a str: single quotes unless the text has ' and no ".
void append_string_repr(std::string& out, std::string_view s);

// Python's `<`: TypeError between incompatible types. Returns <0, 0, >0.
int compare_values(const Value& a, const Value& b, const char* op = "<");

// json.dumps(value, ensure_ascii, indent, separators, sort_keys) as HF's tojson calls it.
struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::string indent;  // empty with has_indent=false: no newlines
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string json_dumps(const Value& v, const JsonDumpOptions& options);

// Python's object_type_repr used in Undefined messages: "dict object", "None", ...
std::string object_type_repr(const Value& v);

}  // namespace jinja
}  // namespace transformers
