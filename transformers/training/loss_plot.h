// A PNG picture of the training (and evaluation) loss against the step, written without an image
// library: 8-bit RGB rows in stored (uncompressed) deflate blocks, which every PNG reader accepts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "transformers/io/json.h"

namespace transformers::training {

struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major RGB
  RgbImage(int64_t w, int64_t h) : width(w), height(h), pixels(static_cast<size_t>(w * h * 3), 255) {}
  void set(int64_t x, int64_t y, uint32_t rgb);
  void line(double x0, double y0, double x1, double y1, uint32_t rgb);
};

// The PNG file bytes of an image (signature, IHDR, IDAT with zlib-wrapped stored blocks, IEND).
std::string encode_png(const RgbImage& image);

// Plots "loss" (blue) and "eval_loss" (orange) of a log_history against "step" and writes the
// PNG atomically. Fewer than one point: an empty frame.
void write_loss_plot(const OrderedJson& log_history, const std::filesystem::path& path);

}  // namespace transformers::training
