#include "transformers/ops/cpu/bnb_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace transformers::cpu {
namespace {

// NF4: the quantiles of N(0, 1) normalised to [-1, 1] with an exact 0 (QLoRA, appendix E), as
// bitsandbytes tabulates them.
constexpr float kNf4[16] = {-1.0f,
                            -0.6961928009986877f,
                            -0.5250730514526367f,
                            -0.39491748809814453f,
                            -0.28444138169288635f,
                            -0.18477343022823334f,
                            -0.09105003625154495f,
                            0.0f,
                            0.07958029955625534f,
                            0.16093020141124725f,
                            0.24611230194568634f,
                            0.33791524171829224f,
                            0.44070982933044434f,
                            0.5626170039176941f,
                            0.7229568362236023f,
                            1.0f};
// The decision points between consecutive NF4 codes (midpoints, as bitsandbytes' f32 constants):
// the nibble is the number of them that s exceeds.
constexpr float kNf4Midpoints[15] = {
    -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
    0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f};

// FP4 magnitudes by 3-bit code: e2m1 with bias 3 (0, 0.0625 subnormal, 8, 12, 4, 6, 2, 3) / 12,
// as bitsandbytes' f32 table.
constexpr float kFp4Magnitude[8] = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f,
                                    0.5f, 0.16666667f,     0.25f};
// The codes in increasing magnitude, and bitsandbytes' decision points between neighbours.
constexpr uint8_t kFp4ByMagnitude[8] = {0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011};
constexpr float kFp4Midpoints[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f,
                                    0.4166667f,  0.583333f,  0.8333333f};

// How many of the sorted points `s` exceeds (a NaN exceeds none).
template <size_t N>
uint8_t points_below(const float (&points)[N], float s) {
  uint8_t c = 0;
  for (float p : points) c += s > p ? 1 : 0;
  return c;
}

const float* build_fp4_code_book() {
  static float book[16];
  for (int q = 0; q < 8; ++q) {
    book[q] = kFp4Magnitude[q];
    book[q + 8] = -kFp4Magnitude[q];
  }
  return book;
}

template <uint8_t (*Nibble)(float)>
void quantize_blocks(const float* x, void* out, int64_t n) {
  auto* b = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < n / kBnbBlock; ++i, b += kBnbBlockBytes, x += kBnbBlock) {
    float absmax = 0.0f;
    for (int64_t j = 0; j < kBnbBlock; ++j) absmax = std::max(absmax, std::fabs(x[j]));
    std::memcpy(b, &absmax, 4);
    // bitsandbytes multiplies by the f32 reciprocal; an all-zero block is its 0 * inf = NaN,
    // which both trees send to nibble 0 (spelled out, so no compiler flag can change it).
    const float inv = 1.0f / absmax;
    auto nibble = [&](float v) { return absmax == 0.0f ? uint8_t{0} : Nibble(v * inv); };
    for (int64_t j = 0; j < kBnbBlock / 2; ++j)
      b[4 + j] = static_cast<unsigned char>(nibble(x[2 * j]) << 4 | nibble(x[2 * j + 1]));
  }
}

void dequantize_blocks(const float* book, const void* in, float* out, int64_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < n / kBnbBlock; ++i, b += kBnbBlockBytes, out += kBnbBlock) {
    float absmax;
    std::memcpy(&absmax, b, 4);
    for (int64_t j = 0; j < kBnbBlock / 2; ++j) {
      out[2 * j] = book[b[4 + j] >> 4] * absmax;
      out[2 * j + 1] = book[b[4 + j] & 0x0f] * absmax;
    }
  }
}

}  // namespace

const float* nf4_code_book() { return kNf4; }
const float* fp4_code_book() {
  static const float* book = build_fp4_code_book();
  return book;
}

uint8_t nf4_nibble(float s) { return points_below(kNf4Midpoints, s); }

uint8_t fp4_nibble(float s) {
  const uint8_t sign = s < 0.0f ? 0b1000 : 0;
  return static_cast<uint8_t>(sign | kFp4ByMagnitude[points_below(kFp4Midpoints, std::fabs(s))]);
}

void quantize_nf4(const float* x, void* out, int64_t n) { quantize_blocks<nf4_nibble>(x, out, n); }
void quantize_fp4(const float* x, void* out, int64_t n) { quantize_blocks<fp4_nibble>(x, out, n); }
void dequantize_nf4(const void* in, float* out, int64_t n) {
  dequantize_blocks(nf4_code_book(), in, out, n);
}
void dequantize_fp4(const void* in, float* out, int64_t n) {
  dequantize_blocks(fp4_code_book(), in, out, n);
}

namespace {
// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as PyTorch
// computes it (f32 torch.linspace, whose last bits depend on its vectorised kernel, so the table is
// data from a PyTorch 1.13 run: tests/ops/reference/bnb_dynamic_map.py --table). For exponent i in
// 0..6: the midpoints of 2^i + 1 points in [0.1, 1] times 10^(i - 6), with their negatives; then 0
// and 1; sorted.
constexpr float kDynamicCode[256] = {
    -0.992968738f, -0.978906214f, -0.96484375f, -0.950781226f, -0.936718702f, -0.922656238f,
    -0.908593774f, -0.89453125f, -0.880468726f, -0.866406202f, -0.852343738f, -0.838281214f,
    -0.82421875f, -0.810156226f, -0.796093702f, -0.782031238f, -0.767968774f, -0.75390625f,
    -0.739843786f, -0.725781262f, -0.711718798f, -0.697656274f, -0.68359375f, -0.669531286f,
    -0.655468762f, -0.641406238f, -0.627343774f, -0.61328125f, -0.599218726f, -0.585156262f,
    -0.571093798f, -0.557031274f, -0.54296875f, -0.528906226f, -0.514843762f, -0.500781238f,
    -0.486718774f, -0.47265625f, -0.458593726f, -0.444531262f, -0.430468738f, -0.416406214f,
    -0.40234375f, -0.388281226f, -0.374218762f, -0.360156238f, -0.346093714f, -0.33203125f,
    -0.317968726f, -0.303906262f, -0.289843738f, -0.275781274f, -0.26171875f, -0.247656256f,
    -0.233593762f, -0.219531253f, -0.205468744f, -0.19140625f, -0.177343741f, -0.163281247f,
    -0.149218753f, -0.135156244f, -0.12109375f, -0.107031256f, -0.0985937491f, -0.0957812443f,
    -0.0929687545f, -0.0901562497f, -0.0873437524f, -0.0845312476f, -0.0817187428f, -0.078906253f,
    -0.0760937482f, -0.0732812509f, -0.0704687461f, -0.0676562563f, -0.0648437515f, -0.0620312467f,
    -0.0592187531f, -0.0564062484f, -0.053593751f, -0.05078125f, -0.047968749f, -0.0451562516f,
    -0.0423437469f, -0.0395312496f, -0.0367187522f, -0.0339062475f, -0.0310937501f, -0.0282812472f,
    -0.0254687499f, -0.0226562507f, -0.0198437497f, -0.0170312505f, -0.0142187504f, -0.0114062503f,
    -0.00971874967f, -0.00915624946f, -0.00859375019f, -0.00803124998f, -0.00746874977f, -0.00690625003f,
    -0.00634374982f, -0.00578125007f, -0.00521875033f, -0.00465624966f, -0.00409374991f, -0.00353124971f,
    -0.00296874996f, -0.00240624999f, -0.00184375001f, -0.00128124992f, -0.000943750085f, -0.000831249985f,
    -0.00071875006f, -0.000606250076f, -0.000493750034f, -0.000381250022f, -0.000268750038f, -0.000156250011f,
    -8.87499991e-05f, -6.62500024e-05f, -4.37499984e-05f, -2.12499981e-05f, -7.7499999e-06f, -3.25000019e-06f,
    -5.50000038e-07f, 0.0f, 5.50000038e-07f, 3.25000019e-06f, 7.7499999e-06f, 2.12499981e-05f,
    4.37499984e-05f, 6.62500024e-05f, 8.87499991e-05f, 0.000156250011f, 0.000268750038f, 0.000381250022f,
    0.000493750034f, 0.000606250076f, 0.00071875006f, 0.000831249985f, 0.000943750085f, 0.00128124992f,
    0.00184375001f, 0.00240624999f, 0.00296874996f, 0.00353124971f, 0.00409374991f, 0.00465624966f,
    0.00521875033f, 0.00578125007f, 0.00634374982f, 0.00690625003f, 0.00746874977f, 0.00803124998f,
    0.00859375019f, 0.00915624946f, 0.00971874967f, 0.0114062503f, 0.0142187504f, 0.0170312505f,
    0.0198437497f, 0.0226562507f, 0.0254687499f, 0.0282812472f, 0.0310937501f, 0.0339062475f,
    0.0367187522f, 0.0395312496f, 0.0423437469f, 0.0451562516f, 0.047968749f, 0.05078125f,
    0.053593751f, 0.0564062484f, 0.0592187531f, 0.0620312467f, 0.0648437515f, 0.0676562563f,
    0.0704687461f, 0.0732812509f, 0.0760937482f, 0.078906253f, 0.0817187428f, 0.0845312476f,
    0.0873437524f, 0.0901562497f, 0.0929687545f, 0.0957812443f, 0.0985937491f, 0.107031256f,
    0.12109375f, 0.135156244f, 0.149218753f, 0.163281247f, 0.177343741f, 0.19140625f,
    0.205468744f, 0.219531253f, 0.233593762f, 0.247656256f, 0.26171875f, 0.275781274f,
    0.289843738f, 0.303906262f, 0.317968726f, 0.33203125f, 0.346093714f, 0.360156238f,
    0.374218762f, 0.388281226f, 0.40234375f, 0.416406214f, 0.430468738f, 0.444531262f,
    0.458593726f, 0.47265625f, 0.486718774f, 0.500781238f, 0.514843762f, 0.528906226f,
    0.54296875f, 0.557031274f, 0.571093798f, 0.585156262f, 0.599218726f, 0.61328125f,
    0.627343774f, 0.641406238f, 0.655468762f, 0.669531286f, 0.68359375f, 0.697656274f,
    0.711718798f, 0.725781262f, 0.739843786f, 0.75390625f, 0.767968774f, 0.782031238f,
    0.796093702f, 0.810156226f, 0.82421875f, 0.838281214f, 0.852343738f, 0.866406202f,
    0.880468726f, 0.89453125f, 0.908593774f, 0.922656238f, 0.936718702f, 0.950781226f,
    0.96484375f, 0.978906214f, 0.992968738f, 1.0f};
}  // namespace

const float* bnb_dynamic_code_book() { return kDynamicCode; }

BnbNestedAbsmax bnb_double_quantize(const float* absmax, int64_t n) {
  BnbNestedAbsmax r;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += absmax[i];
  r.offset = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  const float* code = bnb_dynamic_code_book();
  r.q.resize(static_cast<size_t>(n));
  for (int64_t b0 = 0; b0 < n; b0 += kBnbNestedBlock) {
    const int64_t b1 = std::min(n, b0 + kBnbNestedBlock);
    float amax = 0.0f;
    for (int64_t i = b0; i < b1; ++i) amax = std::max(amax, std::fabs(absmax[i] - r.offset));
    r.nested_absmax.push_back(amax);
    const float inv = 1.0f / amax;
    for (int64_t i = b0; i < b1; ++i) {
      const float s = amax == 0.0f ? 0.0f : std::clamp((absmax[i] - r.offset) * inv, -1.0f, 1.0f);
      // The nearest of the sorted codes (the first on a tie, as torch.argmin).
      const float* up = std::lower_bound(code, code + 256, s);
      int64_t k = up - code;
      if (k == 256 || (k > 0 && std::fabs(s - code[k - 1]) <= std::fabs(code[k] - s))) --k;
      r.q[i] = static_cast<uint8_t>(k);
    }
  }
  return r;
}

void bnb_dequantize_nested(const uint8_t* q, int64_t n, const float* nested_absmax, const float* code, float offset,
                           float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = code[q[i]] * nested_absmax[i / kBnbNestedBlock] + offset;
}

void bnb_double_quantize_blocks(void* blocks, int64_t n_blocks) {
  auto* b = static_cast<unsigned char*>(blocks);
  std::vector<float> absmax(static_cast<size_t>(n_blocks));
  for (int64_t i = 0; i < n_blocks; ++i) std::memcpy(&absmax[i], b + i * kBnbBlockBytes, 4);
  const BnbNestedAbsmax nested = bnb_double_quantize(absmax.data(), n_blocks);
  bnb_dequantize_nested(nested.q.data(), n_blocks, nested.nested_absmax.data(), bnb_dynamic_code_book(),
                        nested.offset, absmax.data());
  for (int64_t i = 0; i < n_blocks; ++i) std::memcpy(b + i * kBnbBlockBytes, &absmax[i], 4);
}

}  // namespace transformers::cpu
