#include "transformers/chat/lexer.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "transformers/chat/unicode.h"
#include "transformers/core/error.h"

namespace transformers::jinja {

void syntax_error(int line, int column, const std::string& message) {
  throw FormatError(detail::concat("template:", line, ":", column, ": ", message));
}

namespace {

// Length of the whitespace run (Python's \s) starting at pos.
size_t whitespace_run(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (!unicode::is_space(b)) break;
      ++i;
      continue;
    }
    size_t j = i;
    if (!unicode::is_space(unicode::decode(s, j))) break;
    i = j;
  }
  return i - pos;
}

// Python's str.rstrip(): drop trailing whitespace.
std::string_view rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t j = start;
    if (!unicode::is_space(unicode::decode(s, j))) break;
    end = start;
  }
  return s.substr(0, end);
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexerOptions& options) : opt_(options) {
    // jinja2 splits on \r\n, \r and \n, drops one trailing empty line and rejoins with "\n".
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_.push_back('\n');
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_.push_back(source[i]);
      }
    }
    if (!opt_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    Token eof;
    eof.type = TokenType::Eof;
    set_pos(eof, src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  void set_pos(Token& t, size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = it - line_starts_.begin();
    t.line = static_cast<int>(line);
    t.column = static_cast<int>(offset - line_starts_[line - 1] + 1);
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    Token t;
    set_pos(t, offset);
    syntax_error(t.line, t.column, message);
  }

  void emit(TokenType type, std::string value, size_t offset) {
    Token t;
    t.type = type;
    t.value = std::move(value);
    set_pos(t, offset);
    tokens_.push_back(std::move(t));
  }

  // Applies the `-` modifier or lstrip_blocks to the data before a tag, as OptionalLStrip does.
  std::string_view strip_before(std::string_view text, char sign, bool is_variable) const {
    if (sign == '-') return rstrip(text);
    if (sign != '+' && opt_.lstrip_blocks && !is_variable) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting_) {
        size_t rest = text.size() - l_pos;
        if (rest > 0 && whitespace_run(text, l_pos) == rest) return text.substr(0, l_pos);
      }
    }
    return text;
  }

  // Matches `{%[-+]?\s*raw\s*(-%}\s*|%})` at p; returns the end or npos.
  size_t match_raw_begin(size_t p, char& sign) const {
    size_t i = p + 2;
    sign = 0;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
    i += whitespace_run(src_, i);
    if (src_.compare(i, 3, "raw") != 0) return std::string::npos;
    i += 3;
    i += whitespace_run(src_, i);
    if (src_.compare(i, 3, "-%}") == 0) return i + 3 + whitespace_run(src_, i + 3);
    if (src_.compare(i, 2, "%}") == 0) return i + 2;
    return std::string::npos;
  }

  // The end of a block tag at p: `+%}`, `-%}\s*` or `%}\n?` (trim_blocks). npos if none.
  size_t match_block_end(size_t p, const char* close) const {
    if (src_.compare(p, 1, "+") == 0 && src_.compare(p + 1, 2, close) == 0) return p + 3;
    if (src_.compare(p, 1, "-") == 0 && src_.compare(p + 1, 2, close) == 0)
      return p + 3 + whitespace_run(src_, p + 3);
    if (src_.compare(p, 2, close) == 0) {
      size_t e = p + 2;
      if (opt_.trim_blocks && e < src_.size() && src_[e] == '\n') ++e;
      return e;
    }
    return std::string::npos;
  }

  void finish_match(size_t end) {
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_root() {
    size_t p = pos_;
    size_t found = std::string::npos;
    char kind = 0;
    while (true) {
      p = src_.find('{', p);
      if (p == std::string::npos || p + 1 >= src_.size()) break;
      char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') {
        found = p;
        kind = c;
        break;
      }
      ++p;
    }
    if (found == std::string::npos) {
      emit(TokenType::Data, src_.substr(pos_), pos_);
      finish_match(src_.size());
      return;
    }
    std::string_view text(src_.data() + pos_, found - pos_);
    size_t text_offset = pos_;
    if (kind == '%') {
      char sign;
      size_t raw_end = match_raw_begin(found, sign);
      if (raw_end != std::string::npos) {
        text = strip_before(text, sign, false);
        if (!text.empty()) emit(TokenType::Data, std::string(text), text_offset);
        finish_match(raw_end);
        lex_raw();
        return;
      }
    }
    size_t after = found + 2;
    char sign = 0;
    if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
    text = strip_before(text, sign, kind == '{');
    if (!text.empty()) emit(TokenType::Data, std::string(text), text_offset);
    finish_match(after);
    if (kind == '#') {
      lex_comment(found);
    } else if (kind == '%') {
      emit(TokenType::BlockBegin, "", found);
      lex_tag(true);
    } else {
      emit(TokenType::VariableBegin, "", found);
      lex_tag(false);
    }
  }

  void lex_comment(size_t start) {
    size_t q = src_.find("#}", pos_);
    if (q == std::string::npos) fail(start, "Missing end of comment tag");
    size_t end;
    if (q > pos_ && src_[q - 1] == '-') end = q + 2 + whitespace_run(src_, q + 2);
    else if (q > pos_ && src_[q - 1] == '+') end = q + 2;
    else end = (opt_.trim_blocks && q + 2 < src_.size() && src_[q + 2] == '\n') ? q + 3 : q + 2;
    finish_match(end);
  }

  void lex_raw() {
    size_t p = pos_;
    while (true) {
      p = src_.find("{%", p);
      if (p == std::string::npos) fail(pos_, "Missing end of raw directive");
      size_t i = p + 2;
      char sign = 0;
      if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) sign = src_[i++];
      i += whitespace_run(src_, i);
      if (src_.compare(i, 6, "endraw") == 0) {
        i += 6;
        i += whitespace_run(src_, i);
        size_t end = match_block_end(i, "%}");
        if (end != std::string::npos) {
          std::string_view text(src_.data() + pos_, p - pos_);
          text = strip_before(text, sign, false);
          if (!text.empty()) emit(TokenType::Data, std::string(text), pos_);
          finish_match(end);
          return;
        }
      }
      p += 2;
    }
  }

  void lex_tag(bool block) {
    std::vector<char> balance;
    const char* close = block ? "%}" : "}}";
    while (true) {
      if (pos_ >= src_.size()) fail(pos_, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
      if (balance.empty()) {
        size_t end;
        if (block) {
          end = match_block_end(pos_, close);
        } else if (src_.compare(pos_, 3, "-}}") == 0) {
          end = pos_ + 3 + whitespace_run(src_, pos_ + 3);
        } else {
          end = src_.compare(pos_, 2, "}}") == 0 ? pos_ + 2 : std::string::npos;
        }
        if (end != std::string::npos) {
          emit(block ? TokenType::BlockEnd : TokenType::VariableEnd, "", pos_);
          finish_match(end);
          return;
        }
      }
      size_t ws = whitespace_run(src_, pos_);
      if (ws) {
        finish_match(pos_ + ws);
        continue;
      }
      char c = src_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number();
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos_;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
        emit(TokenType::Name, src_.substr(pos_, e - pos_), pos_);
        finish_match(e);
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(balance);
      }
    }
  }

  void lex_operator(std::vector<char>& balance) {
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        emit(TokenType::Operator, op, pos_);
        finish_match(pos_ + 2);
        return;
      }
    }
    char c = src_[pos_];
    if (!std::strchr("+-/*%~[](){}=.,:|;><", c) || c == 0) {
      std::string shown;
      append_char_repr(shown, pos_);
      fail(pos_, "unexpected char " + shown + " at " + std::to_string(pos_));
    }
    if (c == '(') balance.push_back(')');
    if (c == '[') balance.push_back(']');
    if (c == '{') balance.push_back('}');
    if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) fail(pos_, std::string("unexpected '") + c + "'");
      char expected = balance.back();
      balance.pop_back();
      if (expected != c) fail(pos_, std::string("unexpected '") + c + "', expected '" + expected + "'");
    }
    emit(TokenType::Operator, std::string(1, c), pos_);
    finish_match(pos_ + 1);
  }

  void append_char_repr(std::string& out, size_t p) const {
    size_t j = p;
    char32_t c = unicode::decode(src_, j);
    std::string one;
    unicode::append_utf8(one, c);
    out += "'" + one + "'";
  }

  static bool digit_run(const std::string& s, size_t& i, int (*pred)(int)) {
    // (\d+_)*\d+ style: digits with single underscores between them.
    size_t start = i;
    while (i < s.size() && (pred(static_cast<unsigned char>(s[i])) ||
                            (s[i] == '_' && i > start && i + 1 < s.size() && pred(static_cast<unsigned char>(s[i + 1])))))
      ++i;
    return i > start;
  }

  void lex_number() {
    size_t start = pos_;
    size_t i = pos_;
    std::string text;
    auto clean = [&](size_t a, size_t b) {
      std::string t = src_.substr(a, b - a);
      t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
      return t;
    };
    // Prefixed integers.
    if (src_[i] == '0' && i + 1 < src_.size() && std::strchr("bBoOxX", src_[i + 1]) && src_[i + 1]) {
      char p = static_cast<char>(std::tolower(src_[i + 1]));
      int base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
      size_t j = i + 2;
      auto ok = [&](char ch) {
        int d = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
                : std::isxdigit(static_cast<unsigned char>(ch)) ? std::tolower(ch) - 'a' + 10 : 99;
        return d < base;
      };
      while (j < src_.size() && (ok(src_[j]) || (src_[j] == '_' && j + 1 < src_.size() && ok(src_[j + 1])))) ++j;
      if (j > i + 2) {
        Token t;
        t.type = TokenType::Integer;
        try {
          t.int_value = std::stoll(clean(i + 2, j), nullptr, base);
        } catch (const std::out_of_range&) {
          t.value = clean(i + 2, j);
          t.big_base = base;
        }
        set_pos(t, start);
        tokens_.push_back(std::move(t));
        finish_match(j);
        return;
      }
    }
    bool prev_dot = start > 0 && src_[start - 1] == '.';
    digit_run(src_, i, std::isdigit);
    size_t int_end = i;
    bool is_float = false;
    if (!prev_dot) {
      size_t j = i;
      bool frac = false;
      if (j < src_.size() && src_[j] == '.' && j + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
        ++j;
        digit_run(src_, j, std::isdigit);
        frac = true;
      }
      size_t k = j;
      if (k < src_.size() && (src_[k] == 'e' || src_[k] == 'E')) {
        ++k;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
          digit_run(src_, k, std::isdigit);
          j = k;
          is_float = true;
        }
      }
      if (frac) is_float = true;
      if (is_float) i = j;
    }
    Token t;
    set_pos(t, start);
    if (is_float) {
      t.type = TokenType::Float;
      t.float_value = std::strtod(clean(start, i).c_str(), nullptr);
    } else {
      i = int_end;
      // jinja2 accepts "0", "00" and [1-9]... ; "012" lexes as 0 then 12 which the parser rejects.
      if (src_[start] == '0') {
        i = start + 1;
        while (i < int_end && (src_[i] == '0' || src_[i] == '_')) ++i;
        if (i > start + 1 && src_[i - 1] == '_') --i;
      }
      t.type = TokenType::Integer;
      std::string digits = clean(start, i);
      errno = 0;
      char* endp = nullptr;
      long long v = std::strtoll(digits.c_str(), &endp, 10);
      if (errno == ERANGE) {
        t.value = digits;
        t.big_base = 10;
      }
      t.int_value = v;
    }
    tokens_.push_back(std::move(t));
    finish_match(i);
  }

  void lex_string() {
    char quote = src_[pos_];
    size_t i = pos_ + 1;
    std::string raw;
    while (true) {
      if (i >= src_.size()) fail(pos_, "unexpected char " + std::string(1, '\'') + quote + "' at " + std::to_string(pos_));
      char c = src_[i];
      if (c == quote) break;
      if (c == '\\') {
        if (i + 1 >= src_.size()) fail(pos_, "unterminated string");
        raw.push_back(c);
        raw.push_back(src_[i + 1]);
        i += 2;
        continue;
      }
      raw.push_back(c);
      ++i;
    }
    Token t;
    t.type = TokenType::String;
    t.value = unescape(raw, pos_);
    set_pos(t, pos_);
    tokens_.push_back(std::move(t));
    finish_match(i + 1);
  }

  // Python's "unicode-escape" decoding of a string literal's body.
  std::string unescape(const std::string& raw, size_t offset) const {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out.push_back(raw[i]);
        continue;
      }
      char e = raw[++i];
      auto hex = [&](int n) -> char32_t {
        if (i + n >= raw.size()) fail(offset, "truncated \\xXX escape");
        char32_t v = 0;
        for (int k = 1; k <= n; ++k) {
          char h = raw[i + k];
          if (!std::isxdigit(static_cast<unsigned char>(h))) fail(offset, "truncated escape");
          v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
        }
        i += n;
        return v;
      };
      switch (e) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': unicode::append_utf8(out, hex(2)); break;
        case 'u': unicode::append_utf8(out, hex(4)); break;
        case 'U': {
          char32_t c = hex(8);
          if (c > 0x10FFFF) fail(offset, "illegal Unicode character");
          unicode::append_utf8(out, c);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k) v = v * 8 + (raw[++i] - '0');
            unicode::append_utf8(out, static_cast<char32_t>(v));
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    return out;
  }

  LexerOptions opt_;
  std::string src_;
  std::vector<size_t> line_starts_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace transformers::jinja
