// The environment's global functions: jinja2's defaults (range, dict, namespace, cycler,
// joiner) and those HF adds for chat templates (raise_exception, strftime_now).
#include <ctime>
#include <unordered_map>

#include "transformers/chat/context.h"

namespace transformers::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

int64_t int_arg(const Value& v) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  if (v.is_undefined()) raise_undefined(v);
  raise("TypeError", "'" + v.type_name() + "' object cannot be interpreted as an integer");
}

Value range_fn(Context&, CallArgs& a) {
  if (a.args.empty() || a.args.size() > 3) raise("TypeError", "range expected 1 to 3 arguments, got " + std::to_string(a.args.size()));
  int64_t start = 0, stop, step = 1;
  if (a.args.size() == 1) {
    stop = int_arg(a.args[0]);
  } else {
    start = int_arg(a.args[0]);
    stop = int_arg(a.args[1]);
    if (a.args.size() == 3) step = int_arg(a.args[2]);
  }
  if (step == 0) raise("ValueError", "range() arg 3 must not be zero");
  int64_t n = 0;
  if (step > 0 && stop > start) n = (stop - start + step - 1) / step;
  if (step < 0 && stop < start) n = (start - stop - step - 1) / (-step);
  if (n > kMaxRange) raise("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
  std::vector<Value> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) out.emplace_back(start + i * step);
  Value r = Value::list(std::move(out));
  auto& l = r.as_list();
  l.view = ListObj::View::Range;
  l.range_start = start;
  l.range_stop = stop;
  l.range_step = step;
  return r;
}

Value dict_fn(Context&, CallArgs& a) {
  Value d = Value::dict();
  auto& obj = d.as_dict();
  if (!a.args.empty()) {
    const Value& src = a.args[0];
    if (src.is_dict()) {
      obj.items = src.as_dict().items;
    } else {
      for (const auto& pair : iterate(src)) {
        auto kv = iterate(pair);
        if (kv.size() != 2) raise("ValueError", "dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
        obj.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : a.kwargs) obj.set(Value(k), v);
  return d;
}

Value namespace_fn(Context& ctx, CallArgs& a) {
  Value d = dict_fn(ctx, a);
  d.as_dict().is_namespace = true;
  ctx.track(d.dict_ptr());
  return d;
}

struct Cycler : ObjectObj {
  std::vector<Value> items;
  mutable size_t pos = 0;
  Value get_attr(std::string_view name) const override {
    if (name == "current") return items[pos];
    if (name == "next") {
      const Cycler* self = this;
      return Value::function("next", [self](Context&, CallArgs&) {
        Value v = self->items[self->pos];
        self->pos = (self->pos + 1) % self->items.size();
        return v;
      });
    }
    if (name == "reset") {
      const Cycler* self = this;
      return Value::function("reset", [self](Context&, CallArgs&) {
        self->pos = 0;
        return Value(nullptr);
      });
    }
    return Value::undefined("'jinja2.utils.Cycler object' has no attribute '" + std::string(name) + "'");
  }
  std::string repr() const override { return "<jinja2.utils.Cycler object>"; }
};

Value cycler_fn(Context&, CallArgs& a) {
  if (a.args.empty()) raise("RuntimeError", "at least one item has to be provided");
  auto c = std::make_shared<Cycler>();
  c->items = a.args;
  return Value(std::static_pointer_cast<ObjectObj>(c));
}

Value joiner_fn(Context&, CallArgs& a) {
  std::string sep = a.args.empty() ? ", " : a.args[0].str();
  auto used = std::make_shared<bool>(false);
  return Value::function("joiner", [sep, used](Context&, CallArgs&) {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  });
}

Value raise_exception_fn(Context&, CallArgs& a) {
  raise("TemplateError", a.args.empty() ? std::string() : a.args[0].str());
}

Value strftime_now_fn(Context& ctx, CallArgs& a) {
  if (a.args.empty() || !a.args[0].is_string()) raise("TypeError", "strftime_now() argument must be str");
  std::tm tm{};
  if (ctx.options.now) {
    tm = *ctx.options.now;
  } else {
    std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  const std::string& fmt = a.args[0].as_str();
  if (fmt.empty()) return Value("");
  std::string buf(fmt.size() * 8 + 64, '\0');
  size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  buf.resize(n);
  return Value(std::move(buf));
}

const std::unordered_map<std::string_view, Value>& globals() {
  static const auto* table = new std::unordered_map<std::string_view, Value>{
      {"range", Value::function("range", range_fn)},
      {"dict", Value::function("dict", dict_fn)},
      {"namespace", Value::function("namespace", namespace_fn)},
      {"cycler", Value::function("cycler", cycler_fn)},
      {"joiner", Value::function("joiner", joiner_fn)},
      {"raise_exception", Value::function("raise_exception", raise_exception_fn)},
      {"strftime_now", Value::function("strftime_now", strftime_now_fn)},
  };
  return *table;
}

}  // namespace

const Value* find_global(std::string_view name) {
  const auto& g = globals();
  auto it = g.find(name);
  return it == g.end() ? nullptr : &it->second;
}

}  // namespace transformers::jinja
