// jinja2's text filters that follow a Python library: wordwrap (textwrap), urlize (jinja2.utils),
// pprint (pprint.pformat, 80 columns), striptags (markupsafe 2.1 and html.unescape), and random.
#include <algorithm>
#include <cstdint>

#include "transformers/chat/context.h"
#include "transformers/chat/filters_internal.h"
#include "transformers/chat/py_regex.h"
#include "transformers/chat/strings.h"
#include "transformers/chat/unicode.h"

namespace transformers::jinja::filters {

namespace {

bool all_space(std::u32string_view s) {
  return std::all_of(s.begin(), s.end(), [](char32_t c) { return unicode::is_space(c); });
}

// ---- wordwrap: textwrap.wrap(line, width, expand_tabs=False, replace_whitespace=False, ...) ----

// TextWrapper.wordsep_re (break_on_hyphens) or wordsep_simple_re, as Oniguruma patterns.
const PyRegex& word_separator(bool break_on_hyphens) {
  static const PyRegex hyphens(
      R"([\t\n\x0b\x0c\r ]+|(?<=[\w!"'&.,?])-{2,}(?=\w)|[^\t\n\x0b\x0c\r ]+?(?:-(?:(?<=[^\d\W]{2}-)|(?<=[^\d\W]-[^\d\W]-))(?=[^\d\W]-?[^\d\W])|(?=[\t\n\x0b\x0c\r ]|\z)|(?<=[\w!"'&.,?])(?=-{2,}\w)))");
  static const PyRegex spaces(R"([\t\n\x0b\x0c\r ]+)");
  return break_on_hyphens ? hyphens : spaces;
}

// re.split with the pattern's one group: the text between matches and the matches, none empty.
std::vector<std::u32string> split_chunks(const std::string& line, bool break_on_hyphens) {
  const PyRegex& re = word_separator(break_on_hyphens);
  std::vector<std::u32string> chunks;
  size_t pos = 0;
  while (pos < line.size()) {
    auto m = re.search(line, pos);
    if (!m || m->second == m->first) break;
    if (m->first > pos)
      chunks.push_back(unicode::to_u32(std::string_view(line).substr(pos, m->first - pos)));
    chunks.push_back(
        unicode::to_u32(std::string_view(line).substr(m->first, m->second - m->first)));
    pos = m->second;
  }
  if (pos < line.size()) chunks.push_back(unicode::to_u32(std::string_view(line).substr(pos)));
  return chunks;
}

// TextWrapper._handle_long_word.
void handle_long_word(std::vector<std::u32string>& reversed, std::vector<std::u32string>& line,
                      size_t line_len, int64_t width, bool break_long_words,
                      bool break_on_hyphens) {
  int64_t space_left = width < 1 ? 1 : width - static_cast<int64_t>(line_len);
  if (break_long_words) {
    size_t end = static_cast<size_t>(std::max<int64_t>(space_left, 0));
    std::u32string& chunk = reversed.back();
    if (break_on_hyphens && static_cast<int64_t>(chunk.size()) > space_left) {
      size_t hyphen = space_left > 0 ? chunk.rfind(U'-', static_cast<size_t>(space_left) - 1)
                                     : std::u32string::npos;
      if (hyphen != std::u32string::npos && hyphen > 0 &&
          std::any_of(chunk.begin(), chunk.begin() + hyphen, [](char32_t c) { return c != U'-'; }))
        end = hyphen + 1;
    }
    line.push_back(chunk.substr(0, end));
    chunk = chunk.substr(std::min(end, chunk.size()));
  } else if (line.empty()) {
    line.push_back(reversed.back());
    reversed.pop_back();
  }
}

// TextWrapper._wrap_chunks with drop_whitespace and no indents.
std::vector<std::string> wrap_line(const std::string& text, int64_t width, bool break_long_words,
                                   bool break_on_hyphens) {
  if (width <= 0) raise("ValueError", "invalid width " + std::to_string(width) + " (must be > 0)");
  std::vector<std::u32string> chunks = split_chunks(text, break_on_hyphens);
  std::reverse(chunks.begin(), chunks.end());
  std::vector<std::string> lines;
  while (!chunks.empty()) {
    std::vector<std::u32string> line;
    size_t len = 0;
    if (all_space(chunks.back()) && !lines.empty()) chunks.pop_back();
    while (!chunks.empty() && static_cast<int64_t>(len + chunks.back().size()) <= width) {
      len += chunks.back().size();
      line.push_back(std::move(chunks.back()));
      chunks.pop_back();
    }
    if (!chunks.empty() && static_cast<int64_t>(chunks.back().size()) > width) {
      handle_long_word(chunks, line, len, width, break_long_words, break_on_hyphens);
      if (!chunks.empty() && chunks.back().empty()) chunks.pop_back();
    }
    if (!line.empty() && all_space(line.back())) line.pop_back();
    if (!line.empty()) {
      std::u32string joined;
      for (const auto& c : line) joined += c;
      lines.push_back(unicode::to_utf8(joined));
    }
  }
  return lines;
}

// ---- urlize: jinja2.utils.urlize with HF's policies (rel="noopener", no target) ---------------

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

size_t count_of(std::string_view s, std::string_view needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string_view::npos;
       p = s.find(needle, p + needle.size()))
    ++n;
  return n;
}

bool is_http_url(std::string_view s) {
  // jinja2.utils._http_re; Python's `$` after re.match is the end or a final newline.
  static const PyRegex re(
      R"(\A((https?://|www\.)(([\w%-]+\.)+)?([a-z]{2,63}|xn--[\w%]{2,59})|([\w%-]{2,63}\.)+(com|net|int|edu|gov|org|info|mil)|(https?://)((([\d]{1,3})(\.[\d]{1,3}){3})|(\[([\da-f]{0,4}:){2}([\da-f]{0,4}:?){1,6}\])))(?::[\d]{1,5})?(?:[/?#]\S*)?(?=\n?\z))",
      true);
  return re.matches_at(s);
}

bool is_email(std::string_view s) {
  static const PyRegex re(R"(\A\S+@\w[\w.-]*\.\w+(?=\n?\z))");
  return re.matches_at(s);
}

// head ( [(<] or &lt; runs ), middle, tail ( [)>.,\n] or &gt; runs ) of one word.
void split_punctuation(std::string& head, std::string& middle, std::string& tail) {
  size_t i = 0;
  while (i < middle.size()) {
    if (middle[i] == '(' || middle[i] == '<')
      ++i;
    else if (middle.compare(i, 4, "&lt;") == 0)
      i += 4;
    else
      break;
  }
  head = middle.substr(0, i);
  middle.erase(0, i);
  size_t j = middle.size();
  while (j > 0) {
    char c = middle[j - 1];
    if (c == ')' || c == '>' || c == '.' || c == ',' || c == '\n')
      --j;
    else if (j >= 4 && middle.compare(j - 4, 4, "&gt;") == 0)
      j -= 4;
    else
      break;
  }
  tail = middle.substr(j);
  middle.erase(j);
  // Prefer balanced brackets inside the URL to a trailing bracket outside it.
  static const std::pair<std::string_view, std::string_view> kPairs[] = {
      {"(", ")"}, {"<", ">"}, {"&lt;", "&gt;"}};
  for (auto [open, close] : kPairs) {
    size_t opens = count_of(middle, open);
    if (opens <= count_of(middle, close)) continue;
    for (size_t k = std::min(opens, count_of(tail, close)); k > 0; --k) {
      size_t end = tail.find(close) + close.size();
      middle += tail.substr(0, end);
      tail.erase(0, end);
    }
  }
}

std::string urlize(const std::string& escaped, const Value& trim_limit, const std::string& rel_attr,
                   const std::string& target_attr, const std::vector<std::string>& extra_schemes) {
  auto trim_url = [&](const std::string& x) {
    if (trim_limit.is_none()) return x;
    int64_t limit = trim_limit.to_int();
    std::u32string u = unicode::to_u32(x);
    if (static_cast<int64_t>(u.size()) <= limit) return x;
    return unicode::to_utf8(
               std::u32string_view(u).substr(0, static_cast<size_t>(std::max<int64_t>(limit, 0)))) +
           "...";
  };
  std::string out;
  size_t i = 0;
  while (i < escaped.size()) {
    // re.split(r"(\s+)"): whitespace runs pass through unchanged.
    size_t start = i;
    size_t k = i;
    bool space = unicode::is_space(unicode::decode(escaped, k));
    size_t end = i;
    while (end < escaped.size()) {
      size_t next = end;
      if (unicode::is_space(unicode::decode(escaped, next)) != space) break;
      end = next;
    }
    i = end;
    std::string word = escaped.substr(start, end - start);
    if (space) {
      out += word;
      continue;
    }
    std::string head, middle = word, tail;
    split_punctuation(head, middle, tail);
    if (is_http_url(middle)) {
      std::string href = starts_with(middle, "https://") || starts_with(middle, "http://")
                             ? middle
                             : "https://" + middle;
      middle =
          "<a href=\"" + href + "\"" + rel_attr + target_attr + ">" + trim_url(middle) + "</a>";
    } else if (starts_with(middle, "mailto:") && is_email(std::string_view(middle).substr(7))) {
      middle = "<a href=\"" + middle + "\">" + middle.substr(7) + "</a>";
    } else if (middle.find('@') != std::string::npos && !starts_with(middle, "www.") &&
               !starts_with(middle, "@") && middle.find(':') == std::string::npos &&
               is_email(middle)) {
      middle = "<a href=\"mailto:" + middle + "\">" + middle + "</a>";
    } else {
      for (const auto& scheme : extra_schemes)
        if (middle != scheme && starts_with(middle, scheme))
          middle = "<a href=\"" + middle + "\"" + rel_attr + target_attr + ">" + middle + "</a>";
    }
    out += head + middle + tail;
  }
  return out;
}

// ---- pprint: pprint.pformat(value) (width 80, dicts sorted) ----------------------------------

size_t cp_len(std::string_view s) { return unicode::length(s); }

// pprint's _safe_key order: Python's < where it works, else the type names.
bool safe_less(const Value& a, const Value& b) {
  try {
    return compare_values(a, b) < 0;
  } catch (const TemplateError&) {
    return "<class '" + a.type_name() + "'>" < "<class '" + b.type_name() + "'>";
  }
}

std::vector<const std::pair<Value, Value>*> sorted_items(const DictObj& d) {
  std::vector<const std::pair<Value, Value>*> items;
  for (const auto& kv : d.items) items.push_back(&kv);
  std::stable_sort(items.begin(), items.end(),
                   [](auto* x, auto* y) { return safe_less(x->first, y->first); });
  return items;
}

bool is_plain_dict(const Value& v) { return v.is_dict() && !v.is_namespace(); }
bool is_plain_list(const Value& v) {
  return v.is_list() && v.as_list().view == ListObj::View::None && !v.as_list().is_group;
}

// pprint._safe_repr: repr with every dict's items sorted.
void safe_repr(const Value& v, std::string& out, int depth = 0) {
  if (depth > 200)
    raise("RecursionError", "maximum recursion depth exceeded while getting the repr of an object");
  if (is_plain_dict(v)) {
    out += "{";
    bool first = true;
    for (const auto* kv : sorted_items(v.as_dict())) {
      if (!first) out += ", ";
      first = false;
      safe_repr(kv->first, out, depth + 1);
      out += ": ";
      safe_repr(kv->second, out, depth + 1);
    }
    out += "}";
  } else if (is_plain_list(v)) {
    const auto& items = v.as_list().items;
    out += v.is_tuple() ? "(" : "[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      safe_repr(items[i], out, depth + 1);
    }
    if (v.is_tuple() && items.size() == 1) out += ",";
    out += v.is_tuple() ? ")" : "]";
  } else {
    v.append_repr(out);
  }
}

class PrettyPrinter {
 public:
  std::string out;

  void format(const Value& v, int64_t indent, int64_t allowance, int level) {
    std::string rep;
    safe_repr(v, rep);
    int64_t max_width = kWidth - indent - allowance;
    if (static_cast<int64_t>(cp_len(rep)) > max_width) {
      if (is_plain_dict(v)) return pprint_dict(v.as_dict(), indent, allowance, level + 1);
      if (is_plain_list(v)) return pprint_sequence(v, indent, allowance, level + 1);
      if (v.is_string() && !v.is_safe())
        return pprint_str(v.as_str(), indent, allowance, level + 1);
    }
    out += rep;
  }

 private:
  static constexpr int64_t kWidth = 80;

  void pprint_dict(const DictObj& d, int64_t indent, int64_t allowance, int level) {
    out += "{";
    indent += 1;
    auto items = sorted_items(d);
    for (size_t i = 0; i < items.size(); ++i) {
      bool last = i + 1 == items.size();
      std::string key;
      safe_repr(items[i]->first, key);
      out += key + ": ";
      format(items[i]->second, indent + static_cast<int64_t>(cp_len(key)) + 2,
             last ? allowance + 1 : 1, level);
      if (!last) out += ",\n" + std::string(static_cast<size_t>(indent), ' ');
    }
    out += "}";
  }

  void pprint_sequence(const Value& v, int64_t indent, int64_t allowance, int level) {
    const auto& items = v.as_list().items;
    bool tuple = v.is_tuple();
    std::string end = tuple ? (items.size() == 1 ? ",)" : ")") : "]";
    out += tuple ? "(" : "[";
    allowance += static_cast<int64_t>(end.size());
    indent += 1;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ",\n" + std::string(static_cast<size_t>(indent), ' ');
      format(items[i], indent, i + 1 == items.size() ? allowance : 1, level);
    }
    out += end;
  }

  void pprint_str(const std::string& s, int64_t indent, int64_t allowance, int level) {
    std::vector<std::string> chunks;
    auto repr_of = [](std::string_view text) {
      std::string r;
      append_string_repr(r, text);
      return r;
    };
    if (level == 1) {
      indent += 1;
      allowance += 1;
    }
    int64_t max_width = kWidth - indent, max_width1 = max_width;
    auto lines = strings::splitlines(s, true);
    std::string rep;
    for (size_t i = 0; i < lines.size(); ++i) {
      rep = repr_of(lines[i]);
      if (i + 1 == lines.size()) max_width1 -= allowance;
      if (static_cast<int64_t>(cp_len(rep)) <= max_width1) {
        chunks.push_back(rep);
        continue;
      }
      // Alternating runs of non-space then space (re.findall(r'\S*\s*', line), minus the last empty
      // one).
      std::vector<std::string> parts;
      const std::string& line = lines[i];
      for (size_t p = 0; p < line.size();) {
        size_t q = p;
        while (q < line.size()) {
          size_t n = q;
          if (unicode::is_space(unicode::decode(line, n))) break;
          q = n;
        }
        while (q < line.size()) {
          size_t n = q;
          if (!unicode::is_space(unicode::decode(line, n))) break;
          q = n;
        }
        parts.push_back(line.substr(p, q - p));
        p = q;
      }
      int64_t max_width2 = max_width;
      std::string current;
      for (size_t j = 0; j < parts.size(); ++j) {
        std::string candidate = current + parts[j];
        if (j + 1 == parts.size() && i + 1 == lines.size()) max_width2 -= allowance;
        if (static_cast<int64_t>(cp_len(repr_of(candidate))) > max_width2) {
          if (!current.empty()) chunks.push_back(repr_of(current));
          current = parts[j];
        } else {
          current = std::move(candidate);
        }
      }
      if (!current.empty()) chunks.push_back(repr_of(current));
    }
    if (chunks.size() == 1) {
      out += rep;
      return;
    }
    if (level == 1) out += "(";
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i) out += "\n" + std::string(static_cast<size_t>(indent), ' ');
      out += chunks[i];
    }
    if (level == 1) out += ")";
  }
};

// ---- striptags: markupsafe 2.1's Markup.striptags ---------------------------------------------

// Removes every `open ... close` span (non-greedy, across lines), as re.sub of `open.*?close`.
std::string remove_spans(std::string s, std::string_view open, std::string_view close) {
  size_t from = 0;
  while ((from = s.find(open, from)) != std::string::npos) {
    size_t end = s.find(close, from + open.size());
    if (end == std::string::npos) break;  // no later start can match either
    s.erase(from, end + close.size() - from);
  }
  return s;
}

// html.unescape for numeric references and the common named entities (Python knows all of
// HTML5's; others are left as written).
std::string html_unescape(const std::string& s) {
  static const std::pair<std::string_view, std::string_view> kNamed[] = {
      {"amp", "&"},        {"lt", "<"},         {"gt", ">"},          {"quot", "\""},
      {"apos", "'"},       {"nbsp", "\u00a0"},  {"laquo", "\u00ab"},  {"raquo", "\u00bb"},
      {"copy", "\u00a9"},  {"reg", "\u00ae"},   {"trade", "\u2122"},  {"hellip", "\u2026"},
      {"mdash", "\u2014"}, {"ndash", "\u2013"}, {"lsquo", "\u2018"},  {"rsquo", "\u2019"},
      {"ldquo", "\u201c"}, {"rdquo", "\u201d"}, {"bull", "\u2022"},   {"middot", "\u00b7"},
      {"euro", "\u20ac"},  {"times", "\u00d7"}, {"divide", "\u00f7"}, {"deg", "\u00b0"},
      {"sect", "\u00a7"},  {"para", "\u00b6"}};
  // Entities Python also accepts without the ';' (HTML5's legacy list, the ones above).
  static const std::string_view kBare[] = {"amp",    "lt",    "gt",   "quot", "nbsp",
                                           "laquo",  "raquo", "copy", "reg",  "times",
                                           "divide", "deg",   "sect", "para", "middot"};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '#') {
      bool hex = i + 2 < s.size() && (s[i + 2] == 'x' || s[i + 2] == 'X');
      size_t j = i + (hex ? 3 : 2), digits = j;
      while (j < s.size() && (hex ? std::isxdigit(static_cast<unsigned char>(s[j]))
                                  : std::isdigit(static_cast<unsigned char>(s[j]))))
        ++j;
      if (j > digits) {
        uint64_t code = 0;
        for (size_t k = digits; k < j && code <= 0x10FFFF; ++k)
          code = code * (hex ? 16 : 10) +
                 static_cast<uint64_t>(std::isdigit(static_cast<unsigned char>(s[k]))
                                           ? s[k] - '0'
                                           : (s[k] | 0x20) - 'a' + 10);
        if (j < s.size() && s[j] == ';') ++j;
        bool invalid = code == 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF);
        unicode::append_utf8(out, invalid ? U'\uFFFD' : static_cast<char32_t>(code));
        i = j;
        continue;
      }
    }
    bool replaced = false;
    for (auto [name, text] : kNamed) {
      if (s.compare(i + 1, name.size(), name) != 0) continue;
      size_t after = i + 1 + name.size();
      bool semicolon = after < s.size() && s[after] == ';';
      if (!semicolon && std::find(std::begin(kBare), std::end(kBare), name) == std::end(kBare))
        continue;
      out += text;
      i = after + (semicolon ? 1 : 0);
      replaced = true;
      break;
    }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

// SplitMix64: the deterministic stream behind |random.
uint64_t split_mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Value f_wordwrap(Context& ctx, const Value& v, CallArgs& a) {
  int64_t width = arg_or(a, 0, "width", Value(int64_t{79})).to_int();
  bool break_long_words = arg_or(a, 1, "break_long_words", Value(true)).truthy();
  const Value wrapstring = arg_or(a, 2, "wrapstring", Value(nullptr));
  bool break_on_hyphens = arg_or(a, 3, "break_on_hyphens", Value(true)).truthy();
  std::string sep = wrapstring.is_none() ? "\n" : wrapstring.str();
  std::string out;
  auto paragraphs = strings::splitlines(v.str(), false);
  for (size_t i = 0; i < paragraphs.size(); ++i) {
    if (i) out += sep;
    auto lines = wrap_line(paragraphs[i], width, break_long_words, break_on_hyphens);
    for (size_t j = 0; j < lines.size(); ++j) out += (j ? sep : "") + lines[j];
    ctx.check_size(out.size());
  }
  return Value(std::move(out));
}

Value f_urlize(Context& ctx, const Value& v, CallArgs& a) {
  const Value trim_limit = arg_or(a, 0, "trim_url_limit", Value(nullptr));
  bool nofollow = arg_or(a, 1, "nofollow", Value(false)).truthy();
  const Value target = arg_or(a, 2, "target", Value(nullptr));
  const Value rel = arg_or(a, 3, "rel", Value(nullptr));
  const Value schemes = arg_or(a, 4, "extra_schemes", Value(nullptr));
  // rel: the words given, "nofollow", and the policy's "noopener", sorted and unique.
  std::vector<std::string> rel_parts =
      strings::split(rel.is_none() ? "" : rel.str(), std::nullopt, -1);
  if (nofollow) rel_parts.push_back("nofollow");
  rel_parts.push_back("noopener");
  std::sort(rel_parts.begin(), rel_parts.end());
  rel_parts.erase(std::unique(rel_parts.begin(), rel_parts.end()), rel_parts.end());
  std::string rel_text;
  for (const auto& p : rel_parts) rel_text += (rel_text.empty() ? "" : " ") + p;
  std::string rel_attr = " rel=\"" + html_escape(rel_text) + "\"";
  std::string target_attr =
      target.truthy() ? " target=\"" + escape_value(target).as_str() + "\"" : "";
  std::vector<std::string> extra;
  if (!schemes.is_none()) {
    static const PyRegex scheme_re(R"(\A[\w.+-]{2,}:(/){0,2}\z)");
    for (const Value& s : iterate(schemes)) {
      std::string text = s.str();
      if (!scheme_re.matches_at(text)) {
        std::string r;
        append_string_repr(r, text);
        raise("FilterArgumentError", r + " is not a valid URI scheme prefix.");
      }
      extra.push_back(std::move(text));
    }
  }
  std::string out = urlize(escape_value(v).as_str(), trim_limit, rel_attr, target_attr, extra);
  ctx.check_size(out.size());
  return Value(std::move(out));
}

Value f_pprint(Context& ctx, const Value& v, CallArgs&) {
  PrettyPrinter p;
  p.format(v, 0, 0, 0);
  ctx.check_size(p.out.size());
  return Value(std::move(p.out));
}

Value f_striptags(Context&, const Value& v, CallArgs&) {
  std::string s = remove_spans(remove_spans(v.str(), "<!--", "-->"), "<", ">");
  std::string joined;
  for (const auto& word : strings::split(s, std::nullopt, -1))
    joined += (joined.empty() ? "" : " ") + word;
  return Value(html_unescape(joined));
}

// Python's random.choice differs on every run; ours draws from a SplitMix64 stream seeded with
// 0 at the start of each render, so a template renders the same every time.
Value f_random(Context& ctx, const Value& v, CallArgs&) {
  if (!v.is_string() && !v.is_list())
    raise("TypeError", "object of type '" + v.type_name() + "' has no len()");
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No random item, sequence was empty.");
  return items[split_mix(ctx.random_draws++) % items.size()];
}

}  // namespace transformers::jinja::filters
