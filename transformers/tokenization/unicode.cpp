#include "transformers/tokenization/unicode.h"

#include <cstring>

#include <algorithm>
#include <iterator>

#include <utf8proc.h>

namespace transformers::tokenization {

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(next_code_point(s, i));
  return out;
}

size_t count_code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 with `bad` = the length of the maximal invalid
// subpart to replace (WHATWG / Unicode "maximal subpart" practice, as Rust's from_utf8_lossy).
size_t valid_sequence_at(std::string_view s, size_t i, size_t& bad) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    bad = 1;
    return 0;
  }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= s.size()) break;
    unsigned char b = byte(i + k);
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (k == need + 1) return need + 1;
  bad = k;
  return 0;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    // ASCII 8 bytes at a time (most text is mostly ASCII).
    for (uint64_t x; i + 8 <= s.size(); i += 8) {
      std::memcpy(&x, s.data() + i, 8);
      if (x & 0x8080808080808080ULL) break;
    }
    if (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (i >= s.size()) break;
    size_t bad = 0, n = valid_sequence_at(s, i, bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    size_t bad = 0, n = valid_sequence_at(s, i, bad);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += bad;
    }
  }
  return out;
}

bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

static utf8proc_category_t category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool is_punctuation(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_numeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool is_other(char32_t c) {
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

bool is_mark_nonspacing(char32_t c) { return c >= 0x300 && category(c) == UTF8PROC_CATEGORY_MN; }

bool is_combining_mark(char32_t c) {
  if (c < 0x300) return false;
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME;
}

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_';
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  // Other_Alphabetic symbols (circled / squared / negative squared Latin letters).
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
      (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
    return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

void append_lowercase(std::u32string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
  } else if (c == 0x130) {  // the one unconditional multi-code-point lowercase mapping
    out.push_back(U'i');
    out.push_back(0x307);
  } else {
    out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
}

void append_uppercase(std::u32string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(c >= 'a' && c <= 'z' ? c - 32 : c);
  } else if (c == 0xDF) {
    out.push_back(U'S');
    out.push_back(U'S');
  } else {
    out.push_back(static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c))));
  }
}

namespace {

int combining_class(char32_t c) {
  if (c < 0x300) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

// Canonical composition of a starter and one following character, or 0 when none exists.
char32_t compose_pair(char32_t a, char32_t b) {
  utf8proc_int32_t buf[2] = {static_cast<utf8proc_int32_t>(a), static_cast<utf8proc_int32_t>(b)};
  utf8proc_ssize_t n = utf8proc_normalize_utf32(buf, 2, UTF8PROC_COMPOSE);
  return n == 1 ? static_cast<char32_t>(buf[0]) : 0;
}

struct Pending {
  char32_t c;
  int change;
};

// Decomposition (canonical or compatibility) with canonical reordering. Each input char gives its
// decomposition: the first code point replaces it (change 0), the others are insertions (1).
std::vector<Pending> decompose_with_changes(std::string_view s, bool compat) {
  std::vector<Pending> out;
  out.reserve(s.size());
  int options = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
  utf8proc_int32_t buf[32];
  for (size_t i = 0; i < s.size();) {
    char32_t c = next_code_point(s, i);
    if (c < 0xA0) {
      out.push_back({c, 0});
      continue;
    }
    int last_bound = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                 static_cast<utf8proc_option_t>(options),
                                                 &last_bound);
    if (n <= 0 || n > 32) {
      out.push_back({c, 0});
      continue;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) out.push_back({static_cast<char32_t>(buf[k]), k ? 1 : 0});
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < out.size();) {
    if (combining_class(out[i].c) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j].c) != 0) ++j;
    std::stable_sort(out.begin() + i, out.begin() + j, [](const Pending& x, const Pending& y) {
      return combining_class(x.c) < combining_class(y.c);
    });
    i = j;
  }
  return out;
}

// Canonical composition over the decomposed sequence; a composed pair carries the changes of
// both halves minus one (the second char is removed).
std::vector<std::pair<char32_t, int>> recompose(const std::vector<Pending>& in) {
  std::vector<std::pair<char32_t, int>> out;
  out.reserve(in.size());
  bool has_composee = false;
  Pending composee{0, 0};
  int last_class = -1;  // -1: no blocked character since the composee
  std::vector<Pending> held;
  auto flush_held = [&] {
    for (auto& p : held) out.emplace_back(p.c, p.change);
    held.clear();
  };
  for (const Pending& p : in) {
    int cls = combining_class(p.c);
    if (!has_composee) {
      if (cls != 0) {
        out.emplace_back(p.c, p.change);
        continue;
      }
      composee = p;
      has_composee = true;
      continue;
    }
    if (last_class < 0) {
      if (char32_t r = compose_pair(composee.c, p.c)) {
        composee = {r, composee.change + p.change - 1};
        continue;
      }
      if (cls == 0) {
        out.emplace_back(composee.c, composee.change);
        composee = p;
        continue;
      }
      held.push_back(p);
      last_class = cls;
      continue;
    }
    if (last_class >= cls) {
      if (cls == 0) {
        out.emplace_back(composee.c, composee.change);
        flush_held();
        composee = p;
        last_class = -1;
        continue;
      }
      held.push_back(p);
      last_class = cls;
      continue;
    }
    if (char32_t r = compose_pair(composee.c, p.c)) {
      composee = {r, composee.change + p.change - 1};
      continue;
    }
    held.push_back(p);
    last_class = cls;
  }
  if (has_composee) out.emplace_back(composee.c, composee.change);
  flush_held();
  return out;
}

}  // namespace

std::vector<std::pair<char32_t, int>> normalize_with_changes(std::string_view s,
                                                             NormalizationForm form) {
  bool compat = form == NormalizationForm::kNFKC || form == NormalizationForm::kNFKD;
  auto decomposed = decompose_with_changes(s, compat);
  if (form == NormalizationForm::kNFD || form == NormalizationForm::kNFKD) {
    std::vector<std::pair<char32_t, int>> out;
    out.reserve(decomposed.size());
    for (auto& p : decomposed) out.emplace_back(p.c, p.change);
    return out;
  }
  return recompose(decomposed);
}

namespace {
bool recomposes_to_itself(char32_t c) {
  utf8proc_int32_t buf[8];
  int last_bound = 0;
  auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 8, UTF8PROC_DECOMPOSE,
                                   &last_bound);
  if (n < 1 || n > 8) return false;
  char32_t r = static_cast<char32_t>(buf[0]);
  for (utf8proc_ssize_t k = 1; k < n; ++k) {
    r = compose_pair(r, static_cast<char32_t>(buf[k]));
    if (!r) return false;
  }
  return r == c;
}
}  // namespace

bool is_nfc_quick(std::string_view s) {
  char32_t last_starter = 0;
  bool starter_precomposed = false;
  int last_class = 0;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0xC3) {  // below U+00C0: a stable, bare starter
      last_starter = next_code_point(s, i);
      starter_precomposed = false;
      last_class = 0;
      continue;
    }
    char32_t c = next_code_point(s, i);
    if (c >= 0x1100 && c <= 0x11FF) return false;  // Hangul jamo compose algorithmically
    const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
    int cls = p->combining_class;
    bool canonical = p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0;
    // A precomposed char is stable only when its decomposition composes back to it (not so for
    // singletons such as KELVIN SIGN -> K or excluded composites).
    if (canonical && !recomposes_to_itself(c)) return false;
    bool second = p->comb_index != UINT16_MAX && p->comb_index >= 0x8000;
    if (cls == 0) {
      if (second) return false;  // a starter that composes with the previous one
      last_starter = c;
      starter_precomposed = canonical;
      last_class = 0;
      continue;
    }
    // A mark: stable when already in canonical order and not composing with its starter. After a
    // precomposed starter NFC may reorder it into the decomposition: leave that to the full check.
    if (starter_precomposed || cls < last_class) return false;
    if (second && last_starter && compose_pair(last_starter, c)) return false;
    last_class = cls;
  }
  return true;
}

std::vector<std::pair<size_t, size_t>> grapheme_ranges(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> out;
  utf8proc_int32_t state = 0;
  size_t start = 0, i = 0;
  char32_t prev = 0;
  bool first = true;
  while (i < s.size()) {
    size_t at = i;
    char32_t c = next_code_point(s, i);
    if (!first && utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                                   static_cast<utf8proc_int32_t>(c), &state)) {
      out.emplace_back(start, at);
      start = at;
    }
    first = false;
    prev = c;
  }
  if (start < s.size()) out.emplace_back(start, s.size());
  return out;
}

std::optional<UnicodeScript> unicode_script(char32_t c) {
  const auto* end = std::end(kUnicodeScriptRanges);
  const auto* it = std::upper_bound(std::begin(kUnicodeScriptRanges), end, c,
                                    [](char32_t v, const UnicodeScriptRange& r) { return v < r.first; });
  if (it == std::begin(kUnicodeScriptRanges) || c > (it - 1)->last) return std::nullopt;
  return (it - 1)->script;
}

}  // namespace transformers::tokenization
