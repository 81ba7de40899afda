// Attribute and item access under jinja2's ImmutableSandboxedEnvironment: `a.b` tries the
// Python attribute (a method) first and then the item; `a[b]` the item first, then the
// attribute. Mutating methods (list.append, dict.update, ...) and dunder attributes are unsafe.
#include <algorithm>

#include "transformers/chat/context.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

bool call_str_method(Context& ctx, const Value& self, std::string_view name, CallArgs& args,
                     Value& result);
bool is_str_method(std::string_view name);

namespace {

bool in(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool is_dict_method(std::string_view n) { return in(n, {"items", "keys", "values", "get", "copy"}); }
bool is_list_method(std::string_view n) { return in(n, {"index", "count", "copy"}); }
bool is_unsafe_dict_method(std::string_view n) { return in(n, {"clear", "pop", "popitem", "setdefault", "update"}); }
bool is_unsafe_list_method(std::string_view n) {
  return in(n, {"append", "clear", "pop", "remove", "reverse", "sort", "extend", "insert"});
}

Value unsafe(const Value& obj, std::string_view name) {
  std::string type = obj.is_namespace() ? "Namespace" : obj.type_name();
  return Value::undefined("\x01" "access to attribute '" + std::string(name) + "' of '" + type + "' object is unsafe.");
}

Value no_attribute(const Value& obj, std::string_view name) {
  std::string tr = object_type_repr(obj);
  std::string out;
  append_string_repr(out, tr);
  out += " has no attribute ";
  append_string_repr(out, name);
  return Value::undefined(std::move(out));
}

Value no_element(const Value& obj, const Value& key) {
  return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
}

Value bound_method(const Value& obj, std::string_view name) {
  std::string n(name);
  return Value::function(n, [obj, n](Context& ctx, CallArgs& args) {
    Value result;
    if (!call_method(ctx, obj, n, args, result)) raise("TypeError", "'" + n + "' is not callable");
    return result;
  });
}

// Python index normalisation; false when out of range.
bool normalize_index(int64_t& i, size_t size) {
  if (i < 0) i += static_cast<int64_t>(size);
  return i >= 0 && static_cast<size_t>(i) < size;
}

}  // namespace

Value get_attr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) raise_undefined(obj);
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return unsafe(obj, name);
  switch (obj.type()) {
    case Value::Type::Dict: {
      if (!obj.is_namespace()) {
        if (is_dict_method(name)) return bound_method(obj, name);
        if (is_unsafe_dict_method(name)) return unsafe(obj, name);
      }
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return no_attribute(obj, name);
    }
    case Value::Type::String:
      if (is_str_method(name)) return bound_method(obj, name);
      return no_attribute(obj, name);
    case Value::Type::List:
      if (obj.as_list().is_group && (name == "grouper" || name == "list"))
        return obj.as_list().items[name == "grouper" ? 0 : 1];
      if (is_list_method(name)) return bound_method(obj, name);
      if (!obj.is_tuple() && is_unsafe_list_method(name)) return unsafe(obj, name);
      return no_attribute(obj, name);
    case Value::Type::Object: return obj.as_object().get_attr(name);
    case Value::Type::Function:
      if (name == "name") return Value(obj.as_function().name);
      return no_attribute(obj, name);
    default: return no_attribute(obj, name);
  }
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  switch (obj.type()) {
    case Value::Type::List: {
      if (obj.as_list().is_iterator()) break;  // not subscriptable
      const auto& items = obj.as_list().items;
      if (key.is_int() || key.is_bool()) {
        int64_t i = key.to_int();
        if (normalize_index(i, items.size())) return items[i];
        return no_element(obj, key);
      }
      break;
    }
    case Value::Type::String: {
      if (key.is_int() || key.is_bool()) {
        const std::string& s = obj.as_str();
        int64_t i = key.to_int();
        if (unicode::is_ascii(s)) {
          if (normalize_index(i, s.size())) return Value(std::string(1, s[i]));
          return no_element(obj, key);
        }
        std::u32string u = unicode::to_u32(s);
        if (normalize_index(i, u.size())) return Value(unicode::to_utf8(std::u32string_view(&u[i], 1)));
        return no_element(obj, key);
      }
      break;
    }
    case Value::Type::Dict:
      if (!obj.is_namespace()) {
        if (const Value* v = obj.as_dict().find(key)) return *v;
      }
      break;
    default: break;
  }
  if (key.is_string()) return get_attr(obj, key.as_str());
  return no_element(obj, key);
}

Value slice_value(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) raise_undefined(obj);
  auto as_index = [](const Value& v, bool& present) -> int64_t {
    present = !v.is_none();
    if (!present) return 0;
    if (!v.is_int() && !v.is_bool())
      raise("TypeError", "slice indices must be integers or None or have an __index__ method");
    return v.to_int();
  };
  bool has_start, has_stop, has_step;
  int64_t start = as_index(start_v, has_start), stop = as_index(stop_v, has_stop), step = as_index(step_v, has_step);
  if (!has_step) step = 1;
  if (step == 0) raise("ValueError", "slice step cannot be zero");

  std::u32string u;
  const std::vector<Value>* items = nullptr;
  bool ascii = false;
  int64_t len;
  if (obj.is_string()) {
    ascii = unicode::is_ascii(obj.as_str());
    if (!ascii) u = unicode::to_u32(obj.as_str());
    len = ascii ? static_cast<int64_t>(obj.as_str().size()) : static_cast<int64_t>(u.size());
  } else if (obj.is_list()) {
    if (obj.as_list().is_iterator())
      return Value::undefined(object_type_repr(obj) + " has no element slice(" + start_v.repr() + ", " + stop_v.repr() + ", " +
                              step_v.repr() + ")");
    items = &obj.as_list().items;
    len = static_cast<int64_t>(items->size());
  } else {
    raise("TypeError", "'" + obj.type_name() + "' object is not subscriptable");
  }
  auto adjust = [&](int64_t& i, bool present, int64_t dflt) {
    if (!present) {
      i = dflt;
      return;
    }
    if (i < 0) {
      i += len;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= len) {
      i = step < 0 ? len - 1 : len;
    }
  };
  adjust(start, has_start, step < 0 ? len - 1 : 0);
  adjust(stop, has_stop, step < 0 ? -1 : len);

  if (obj.is_string()) {
    if (ascii && step == 1) {
      const std::string& s = obj.as_str();
      return Value(stop > start ? s.substr(start, stop - start) : std::string());
    }
    std::u32string out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
      out.push_back(ascii ? static_cast<char32_t>(obj.as_str()[i]) : u[i]);
    return Value(unicode::to_utf8(out));
  }
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back((*items)[i]);
  return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return {};
    case Value::Type::List: {
      ListObj& l = v.as_list();
      if (l.deferred_error) throw TemplateError(*l.deferred_error);
      if (l.is_iterator()) return std::move(l.items);  // consumed, as a Python generator
      return l.items;
    }
    case Value::Type::Dict: {
      if (v.is_namespace()) break;
      std::vector<Value> keys;
      keys.reserve(v.as_dict().items.size());
      for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Type::String: {
      std::vector<Value> chars;
      const std::string& s = v.as_str();
      for (size_t i = 0; i < s.size();) {
        size_t start = i;
        unicode::decode(s, i);
        chars.emplace_back(std::string_view(s).substr(start, i - start));
      }
      return chars;
    }
    default: break;
  }
  raise("TypeError", "'" + v.type_name() + "' object is not iterable");
}

bool call_method(Context& ctx, const Value& obj, std::string_view name, CallArgs& args, Value& result) {
  switch (obj.type()) {
    case Value::Type::String:
      return call_str_method(ctx, obj, name, args, result);
    case Value::Type::Dict: {
      if (obj.is_namespace()) return false;
      const auto& d = obj.as_dict();
      if (name == "items") {
        std::vector<Value> out;
        out.reserve(d.items.size());
        for (const auto& [k, v] : d.items) out.push_back(Value::tuple({k, v}));
        result = Value::list(std::move(out));
        result.as_list().view = ListObj::View::Items;
        return true;
      }
      if (name == "keys" || name == "values") {
        std::vector<Value> out;
        out.reserve(d.items.size());
        for (const auto& [k, v] : d.items) out.push_back(name == "keys" ? k : v);
        result = Value::list(std::move(out));
        result.as_list().view = name == "keys" ? ListObj::View::Keys : ListObj::View::Values;
        return true;
      }
      if (name == "get") {
        if (args.args.empty()) raise("TypeError", "get expected at least 1 argument, got 0");
        const Value& key = args.args[0];
        if ((key.is_list() && !key.is_tuple()) || key.is_dict()) raise("TypeError", "unhashable type: '" + key.type_name() + "'");
        const Value* v = d.find(key);
        result = v ? *v : (args.args.size() > 1 ? args.args[1] : Value(nullptr));
        return true;
      }
      if (name == "copy") {
        auto c = std::make_shared<DictObj>(d);
        result = Value(std::move(c));
        return true;
      }
      return false;
    }
    case Value::Type::List: {
      const auto& items = obj.as_list().items;
      if (name == "index" || name == "count") {
        if (args.args.empty()) raise("TypeError", std::string(name) + "() takes at least 1 argument (0 given)");
        int64_t count = 0;
        for (size_t i = 0; i < items.size(); ++i) {
          if (!items[i].equals(args.args[0])) continue;
          if (name == "index") {
            result = Value(static_cast<int64_t>(i));
            return true;
          }
          ++count;
        }
        if (name == "index") raise("ValueError", args.args[0].repr() + " is not in list");
        result = Value(count);
        return true;
      }
      if (name == "copy") {
        result = Value::list(items);
        return true;
      }
      return false;
    }
    default: return false;
  }
}

}  // namespace transformers::jinja
