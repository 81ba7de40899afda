#include "transformers/tokenization/byte_level.h"

#include "transformers/tokenization/unicode.h"

namespace transformers::tokenization {

namespace {

struct ByteTables {
  std::array<char32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 324> from_char{};  // every alphabet char is below U+0144
  ByteTables() {
    from_char.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int n = 0;
    for (int b = 0; b < 256; ++b) to_char[b] = printable(b) ? b : 256 + n++;
    for (int b = 0; b < 256; ++b) {
      to_utf8[b] = utf8_encode(to_char[b]);
      from_char[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

char32_t byte_to_char(unsigned char b) { return tables().to_char[b]; }
std::string_view byte_to_utf8(unsigned char b) { return tables().to_utf8[b]; }

std::optional<unsigned char> char_to_byte(char32_t c) {
  if (c >= tables().from_char.size()) return std::nullopt;
  int16_t b = tables().from_char[c];
  if (b < 0) return std::nullopt;
  return static_cast<unsigned char>(b);
}

void byte_level_transform(NormalizedString& s) {
  const std::string& text = s.get();
  if (text.empty()) return;
  std::vector<CharChange> changes;
  changes.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence_length(static_cast<unsigned char>(text[i]));
    if (i + n > text.size()) n = text.size() - i;
    for (size_t k = 0; k < n; ++k)
      changes.emplace_back(byte_to_char(static_cast<unsigned char>(text[i + k])), k > 0 ? 1 : 0);
    i += n;
  }
  s.transform(changes, 0);
}

}  // namespace transformers::tokenization
