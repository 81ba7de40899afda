// Unicode helpers. The tables cover what chat text contains (Latin, Greek, Cyrillic, Armenian,
// Vietnamese, fullwidth forms, CJK, emoji); we keep them here rather than pull ICU into a layer
// that only needs str.upper() and str.isspace().
#include "transformers/chat/unicode.h"

#include "transformers/tokenization/unicode.h"

namespace transformers::jinja::unicode {

char32_t decode(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
  if (n < 0 || c > 0xF4 || i + static_cast<size_t>(n) >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = c & (0x3F >> n);
  for (int k = 1; k <= n; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += n + 1;
  return cp;
}

// One UTF-8 encoder for the project: the tokenizer's.
void append_utf8(std::string& out, char32_t c) { tokenization::append_utf8(out, c); }

std::u32string to_u32(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(decode(s, i));
  return out;
}

std::string to_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

size_t length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_printable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0)) return false;
  if (c == 0xAD) return false;
  if (c < 0x600) return true;
  if ((c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E) return false;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F)) return false;
  if ((c >= 0x205F && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3000) return false;
  if ((c >= 0xD7FC && c <= 0xF8FF) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB)) return false;
  if (c == 0xFFFE || c == 0xFFFF || c == 0x110BD || (c >= 0x1D173 && c <= 0x1D17A)) return false;
  if (c >= 0xE0000 || c > 0x10FFFF) return false;
  return true;
}

namespace {
// Ranges where upper and lower case alternate (even = upper for `even_upper`).
struct PairRange {
  char32_t first, last;
  bool even_upper;
};
constexpr PairRange kPairs[] = {
    {0x100, 0x137, true},   {0x139, 0x148, false},  {0x14A, 0x177, true},  {0x179, 0x17E, false},
    {0x1A0, 0x1A5, true},   {0x1CD, 0x1DC, false},  {0x1DE, 0x1EF, true},  {0x1F8, 0x21F, true},
    {0x222, 0x233, true},   {0x3D8, 0x3EF, true},   {0x460, 0x481, true},  {0x48A, 0x4BF, true},
    {0x4C1, 0x4CE, false},  {0x4D0, 0x52F, true},   {0x1E00, 0x1E95, true}, {0x1EA0, 0x1EFF, true},
    {0x2C80, 0x2CE3, true}, {0xA640, 0xA66D, true}, {0xA680, 0xA69B, true}, {0xA722, 0xA72F, true},
    {0xA732, 0xA76F, true}, {0xA77E, 0xA787, true}, {0xA790, 0xA793, true}, {0xA796, 0xA7A9, true},
};
// Ranges [first,last] of upper case letters whose lower case is at +delta.
struct ShiftRange {
  char32_t first, last;
  int delta;
};
constexpr ShiftRange kShifts[] = {
    {'A', 'Z', 32},          {0xC0, 0xD6, 32},        {0xD8, 0xDE, 32},        {0x391, 0x3A1, 32},
    {0x3A3, 0x3AB, 32},      {0x388, 0x38A, 37},      {0x38E, 0x38F, 63},      {0x410, 0x42F, 32},
    {0x400, 0x40F, 80},      {0x531, 0x556, 48},      {0x10A0, 0x10C5, 7264},  {0x13A0, 0x13EF, 38864},
    {0x1F08, 0x1F0F, -8},    {0x1F18, 0x1F1D, -8},    {0x1F28, 0x1F2F, -8},    {0x1F38, 0x1F3F, -8},
    {0x1F48, 0x1F4D, -8},    {0x1F68, 0x1F6F, -8},    {0x2160, 0x216F, 16},    {0x24B6, 0x24CF, 26},
    {0x2C00, 0x2C2F, 48},    {0xFF21, 0xFF3A, 32},    {0x10400, 0x10427, 40},  {0x1E900, 0x1E921, 34},
};
}  // namespace

char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  for (const auto& r : kShifts)
    if (c >= r.first && c <= r.last) return c + r.delta;
  for (const auto& r : kPairs)
    if (c >= r.first && c <= r.last) return ((c % 2 == 0) == r.even_upper) ? c + 1 : c;
  switch (c) {
    case 0x178: return 0xFF;
    case 0x386: return 0x3AC;
    case 0x38C: return 0x3CC;
    case 0x130: return 'i';
    case 0x1E9E: return 0xDF;
    default: return c;
  }
}

char32_t to_upper(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  for (const auto& r : kShifts) {
    char32_t lo = r.first + r.delta, hi = r.last + r.delta;
    if (c >= lo && c <= hi && !(r.first == 0xC0 && c == 0xF7)) return c - r.delta;
  }
  for (const auto& r : kPairs)
    if (c >= r.first && c <= r.last) return ((c % 2 == 0) == r.even_upper) ? c : c - 1;
  switch (c) {
    case 0xFF: return 0x178;
    case 0xB5: return 0x39C;
    case 0x3AC: return 0x386;
    case 0x3CC: return 0x38C;
    case 0x3C2: return 0x3A3;
    case 0x131: return 'I';
    case 0x17F: return 'S';
    default: return c;
  }
}

bool is_upper(char32_t c) { return to_lower(c) != c || (c >= 0x2160 && c <= 0x216F); }
bool is_lower(char32_t c) { return to_upper(c) != c || c == 0xDF || c == 0xAA || c == 0xBA; }

bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return (c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) || (c >= 0x966 && c <= 0x96F) ||
         (c >= 0xFF10 && c <= 0xFF19) || c == 0xB2 || c == 0xB3 || c == 0xB9;
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
  if (c < 0x100) return c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7);
  if (c < 0x2C0) return true;                                     // Latin extended, IPA
  if (c >= 0x370 && c <= 0x3FF) return c != 0x37E && c != 0x387 && c != 0x375;  // Greek
  if (c >= 0x400 && c <= 0x52F) return !(c >= 0x482 && c <= 0x489);            // Cyrillic
  if (c >= 0x531 && c <= 0x587) return true;                                   // Armenian
  if (c >= 0x5D0 && c <= 0x5EA) return true;                                   // Hebrew
  if (c >= 0x620 && c <= 0x64A) return true;                                   // Arabic
  if (c >= 0x671 && c <= 0x6D3) return true;
  if (c >= 0x904 && c <= 0x939) return true;                                   // Devanagari
  if (c >= 0xE01 && c <= 0xE30) return true;                                   // Thai
  if (c >= 0x10A0 && c <= 0x10FF) return true;                                 // Georgian
  if (c >= 0x1E00 && c <= 0x1FFF) return true;                                 // Latin/Greek ext.
  if (c >= 0x3041 && c <= 0x3096) return true;                                 // Hiragana
  if (c >= 0x30A1 && c <= 0x30FA) return true;                                 // Katakana
  if (c >= 0x3400 && c <= 0x4DBF) return true;                                 // CJK ext A
  if (c >= 0x4E00 && c <= 0x9FFF) return true;                                 // CJK
  if (c >= 0xAC00 && c <= 0xD7A3) return true;                                 // Hangul
  if (c >= 0xF900 && c <= 0xFAFF) return true;
  if ((c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A)) return true;
  if (c >= 0x20000 && c <= 0x3134F) return true;                               // CJK ext B+
  return false;
}

std::string upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>((b >= 'a' && b <= 'z') ? b - 32 : b));
      ++i;
      continue;
    }
    char32_t c = decode(s, i);
    if (c == 0xDF) {  // Python: 'ß'.upper() == 'SS'
      out += "SS";
      continue;
    }
    append_utf8(out, to_upper(c));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>((b >= 'A' && b <= 'Z') ? b + 32 : b));
      ++i;
      continue;
    }
    append_utf8(out, to_lower(decode(s, i)));
  }
  return out;
}

}  // namespace transformers::jinja::unicode
