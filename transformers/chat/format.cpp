// Python string formatting: printf-style `fmt % args` (and the `format` filter) and
// str.format with the format-spec mini-language.
#include <cmath>
#include <cstdio>

#include "transformers/chat/context.h"
#include "transformers/chat/strings.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja {

namespace {

std::string c_format(const std::string& spec, double d) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec.c_str(), d);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, n);
  std::string big(n + 1, '\0');
  std::snprintf(big.data(), big.size(), spec.c_str(), d);
  big.resize(n);
  return big;
}

std::string c_format_int(const std::string& spec, long long v) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec.c_str(), v);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, n);
  std::string big(n + 1, '\0');
  std::snprintf(big.data(), big.size(), spec.c_str(), v);
  big.resize(n);
  return big;
}

double to_real(const Value& v) {
  if (v.is_number()) return v.to_double();
  if (v.is_undefined()) raise_undefined(v);
  raise("TypeError", std::string("must be real number, not ") + v.type_name());
}

int64_t to_integer(const Value& v, char conv) {
  if (v.is_int() || v.is_bool()) return v.to_int();
  if (v.is_float()) {
    if (conv == 'x' || conv == 'X' || conv == 'o')
      raise("TypeError", std::string("%") + conv + " format: an integer is required, not float");
    double d = v.as_float();
    return truncate_to_int(d);
  }
  if (v.is_undefined()) raise_undefined(v);
  raise("TypeError", std::string("%") + conv + " format: a real number is required, not " + v.type_name());
}

}  // namespace

std::string percent_format(Context& ctx, const std::string& fmt, const Value& args, bool escape) {
  std::vector<Value> list;
  const DictObj* mapping = nullptr;
  if (args.is_tuple()) list = args.as_list().items;
  else {
    if (args.is_dict() && !args.is_namespace()) mapping = &args.as_dict();
    list.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (++i >= fmt.size()) raise("ValueError", "incomplete format");
    const Value* arg = nullptr;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) raise("ValueError", "incomplete format key");
      if (!mapping && args.is_undefined()) raise_undefined(args);
      if (!mapping) raise("TypeError", "format requires a mapping");
      std::string key = fmt.substr(i + 1, close - i - 1);
      arg = mapping->find(std::string_view(key));
      if (!arg) raise("KeyError", "'" + key + "'");
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos) flags.push_back(fmt[i++]);
    auto take_arg = [&]() -> const Value& {
      if (next >= list.size()) raise("TypeError", "not enough arguments for format string");
      return list[next++];
    };
    std::string width, precision;
    if (i < fmt.size() && fmt[i] == '*') {
      int64_t w = to_integer(take_arg(), 'd');
      if (w < 0) {
        flags.push_back('-');
        w = w == INT64_MIN ? INT64_MAX : -w;
      }
      width = std::to_string(w);
      ++i;
    }
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width.push_back(fmt[i++]);
    bool has_precision = false;
    if (i < fmt.size() && fmt[i] == '.') {
      has_precision = true;
      ++i;
      if (i < fmt.size() && fmt[i] == '*') {
        precision = std::to_string(std::max<int64_t>(0, to_integer(take_arg(), 'd')));
        ++i;
      }
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) precision.push_back(fmt[i++]);
      if (precision.empty()) precision = "0";
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) raise("ValueError", "incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out.push_back('%');
      continue;
    }
    if (!width.empty() && width.size() > 9) raise("ValueError", "width too big");
    if (!width.empty()) ctx.check_size(std::stoull(width));
    if (!precision.empty() && precision.size() > 9) raise("ValueError", "precision too big");
    // A number formatted with precision p is at least p digits long: refuse a size beyond the
    // limit before formatting it, not after (a string's precision only truncates).
    if (has_precision && conv != 's' && conv != 'r' && conv != 'a') ctx.check_size(std::stoull(precision));
    const Value& v = arg ? *arg : take_arg();
    std::string spec = "%" + flags + width + (has_precision ? "." + precision : "");
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = conv == 's' ? v.str() : v.repr();
        if (escape && !(conv == 's' && v.is_safe())) s = html_escape(s);
        if (has_precision) {
          std::u32string u = unicode::to_u32(s);
          size_t p = std::stoull(precision);
          if (u.size() > p) s = unicode::to_utf8(std::u32string_view(u).substr(0, p));
        }
        int64_t w = width.empty() ? 0 : std::stoll(width);
        out += strings::pad(s, w, ' ', flags.find('-') != std::string::npos ? '<' : '>');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
        if (v.is_bigint()) {  // beyond 64 bits: the digits, padded (flags other than '-' ignored)
          out += strings::pad(v.str(), width.empty() ? 0 : std::stoll(width), ' ',
                              flags.find('-') != std::string::npos ? '<' : '>');
          break;
        }
        out += c_format_int(spec + "lld", to_integer(v, conv));
        break;
      case 'x':
      case 'X':
      case 'o': {
        int64_t n = to_integer(v, conv);
        std::string body = c_format_int(spec + "ll" + conv, n < 0 ? -n : n);
        if (n < 0) {
          size_t p = body.find_first_not_of(' ');
          body.insert(p == std::string::npos ? 0 : p, "-");
          if (!width.empty() && body.size() > std::stoull(width) && body[0] == ' ') body.erase(0, 1);
        }
        if (conv == 'o' && flags.find('#') != std::string::npos) {
          size_t p = body.find('0');
          if (p != std::string::npos) body.insert(p + 1, "o");
        }
        out += body;
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': out += c_format(spec + conv, to_real(v)); break;
      case 'c': {
        if (v.is_string()) {
          if (unicode::length(v.as_str()) != 1) raise("TypeError", "%c requires int or char");
          out += v.as_str();
        } else {
          int64_t c = to_integer(v, 'c');
          if (c < 0 || c > 0x10FFFF) raise("OverflowError", "%c arg not in range(0x110000)");
          unicode::append_utf8(out, static_cast<char32_t>(c));
        }
        break;
      }
      default:
        raise("ValueError", std::string("unsupported format character '") + conv + "' (0x" +
                                [&] { char b[8]; std::snprintf(b, sizeof b, "%x", static_cast<unsigned char>(conv)); return std::string(b); }() +
                                ") at index " + std::to_string(i));
    }
    ctx.check_size(out.size());
  }
  // Python treats any non-tuple, non-str argument with __getitem__ (list, dict, Undefined) as a
  // mapping: left-over arguments are then not an error.
  bool mapping_like = !args.is_tuple() && (args.is_list() || args.is_dict() || args.is_undefined());
  if (!mapping_like && next < list.size()) raise("TypeError", "not all arguments converted during string formatting");
  return out;
}

namespace {

// Applies a format spec ([[fill]align][sign][#][0][width][,][.precision][type]) to a value.
std::string format_value(Context& ctx, const Value& v, const std::string& spec) {
  if (spec.empty()) return v.str();
  size_t i = 0;
  char32_t fill = ' ';
  char align = 0;
  std::u32string u = unicode::to_u32(spec);
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (u.size() >= 2 && is_align(u[1])) {
    fill = u[0];
    align = static_cast<char>(u[1]);
    i = 2;
  } else if (!u.empty() && is_align(u[0])) {
    align = static_cast<char>(u[0]);
    i = 1;
  }
  char sign = 0;
  if (i < u.size() && (u[i] == '+' || u[i] == '-' || u[i] == ' ')) sign = static_cast<char>(u[i++]);
  bool alt = false;
  if (i < u.size() && u[i] == '#') {
    alt = true;
    ++i;
  }
  if (i < u.size() && u[i] == '0') {
    if (!align) {
      fill = '0';
      align = '=';
    }
    ++i;
  }
  int64_t width = 0;
  while (i < u.size() && u[i] >= '0' && u[i] <= '9') {
    width = width * 10 + (u[i++] - '0');
    if (width > 100000000) raise("ValueError", "Too many decimal digits in format string");
  }
  ctx.check_size(static_cast<size_t>(width));
  bool grouping = false;
  if (i < u.size() && (u[i] == ',' || u[i] == '_')) {
    grouping = true;
    ++i;
  }
  int64_t precision = -1;
  if (i < u.size() && u[i] == '.') {
    ++i;
    precision = 0;
    while (i < u.size() && u[i] >= '0' && u[i] <= '9') {
      precision = precision * 10 + (u[i++] - '0');
      if (precision > 1000) raise("ValueError", "precision too big");
    }
  }
  char type = i < u.size() ? static_cast<char>(u[i++]) : 0;
  if (i < u.size()) raise("ValueError", "Invalid format specifier");
  if (v.is_number() && type != 's') {
    // Only Python's numeric presentation types reach printf.
    std::string_view allowed = (v.is_int() || v.is_bool()) ? std::string_view("bcdoxXneEfFgG%") : std::string_view("neEfFgG%");
    if (type != 0 && allowed.find(type) == std::string_view::npos)
      raise("ValueError", std::string("Unknown format code '") + type + "' for object of type '" + v.type_name() + "'");
  }

  std::string body;
  bool numeric = v.is_number() && type != 's';
  if (!numeric) {
    if (type && type != 's') raise("ValueError", std::string("Unknown format code '") + type + "' for object of type '" + v.type_name() + "'");
    body = v.str();
    if (precision >= 0) {
      std::u32string b = unicode::to_u32(body);
      if (static_cast<int64_t>(b.size()) > precision) body = unicode::to_utf8(std::u32string_view(b).substr(0, precision));
    }
    return strings::pad(body, width, fill, align ? (align == '=' ? '<' : align) : '<');
  }
  bool is_int = (v.is_int() || v.is_bool()) && (type == 0 || type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c' || type == 'n');
  double d = v.to_double();
  bool neg;
  if (is_int) {
    int64_t n = v.to_int();
    neg = n < 0;
    uint64_t a = neg ? static_cast<uint64_t>(-(n + 1)) + 1 : static_cast<uint64_t>(n);
    if (type == 'x' || type == 'X' || type == 'o' || type == 'b') {
      int base = type == 'o' ? 8 : type == 'b' ? 2 : 16;
      const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
      do {
        body.insert(body.begin(), digits[a % base]);
        a /= base;
      } while (a);
      if (alt) body.insert(0, type == 'o' ? "0o" : type == 'b' ? "0b" : type == 'X' ? "0X" : "0x");
    } else if (type == 'c') {
      if (n < 0 || n > 0x10FFFF) raise("OverflowError", "%c arg not in range(0x110000)");
      std::string s;
      unicode::append_utf8(s, static_cast<char32_t>(n));
      return strings::pad(s, width, fill, align ? align : '<');
    } else {
      body = std::to_string(a);
      if (grouping)
        for (int p = static_cast<int>(body.size()) - 3; p > 0; p -= 3) body.insert(p, ",");
    }
  } else {
    neg = std::signbit(d);
    double a = std::fabs(d);
    char t = type ? type : 'g';
    if (t == 'n') t = 'g';
    int prec = precision >= 0 ? static_cast<int>(precision) : 6;
    if (type == 0 && precision < 0) {
      body = float_repr(a);
    } else if (t == '%') {
      body = c_format("%." + std::to_string(prec) + "f", a * 100) + "%";
    } else {
      body = c_format(std::string("%") + (alt ? "#" : "") + "." + std::to_string(prec) + t, a);
      if (type == 0 && body.find_first_of(".eEn") == std::string::npos) body += ".0";
    }
    if (grouping) {
      size_t end = body.find_first_of(".eE%");
      if (end == std::string::npos) end = body.size();
      for (int p = static_cast<int>(end) - 3; p > 0; p -= 3) body.insert(p, ",");
    }
  }
  std::string sign_str = neg ? "-" : sign == '+' ? "+" : sign == ' ' ? " " : "";
  if (align == '=') {
    int64_t len = static_cast<int64_t>(unicode::length(body) + sign_str.size());
    std::string f;
    unicode::append_utf8(f, fill);
    std::string padding;
    for (int64_t k = len; k < width; ++k) padding += f;
    return sign_str + padding + body;
  }
  return strings::pad(sign_str + body, width, fill, align ? align : '>');
}

Value resolve_field(const std::string& field, CallArgs& args, size_t& auto_index) {
  size_t end = field.find_first_of(".[");
  std::string head = field.substr(0, end);
  Value v;
  if (head.empty()) {
    if (auto_index >= args.args.size()) raise("IndexError", "Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
    v = args.args[auto_index++];
  } else if (std::isdigit(static_cast<unsigned char>(head[0]))) {
    auto parsed = parse_digits(head);
    size_t idx = parsed ? static_cast<size_t>(*parsed) : SIZE_MAX;
    if (idx >= args.args.size()) raise("IndexError", "Replacement index " + head + " out of range for positional args tuple");
    v = args.args[idx];
  } else {
    const Value* kw = args.kwarg(head);
    if (!kw) raise("KeyError", "'" + head + "'");
    v = *kw;
  }
  size_t i = end;
  while (i != std::string::npos && i < field.size()) {
    if (field[i] == '.') {
      size_t next = field.find_first_of(".[", i + 1);
      v = get_attr(v, field.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1));
      i = next;
    } else {
      size_t close = field.find(']', i);
      if (close == std::string::npos) raise("ValueError", "Missing ']' in format string");
      std::string key = field.substr(i + 1, close - i - 1);
      bool digits = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
      auto index = digits ? parse_digits(key) : std::nullopt;
      v = get_item(v, index ? Value(*index) : Value(key));
      i = close + 1;
    }
  }
  return v;
}

}  // namespace

std::string str_format(Context& ctx, const std::string& fmt, CallArgs& args, bool escape) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      raise("ValueError", "Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    // Find the matching '}' (format specs may nest one level of {}).
    size_t j = i + 1;
    int depth = 1;
    while (j < fmt.size() && depth > 0) {
      if (fmt[j] == '{') ++depth;
      else if (fmt[j] == '}') --depth;
      if (depth > 0) ++j;
    }
    if (j >= fmt.size()) raise("ValueError", "expected '}' before end of string");
    std::string inner = fmt.substr(i + 1, j - i - 1);
    std::string field = inner, spec;
    char conv = 0;
    size_t colon = inner.find(':');
    size_t bang = inner.find('!');
    if (bang != std::string::npos && (colon == std::string::npos || bang < colon)) {
      field = inner.substr(0, bang);
      if (bang + 1 >= inner.size()) raise("ValueError", "end of string while looking for conversion specifier");
      conv = inner[bang + 1];
      if (colon != std::string::npos) spec = inner.substr(colon + 1);
    } else if (colon != std::string::npos) {
      field = inner.substr(0, colon);
      spec = inner.substr(colon + 1);
    }
    if (spec.find('{') != std::string::npos) spec = str_format(ctx, spec, args, escape);
    Value v = resolve_field(field, args, auto_index);
    if (conv == 'r' || conv == 'a') v = Value(v.repr());
    else if (conv == 's') v = Value(v.str());
    else if (conv) raise("ValueError", std::string("Unknown conversion specifier ") + conv);
    out += escape && !v.is_safe() ? html_escape(format_value(ctx, v, spec))
                                  : format_value(ctx, v, spec);
    ctx.check_size(out.size());
    i = j;
  }
  return out;
}

}  // namespace transformers::jinja
