// The methods of Python's str that templates call: message.content.strip(), .split('</think>'),
// .startswith(...), .format(...), ...
#include <algorithm>

#include "transformers/chat/context.h"
#include "transformers/chat/strings.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

namespace {

constexpr std::string_view kStrMethods[] = {
    "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
    "title", "capitalize", "swapcase", "casefold", "replace", "find", "rfind", "index", "rindex", "count",
    "join", "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "istitle", "isnumeric",
    "isdecimal", "isidentifier", "zfill", "center", "ljust", "rjust", "partition", "rpartition", "removeprefix",
    "removesuffix", "encode", "expandtabs", "format_map", "isascii", "isprintable",
};

std::optional<std::string> opt_str(const CallArgs& a, size_t i, std::string_view name) {
  const Value* v = a.get(i, name);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) raise("TypeError", std::string(name) + " arg must be None or str");
  return v->as_str();
}

int64_t opt_int(const CallArgs& a, size_t i, std::string_view name, int64_t fallback) {
  const Value* v = a.get(i, name);
  if (!v || v->is_none()) return fallback;
  if (!v->is_int() && !v->is_bool())
    raise("TypeError", "'" + v->type_name() + "' object cannot be interpreted as an integer");
  return v->to_int();
}

const std::string& req_str(const CallArgs& a, size_t i, std::string_view name, std::string_view method) {
  const Value* v = a.get(i, name);
  if (!v) raise("TypeError", std::string(method) + "() takes at least " + std::to_string(i + 1) + " argument");
  if (!v->is_string())
    raise("TypeError", "must be str, not " + v->type_name());
  return v->as_str();
}

Value str_list(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::list(std::move(out));
}

template <typename Pred>
bool all_chars(const std::string& s, Pred pred) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!pred(unicode::decode(s, i))) return false;
  return true;
}

// startswith / endswith with a str or a tuple of str, and optional start/end.
bool affix(const std::string& s, const CallArgs& a, bool prefix, const char* method) {
  const Value* v = a.get(0, "prefix");
  if (!v) raise("TypeError", std::string(method) + "() takes at least 1 argument (0 given)");
  std::string_view view(s);
  if (a.args.size() > 1) {
    std::u32string u = unicode::to_u32(s);
    int64_t len = static_cast<int64_t>(u.size());
    auto clamp = [&](int64_t i) { return i < 0 ? std::max<int64_t>(0, i + len) : std::min(i, len); };
    int64_t start = clamp(opt_int(a, 1, "start", 0));
    int64_t end = clamp(opt_int(a, 2, "end", len));
    std::string sub = end > start ? unicode::to_utf8(std::u32string_view(u).substr(start, end - start)) : "";
    CallArgs one;
    one.args.push_back(*v);
    return affix(sub, one, prefix, method);
  }
  auto test = [&](const Value& p) {
    if (!p.is_string())
      raise("TypeError", std::string(method) + " first arg must be str or a tuple of str, not " + p.type_name());
    const std::string& x = p.as_str();
    if (x.size() > view.size()) return false;
    return prefix ? view.compare(0, x.size(), x) == 0 : view.compare(view.size() - x.size(), x.size(), x) == 0;
  };
  if (v->is_tuple()) {
    for (const auto& p : v->as_list().items)
      if (test(p)) return true;
    return false;
  }
  return test(*v);
}

}  // namespace

bool is_str_method(std::string_view name) {
  return std::find(std::begin(kStrMethods), std::end(kStrMethods), name) != std::end(kStrMethods);
}

bool call_str_method(Context& ctx, const Value& self, std::string_view m, CallArgs& a, Value& r) {
  const std::string& s = self.as_str();
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    r = Value(strings::strip(s, opt_str(a, 0, "chars"), m != "rstrip", m != "lstrip"));
  } else if (m == "split" || m == "rsplit") {
    auto sep = opt_str(a, 0, "sep");
    int64_t maxsplit = opt_int(a, 1, "maxsplit", -1);
    r = str_list(m == "split" ? strings::split(s, sep, maxsplit) : strings::rsplit(s, sep, maxsplit));
  } else if (m == "splitlines") {
    const Value* k = a.get(0, "keepends");
    r = str_list(strings::splitlines(s, k && k->truthy()));
  } else if (m == "startswith" || m == "endswith") {
    r = Value(affix(s, a, m == "startswith", m == "startswith" ? "startswith" : "endswith"));
  } else if (m == "upper") {
    r = Value(unicode::upper(s));
  } else if (m == "lower" || m == "casefold") {
    r = Value(unicode::lower(s));
  } else if (m == "title") {
    r = Value(strings::py_title(s));
  } else if (m == "capitalize") {
    r = Value(strings::capitalize(s));
  } else if (m == "swapcase") {
    r = Value(strings::swapcase(s));
  } else if (m == "replace") {
    const std::string& old = req_str(a, 0, "old", m);
    const std::string& repl = req_str(a, 1, "new", m);
    int64_t count = opt_int(a, 2, "count", -1);
    if (!old.empty() && !repl.empty() && repl.size() > old.size()) {
      size_t occurrences = 0;
      for (size_t p = s.find(old); p != std::string::npos; p = s.find(old, p + old.size())) ++occurrences;
      ctx.check_size(s.size() + occurrences * (repl.size() - old.size()));
    } else if (old.empty()) {
      ctx.check_size(s.size() + (s.size() + 1) * repl.size());
    }
    r = Value(strings::replace(s, old, repl, count));
  } else if (m == "find" || m == "rfind" || m == "index" || m == "rindex" || m == "count") {
    const std::string& sub = req_str(a, 0, "sub", m);
    if (m == "count") {
      int64_t n = 0;
      if (sub.empty()) {
        n = static_cast<int64_t>(unicode::length(s)) + 1;
      } else {
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      }
      r = Value(n);
      return true;
    }
    size_t p = (m == "find" || m == "index") ? s.find(sub) : s.rfind(sub);
    if (p == std::string::npos) {
      if (m == "index" || m == "rindex") raise("ValueError", "substring not found");
      r = Value(int64_t{-1});
    } else {
      r = Value(strings::cp_index(s, p));
    }
  } else if (m == "join") {
    const Value* it = a.get(0, "iterable");
    if (!it) raise("TypeError", "join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const auto& v : iterate(*it)) {
      if (!v.is_string())
        raise("TypeError", "sequence item: expected str instance, " + v.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += v.as_str();
      ctx.check_size(out.size());
    }
    r = Value(std::move(out));
  } else if (m == "format") {
    r = make_str(str_format(ctx, s, a, self.is_safe()), self.is_safe());
  } else if (m == "format_map") {
    CallArgs kw;
    if (!a.args.empty() && a.args[0].is_dict())
      for (const auto& [k, v] : a.args[0].as_dict().items)
        if (k.is_string()) kw.kwargs.emplace_back(k.as_str(), v);
    r = make_str(str_format(ctx, s, kw, self.is_safe()), self.is_safe());
  } else if (m == "isdigit" || m == "isnumeric" || m == "isdecimal") {
    r = Value(all_chars(s, unicode::is_digit));
  } else if (m == "isalpha") {
    r = Value(all_chars(s, unicode::is_alpha));
  } else if (m == "isalnum") {
    r = Value(all_chars(s, [](char32_t c) { return unicode::is_alpha(c) || unicode::is_digit(c); }));
  } else if (m == "isspace") {
    r = Value(all_chars(s, unicode::is_space));
  } else if (m == "isascii") {
    r = Value(unicode::is_ascii(s));
  } else if (m == "isprintable") {
    r = Value(s.empty() || all_chars(s, unicode::is_printable));
  } else if (m == "isupper" || m == "islower") {
    bool upper = m == "isupper", cased = false, ok = true;
    for (size_t i = 0; i < s.size();) {
      char32_t c = unicode::decode(s, i);
      if (unicode::is_upper(c)) {
        cased = true;
        if (!upper) ok = false;
      } else if (unicode::is_lower(c)) {
        cased = true;
        if (upper) ok = false;
      }
    }
    r = Value(ok && cased);
  } else if (m == "istitle") {
    r = Value(!s.empty() && strings::py_title(s) == s && s != unicode::lower(s));
  } else if (m == "isidentifier") {
    bool ok = !s.empty() && !std::isdigit(static_cast<unsigned char>(s[0]));
    for (size_t i = 0; ok && i < s.size();) {
      char32_t c = unicode::decode(s, i);
      ok = c == '_' || unicode::is_alpha(c) || unicode::is_digit(c);
    }
    r = Value(ok);
  } else if (m == "zfill" || m == "center" || m == "ljust" || m == "rjust") {
    int64_t width = opt_int(a, 0, "width", 0);
    ctx.check_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
    if (m == "zfill") {
      int64_t len = static_cast<int64_t>(unicode::length(s));
      if (width <= len) {
        r = Value(s);
      } else {
        bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
        std::string out = sign ? s.substr(0, 1) : "";
        out += std::string(width - len, '0');
        out += sign ? s.substr(1) : s;
        r = Value(std::move(out));
      }
      return true;
    }
    char32_t fill = ' ';
    if (auto f = opt_str(a, 1, "fillchar")) {
      std::u32string u = unicode::to_u32(*f);
      if (u.size() != 1) raise("TypeError", "The fill character must be exactly one character long");
      fill = u[0];
    }
    r = Value(strings::pad(s, width, fill, m == "center" ? 'c' : m == "ljust" ? '<' : '>'));
  } else if (m == "partition" || m == "rpartition") {
    const std::string& sep = req_str(a, 0, "sep", m);
    if (sep.empty()) raise("ValueError", "empty separator");
    size_t p = m == "partition" ? s.find(sep) : s.rfind(sep);
    if (p == std::string::npos) {
      r = m == "partition" ? Value::tuple({Value(s), Value(""), Value("")}) : Value::tuple({Value(""), Value(""), Value(s)});
    } else {
      r = Value::tuple({Value(s.substr(0, p)), Value(sep), Value(s.substr(p + sep.size()))});
    }
  } else if (m == "removeprefix" || m == "removesuffix") {
    const std::string& x = req_str(a, 0, m == "removeprefix" ? "prefix" : "suffix", m);
    bool pre = m == "removeprefix";
    bool match = x.size() <= s.size() && (pre ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0);
    r = Value(match ? (pre ? s.substr(x.size()) : s.substr(0, s.size() - x.size())) : s);
  } else if (m == "expandtabs") {
    int64_t tab = opt_int(a, 0, "tabsize", 8);
    std::string out;
    int64_t col = 0;
    for (size_t i = 0; i < s.size();) {
      size_t start = i;
      char32_t c = unicode::decode(s, i);
      if (c == '\t') {
        int64_t n = tab > 0 ? tab - (col % tab) : 0;
        out.append(n, ' ');
        col += n;
      } else {
        out.append(s, start, i - start);
        col = (c == '\n' || c == '\r') ? 0 : col + 1;
      }
      ctx.check_size(out.size());
    }
    r = Value(std::move(out));
  } else if (m == "encode") {
    raise("SecurityError", "str.encode is not available in chat templates");
  } else {
    return false;
  }
  return true;
}

}  // namespace transformers::jinja
