// jinja2's sequence filters: list, join, first/last, map, select/reject(attr), items, dictsort,
// unique, sort, reverse, sum, min/max, batch, slice, groupby.
#include <algorithm>

#include "transformers/chat/filters_internal.h"
#include "transformers/chat/strings.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja::filters {

namespace {

const Value kNone(nullptr);

// make_attrgetter: "a.b.0" walks items (integers for digit parts) with jinja's getitem.
struct AttrGetter {
  std::vector<Value> parts;
  Value dflt;
  bool lower = false;  // ignore_case postprocess
  explicit AttrGetter(const Value& attribute, bool ignore_case = false, Value default_value = Value(nullptr))
      : dflt(std::move(default_value)), lower(ignore_case) {
    if (attribute.is_none() || attribute.is_undefined()) return;
    if (attribute.is_string()) {
      for (auto& p : strings::split(attribute.as_str(), std::string("."), -1)) {
        bool digits = !p.empty() && p.find_first_not_of("0123456789") == std::string::npos;
        auto index = digits ? parse_digits(p) : std::nullopt;
        parts.push_back(index ? Value(*index) : Value(p));
      }
    } else {
      parts.push_back(attribute);
    }
  }
  Value operator()(const Value& item) const {
    Value v = item;
    for (const auto& p : parts) {
      v = get_item(v, p);
      if (!dflt.is_none() && v.is_undefined()) v = dflt;
    }
    if (lower && v.is_string()) return Value(unicode::lower(v.as_str()));
    return v;
  }
};

std::vector<Value> seq(const Value& v) { return iterate(v); }

bool case_sensitive_arg(const CallArgs& a, size_t index) {
  return arg_or(a, index, "case_sensitive", Value(false)).truthy();
}

Value select_or_reject(Context& ctx, const Value& v, CallArgs& a, bool select, bool lookup_attr) {
  size_t off = 0;
  std::optional<AttrGetter> getter;
  if (lookup_attr) {
    if (a.args.empty()) raise("FilterArgumentError", "Missing parameter for attribute name");
    getter.emplace(a.args[0]);
    off = 1;
  }
  std::string test_name;
  CallArgs test_args;
  bool has_test = a.args.size() > off;
  if (has_test) {
    test_name = a.args[off].str();
    test_args.args.assign(a.args.begin() + off + 1, a.args.end());
    test_args.kwargs = a.kwargs;
  }
  std::vector<Value> out;
  if (!v.truthy()) return Value::generator({});  // jinja2: `if value: for item in value: ...`
  for (auto& item : seq(v)) {
    Value x = getter ? (*getter)(item) : item;
    bool ok;
    if (has_test) {
      CallArgs copy = test_args;
      ok = ctx.apply_test(test_name, x, copy);
    } else {
      ok = x.truthy();
    }
    if (ok == select) out.push_back(std::move(item));
  }
  return Value::generator(std::move(out));
}

void sort_values(std::vector<Value>& items, const AttrGetter& key, bool reverse) {
  std::vector<std::pair<Value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(key(items[i]), i);
  // jinja2 sorts on a list of keys, and list comparison tests equality first (so equal
  // Undefined keys compare equal instead of failing).
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
    if (x.first.equals(y.first)) return false;
    return reverse ? compare_values(y.first, x.first) < 0 : compare_values(x.first, y.first) < 0;
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (const auto& [k, i] : keyed) out.push_back(items[i]);
  items = std::move(out);
}

Value min_max(const Value& v, CallArgs& a, bool is_max) {
  auto items = seq(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  AttrGetter key(arg_or(a, 1, "attribute", kNone), !case_sensitive_arg(a, 0));
  size_t best = 0;
  Value best_key = key(items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = key(items[i]);
    int c = compare_values(k, best_key);
    if (is_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

// jinja2 implements these filters as generator functions: nothing runs until the result is
// iterated, so a failure surfaces at that point (or never).
template <typename F>
Value lazily(F&& body) {
  try {
    return body();
  } catch (const TemplateError& e) {
    Value g = Value::generator({});
    g.as_list().deferred_error = std::make_shared<const TemplateError>(e);
    return g;
  }
}

}  // namespace

Value f_list(Context&, const Value& v, CallArgs&) { return Value::list(seq(v)); }

Value f_join(Context& ctx, const Value& v, CallArgs& a) {
  std::string d = arg_or(a, 0, "d", Value("")).str();
  const Value attribute = arg_or(a, 1, "attribute", kNone);
  std::optional<AttrGetter> getter;
  if (!attribute.is_none()) getter.emplace(attribute);
  std::string out;
  bool first = true;
  for (const auto& item : seq(v)) {
    if (!first) out += d;
    first = false;
    (getter ? (*getter)(item) : item).append_str(out);
    ctx.check_size(out.size());
  }
  return Value(std::move(out));
}

Value f_first(Context&, const Value& v, CallArgs&) {
  if (v.is_list() && v.as_list().is_iterator()) {  // next(iter(generator)) takes one item
    if (v.as_list().deferred_error) throw TemplateError(*v.as_list().deferred_error);
    auto& items = v.as_list().items;
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    Value first = items.front();
    items.erase(items.begin());
    return first;
  }
  auto items = seq(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Context&, const Value& v, CallArgs&) {
  if (v.is_list() && v.as_list().is_iterator()) raise("TypeError", "'" + v.type_name() + "' object is not reversible");
  auto items = seq(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_map_eager(Context& ctx, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::generator({});  // jinja2: `if value: for item in value: ...`
  const Value* attribute = a.kwarg("attribute");
  if (a.args.empty() && attribute) {
    const Value* dflt = a.kwarg("default");
    for (const auto& [k, _] : a.kwargs)
      if (k != "attribute" && k != "default") raise("FilterArgumentError", "Unexpected keyword argument '" + k + "'");
    AttrGetter getter(*attribute, false, dflt ? *dflt : Value(nullptr));
    for (const auto& item : seq(v)) out.push_back(getter(item));
    return Value::generator(std::move(out));
  }
  if (a.args.empty()) raise("FilterArgumentError", "map requires a filter argument");
  std::string name = a.args[0].str();
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const auto& item : seq(v)) {
    CallArgs copy = rest;
    out.push_back(ctx.apply_filter(name, item, copy));
  }
  return Value::generator(std::move(out));
}

Value f_select_eager(Context& ctx, const Value& v, CallArgs& a) { return select_or_reject(ctx, v, a, true, false); }
Value f_reject_eager(Context& ctx, const Value& v, CallArgs& a) { return select_or_reject(ctx, v, a, false, false); }
Value f_selectattr_eager(Context& ctx, const Value& v, CallArgs& a) { return select_or_reject(ctx, v, a, true, true); }
Value f_rejectattr_eager(Context& ctx, const Value& v, CallArgs& a) { return select_or_reject(ctx, v, a, false, true); }

Value f_items_eager(Context&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::generator({});
  if (!v.is_dict() || v.is_namespace()) raise("TypeError", "Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::tuple({k, val}));
  return Value::generator(std::move(out));
}

Value f_dictsort(Context&, const Value& v, CallArgs& a) {
  bool cs = case_sensitive_arg(a, 0);
  std::string by = arg_or(a, 1, "by", Value("key")).str();
  bool reverse = arg_or(a, 2, "reverse", Value(false)).truthy();
  int64_t pos;
  if (by == "key") pos = 0;
  else if (by == "value") pos = 1;
  else raise("FilterArgumentError", "You can only sort by either \"key\" or \"value\"");
  if (v.is_undefined()) raise_undefined(v);  // Undefined.items fails
  if (!v.is_dict() || v.is_namespace()) raise("AttributeError", "'" + v.type_name() + "' object has no attribute 'items'");
  std::vector<Value> items;
  for (const auto& [k, val] : v.as_dict().items) items.push_back(Value::tuple({k, val}));
  sort_values(items, AttrGetter(Value(pos), !cs), reverse);
  return Value::list(std::move(items));
}

Value f_unique_eager(Context&, const Value& v, CallArgs& a) {
  AttrGetter key(arg_or(a, 1, "attribute", kNone), !case_sensitive_arg(a, 0));
  std::vector<Value> seen, out;
  for (auto& item : seq(v)) {
    Value k = key(item);
    bool dup = false;
    for (const auto& s : seen)
      if (s.equals(k)) {
        dup = true;
        break;
      }
    if (dup) continue;
    seen.push_back(std::move(k));
    out.push_back(std::move(item));
  }
  return Value::generator(std::move(out));
}

Value f_sort(Context&, const Value& v, CallArgs& a) {
  bool reverse = arg_or(a, 0, "reverse", Value(false)).truthy();
  bool cs = case_sensitive_arg(a, 1);
  const Value attribute = arg_or(a, 2, "attribute", kNone);
  auto items = seq(v);
  if (attribute.is_string() && attribute.as_str().find(',') != std::string::npos) {
    // make_multi_attrgetter: compare a list of keys.
    std::vector<AttrGetter> getters;
    for (auto& p : strings::split(attribute.as_str(), std::string(","), -1)) getters.emplace_back(Value(p), !cs);
    std::vector<std::pair<Value, size_t>> keyed;
    for (size_t i = 0; i < items.size(); ++i) {
      std::vector<Value> ks;
      for (const auto& g : getters) ks.push_back(g(items[i]));
      keyed.emplace_back(Value::list(std::move(ks)), i);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& x, const auto& y) {
      return reverse ? compare_values(y.first, x.first) < 0 : compare_values(x.first, y.first) < 0;
    });
    std::vector<Value> out;
    for (const auto& [k, i] : keyed) out.push_back(items[i]);
    return Value::list(std::move(out));
  }
  sort_values(items, AttrGetter(attribute, !cs), reverse);
  return Value::list(std::move(items));
}

Value f_reverse(Context&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    std::u32string u = unicode::to_u32(v.as_str());
    std::reverse(u.begin(), u.end());
    return Value(unicode::to_utf8(u));
  }
  if (!v.is_list() && !v.is_dict() && !v.is_undefined()) raise("FilterArgumentError", "argument must be iterable");
  bool was_iterator = v.is_list() && v.as_list().is_iterator();
  auto items = seq(v);
  std::reverse(items.begin(), items.end());
  Value out = Value::list(std::move(items));
  // reversed(list) is an iterator; a generator is first turned into a (reversed) list.
  if (!was_iterator) out.as_list().view = ListObj::View::ReverseIterator;
  return out;
}

Value f_sum(Context& ctx, const Value& v, CallArgs& a) {
  const Value attribute = arg_or(a, 0, "attribute", kNone);
  Value total = arg_or(a, 1, "start", Value(int64_t{0}));
  std::optional<AttrGetter> getter;
  if (!attribute.is_none()) getter.emplace(attribute);
  for (const auto& item : seq(v)) total = binary_op(ctx, BinOp::Add, total, getter ? (*getter)(item) : item);
  return total;
}

Value f_min(Context&, const Value& v, CallArgs& a) { return min_max(v, a, false); }
Value f_max(Context&, const Value& v, CallArgs& a) { return min_max(v, a, true); }

Value f_batch_eager(Context&, const Value& v, CallArgs& a) {
  int64_t n = arg_or(a, 0, "linecount", Value(int64_t{1})).to_int();
  if (n <= 0) raise("ValueError", "batch size must be positive");
  const Value fill = arg_or(a, 1, "fill_with", kNone);
  std::vector<Value> out, cur;
  for (auto& item : seq(v)) {
    cur.push_back(std::move(item));
    if (static_cast<int64_t>(cur.size()) == n) {
      out.push_back(Value::list(std::move(cur)));
      cur.clear();
    }
  }
  if (!cur.empty()) {
    if (!fill.is_none())
      while (static_cast<int64_t>(cur.size()) < n) cur.push_back(fill);
    out.push_back(Value::list(std::move(cur)));
  }
  return Value::generator(std::move(out));
}

Value f_slice_eager(Context&, const Value& v, CallArgs& a) {
  int64_t slices = arg_or(a, 0, "slices", Value(int64_t{1})).to_int();
  if (slices <= 0) raise("ValueError", "slices must be positive");
  const Value fill = arg_or(a, 1, "fill_with", kNone);
  auto items = seq(v);
  int64_t length = static_cast<int64_t>(items.size());
  int64_t per = length / slices, extra = length % slices, offset = 0;
  std::vector<Value> out;
  for (int64_t i = 0; i < slices; ++i) {
    int64_t start = offset + i * per;
    if (i < extra) ++offset;
    int64_t end = offset + (i + 1) * per;
    std::vector<Value> part(items.begin() + start, items.begin() + end);
    if (!fill.is_none() && i >= extra) part.push_back(fill);
    out.push_back(Value::list(std::move(part)));
  }
  return Value::generator(std::move(out));
}

Value f_groupby(Context&, const Value& v, CallArgs& a) {
  const Value* attribute = a.get(0, "attribute");
  if (!attribute) raise("TypeError", "groupby() missing required argument 'attribute'");
  const Value dflt = arg_or(a, 1, "default", kNone);
  bool cs = case_sensitive_arg(a, 2);
  AttrGetter key(*attribute, !cs, dflt), real_key(*attribute, false, dflt);
  auto items = seq(v);
  sort_values(items, key, false);
  std::vector<Value> out;
  for (size_t i = 0; i < items.size();) {
    Value k = key(items[i]);
    std::vector<Value> group;
    size_t j = i;
    while (j < items.size() && key(items[j]).equals(k)) group.push_back(items[j++]);
    auto t = std::make_shared<ListObj>();
    t->is_tuple = true;
    t->is_group = true;
    t->items = {real_key(group[0]), Value::list(std::move(group))};
    out.emplace_back(std::move(t));
    i = j;
  }
  return Value::list(std::move(out));
}

Value f_xmlattr(Context& ctx, const Value& v, CallArgs& a) {
  bool autospace = arg_or(a, 0, "autospace", Value(true)).truthy();
  if (!v.is_dict()) raise("TypeError", "xmlattr requires a mapping");
  std::string out;
  for (const auto& [k, val] : v.as_dict().items) {
    if (val.is_none() || val.is_undefined()) continue;
    // jinja2 >= 3.1.4 (CVE-2024-22195, CVE-2024-34064): a key must not break out of the attribute.
    if (!k.is_string()) raise("TypeError", "expected string or bytes-like object, got '" + k.type_name() + "'");
    if (k.as_str().find_first_of(" \t\n\r\f\v/>=") != std::string::npos)
      raise("ValueError", "Invalid character in attribute name: " + k.repr());
    std::string esc = escape_value(val).as_str();
    if (!out.empty()) out += " ";
    out += k.str() + "=\"" + esc + "\"";
  }
  if (autospace && !out.empty()) out = " " + out;
  return make_str(std::move(out), ctx.autoescape);  // Markup under autoescape
}

// jinja2's url_quote: '/' stays in a plain value; query pairs (for_qs) quote it and write ' ' as
// '+'.
Value f_urlencode(Context&, const Value& v, CallArgs&) {
  auto quote = [](const std::string& s, bool for_qs = false) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' ||
          (c == '/' && !for_qs)) {
        out.push_back(static_cast<char>(c));
      } else if (c == ' ' && for_qs) {
        out.push_back('+');
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
    return out;
  };
  if (v.is_string() || !(v.is_list() || v.is_dict())) return Value(quote(v.str()));
  std::string out;
  auto pair = [&](const Value& k, const Value& val) {
    if (!out.empty()) out += "&";
    out += quote(k.str(), true) + "=" + quote(val.str(), true);
  };
  if (v.is_dict()) {
    for (const auto& [k, val] : v.as_dict().items) pair(k, val);
    return Value(out);
  }
  for (const Value& item : iterate(v)) {  // (key, value) pairs
    std::vector<Value> kv = iterate(item);
    if (kv.size() != 2)
      raise("ValueError", kv.size() > 2 ? "too many values to unpack (expected 2)"
                                        : "not enough values to unpack (expected 2, got " +
                                              std::to_string(kv.size()) + ")");
    pair(kv[0], kv[1]);
  }
  return Value(out);
}

Value f_map(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_map_eager(ctx, v, a); }); }
Value f_select(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_select_eager(ctx, v, a); }); }
Value f_reject(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_reject_eager(ctx, v, a); }); }
Value f_selectattr(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_selectattr_eager(ctx, v, a); }); }
Value f_rejectattr(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_rejectattr_eager(ctx, v, a); }); }
Value f_items(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_items_eager(ctx, v, a); }); }
Value f_unique(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_unique_eager(ctx, v, a); }); }
Value f_batch(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_batch_eager(ctx, v, a); }); }
Value f_slice(Context& ctx, const Value& v, CallArgs& a) { return lazily([&] { return f_slice_eager(ctx, v, a); }); }

}  // namespace transformers::jinja::filters
