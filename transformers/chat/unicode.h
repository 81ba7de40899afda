// UTF-8 and the few Unicode properties Python's str methods need (isspace, isprintable, case
// mapping). Templates index and measure strings in code points, as Python does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace transformers::jinja::unicode {

// Decodes one code point at s[i], advancing i. Invalid bytes decode as U+FFFD (one byte).
char32_t decode(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t c);
std::u32string to_u32(std::string_view s);
std::string to_utf8(std::u32string_view s);
size_t length(std::string_view s);  // code points
bool is_ascii(std::string_view s);

bool is_space(char32_t c);      // str.isspace
bool is_printable(char32_t c);  // str.isprintable (repr escapes the others)
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);

std::string upper(std::string_view s);
std::string lower(std::string_view s);

}  // namespace transformers::jinja::unicode
