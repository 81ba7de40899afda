// Python str operations on UTF-8 text (code point semantics), shared by str methods and filters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace transformers::jinja::strings {

// str.strip/lstrip/rstrip; chars = nullopt strips whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / str.rsplit; sep = nullopt splits on whitespace runs.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
std::string capitalize(std::string_view s);  // str.capitalize
std::string py_title(std::string_view s);    // str.title
std::string swapcase(std::string_view s);
// Byte offset -> code point index.
int64_t cp_index(std::string_view s, size_t byte_offset);
// Pads to `width` code points: align '<', '>', '^' (centre as Python's str.center).
std::string pad(std::string_view s, int64_t width, char32_t fill, char align);

}  // namespace transformers::jinja::strings
