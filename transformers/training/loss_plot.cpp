#include "transformers/training/loss_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "transformers/io/files.h"

namespace transformers::training {
namespace {

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

void chunk(std::string& out, const char* type, const std::string& body) {
  put_u32(out, static_cast<uint32_t>(body.size()));
  std::string typed = std::string(type, 4) + body;
  out += typed;
  put_u32(out, crc32(reinterpret_cast<const uint8_t*>(typed.data()), typed.size()));
}

// zlib stream of stored deflate blocks (at most 65535 bytes each) with its Adler-32.
std::string zlib_stored(const std::string& raw) {
  std::string out = "\x78\x01";
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    out.push_back(static_cast<char>(last ? 1 : 0));
    out.push_back(static_cast<char>(n & 0xFF));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(~n & 0xFF));
    out.push_back(static_cast<char>((~n >> 8) & 0xFF));
    out.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  put_u32(out, (b << 16) | a);
  return out;
}

constexpr uint32_t kAxis = 0x404040, kGrid = 0xE0E0E0, kTrain = 0x1F77B4, kEval = 0xFF7F0E;

}  // namespace

void RgbImage::set(int64_t x, int64_t y, uint32_t rgb) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  uint8_t* p = &pixels[static_cast<size_t>((y * width + x) * 3)];
  p[0] = static_cast<uint8_t>(rgb >> 16);
  p[1] = static_cast<uint8_t>(rgb >> 8);
  p[2] = static_cast<uint8_t>(rgb);
}

void RgbImage::line(double x0, double y0, double x1, double y1, uint32_t rgb) {
  const int64_t n = static_cast<int64_t>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
  for (int64_t i = 0; i <= n; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(n);
    const auto x = static_cast<int64_t>(std::lround(x0 + (x1 - x0) * t));
    const auto y = static_cast<int64_t>(std::lround(y0 + (y1 - y0) * t));
    set(x, y, rgb);
    set(x, y + 1, rgb);  // two pixels thick
  }
}

std::string encode_png(const RgbImage& image) {
  std::string out = "\x89PNG\r\n\x1a\n";
  std::string header;
  put_u32(header, static_cast<uint32_t>(image.width));
  put_u32(header, static_cast<uint32_t>(image.height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, no filter set, no interlace
  chunk(out, "IHDR", header);
  std::string raw;
  const size_t row_bytes = static_cast<size_t>(image.width) * 3;
  for (int64_t y = 0; y < image.height; ++y) {
    raw.push_back('\0');  // filter type None
    raw.append(reinterpret_cast<const char*>(&image.pixels[static_cast<size_t>(y) * row_bytes]), row_bytes);
  }
  chunk(out, "IDAT", zlib_stored(raw));
  chunk(out, "IEND", "");
  return out;
}

void write_loss_plot(const OrderedJson& log_history, const std::filesystem::path& path) {
  std::vector<std::pair<double, double>> train, eval;
  for (const auto& entry : log_history) {
    if (!entry.contains("step")) continue;
    const double step = entry["step"].get<double>();
    if (entry.contains("loss") && entry["loss"].is_number()) train.emplace_back(step, entry["loss"].get<double>());
    if (entry.contains("eval_loss") && entry["eval_loss"].is_number())
      eval.emplace_back(step, entry["eval_loss"].get<double>());
  }
  constexpr int64_t kWidth = 640, kHeight = 400, kLeft = 50, kRight = 20, kTop = 20, kBottom = 40;
  RgbImage image(kWidth, kHeight);
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
  for (const auto* series : {&train, &eval})
    for (const auto& [x, y] : *series)
      if (std::isfinite(y)) {
        x_min = std::min(x_min, x), x_max = std::max(x_max, x);
        y_min = std::min(y_min, y), y_max = std::max(y_max, y);
      }
  if (!(x_max >= x_min)) x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  if (x_max == x_min) x_max = x_min + 1;
  if (y_max == y_min) y_max = y_min + 1;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x_min) / (x_max - x_min) * plot_w; };
  auto py = [&](double y) { return kTop + (y_max - y) / (y_max - y_min) * plot_h; };
  for (int i = 1; i < 5; ++i) {
    const double y = kTop + plot_h * i / 5.0;
    image.line(kLeft, y, kLeft + plot_w, y, kGrid);
  }
  image.line(kLeft, kTop, kLeft, kTop + plot_h, kAxis);
  image.line(kLeft, kTop + plot_h, kLeft + plot_w, kTop + plot_h, kAxis);
  for (const auto& [series, colour] : {std::pair{&train, kTrain}, std::pair{&eval, kEval}}) {
    for (size_t i = 0; i + 1 < series->size(); ++i) {
      const auto [x0, y0] = (*series)[i];
      const auto [x1, y1] = (*series)[i + 1];
      if (std::isfinite(y0) && std::isfinite(y1)) image.line(px(x0), py(y0), px(x1), py(y1), colour);
    }
    if (series->size() == 1 && std::isfinite(series->front().second))
      image.line(px(series->front().first) - 2, py(series->front().second), px(series->front().first) + 2,
                 py(series->front().second), colour);
  }
  write_file_atomically(path, encode_png(image));
}

}  // namespace transformers::training
