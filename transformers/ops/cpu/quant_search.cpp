#include "transformers/ops/cpu/quant_search.h"

#include <algorithm>
#include <cmath>

namespace transformers::cpu {

float fit_scale_min(const float* x, const float* w, int n, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                    float* min_out) {
  float min = x[0], max = x[0];
  float sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    *min_out = -min;
    return 0.0f;
  }
  // The grids are laid from the best min so far, as GGML's are: a trial that improves the fit
  // moves the origin of the trials after it.
  auto quantize_all = [&](float iscale, uint8_t* q) {
    for (int i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
  };
  auto error = [&](const uint8_t* q, float s, float m) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = s * q[i] + m - x[i];
      e += w[i] * (diff * diff);
    }
    return e;
  };
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  quantize_all(iscale, L);
  float best = error(L, scale, min);
  uint8_t trial[32];
  for (int step = 0; step <= nstep; ++step) {
    quantize_all((rmin + rdelta * step + nmax) / (max - min), trial);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float l = trial[i];
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float s = (sum_w * sum_xl - sum_x * sum_l) / det;
    float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (m > 0) {  // a positive offset is not representable: refit the scale alone
      m = 0;
      s = sum_xl / sum_l2;
    }
    const float e = error(trial, s, m);
    if (e < best) {
      std::copy(trial, trial + n, L);
      best = e;
      scale = s;
      min = m;
    }
  }
  *min_out = -min;
  return scale;
}

float fit_signed_scale(const float* x, const float* w, int n, int nmax, uint8_t* L) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  if (amax < 1e-15f) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  auto level = [&](float iscale, int i) { return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1); };
  auto sums = [&](float iscale, float& sumlx, float& suml2) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      const float wi = w ? w[i] : x[i] * x[i];
      sumlx += wi * x[i] * l;
      suml2 += wi * l * l;
    }
  };
  auto keep = [&](float iscale) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nmax + level(iscale, i));
  };
  float iscale = -nmax / max, sumlx, suml2;
  sums(iscale, sumlx, suml2);
  keep(iscale);
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sums(iscale, sumlx, suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      keep(iscale);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

float fit_positive_scale(const float* x, const float* w, int n, int nmax, uint8_t* L) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max == 0) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  // The grid of least weighted error among nmax / max and its 8 neighbours.
  auto grid_error = [&](float iscale, bool clamp) {
    const float scale = 1 / iscale;
    float e = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      // GGML keeps the first grid's levels in uint8_t, unclamped (a negative one wraps).
      l = clamp ? std::min(nmax, l) : static_cast<uint8_t>(l);
      const float diff = x[i] - scale * l;
      e += w[i] * diff * diff;
    }
    return e;
  };
  float iscale = nmax / max;
  float best = grid_error(iscale, false);
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float trial = (0.1f * step + nmax) / max;
    const float e = grid_error(trial, true);
    if (e < best) {
      best = e;
      iscale = trial;
    }
  }
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    sumlx += w[i] * x[i] * l;
    suml2 += w[i] * l * l;
  }
  // Then move one L at a time to its least-squares level while that lowers the error.
  for (int round = 0; round < 5; ++round) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float slx = sumlx - w[i] * x[i] * L[i];
      float sl2 = suml2 - w[i] * L[i] * L[i];
      if (!(slx > 0 && sl2 > 0)) continue;
      const int l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
      if (l == L[i]) continue;
      slx += w[i] * x[i] * l;
      sl2 += w[i] * l * l;
      if (slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = static_cast<uint8_t>(l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (!changed) break;
  }
  return sumlx / suml2;
}

namespace avx2 {
extern const QuantSearch kQuantSearch;
}
namespace avx512 {
extern const QuantSearch kQuantSearch;
}

namespace {

void scalar_fit_scale_min_groups(const float* x, const float* w, int groups, int n, int nmax, float rmin, float rdelta,
                                 int nstep, uint8_t* L, float* scales, float* mins) {
  for (int g = 0; g < groups; ++g)
    scales[g] = fit_scale_min(x + g * n, w + g * n, n, nmax, rmin, rdelta, nstep, L + g * n, mins + g);
}

void scalar_fit_signed_scale_groups(const float* x, const float* w, int groups, int n, int nmax, uint8_t* L,
                                    float* scales) {
  for (int g = 0; g < groups; ++g) scales[g] = fit_signed_scale(x + g * n, w ? w + g * n : nullptr, n, nmax, L + g * n);
}

const QuantSearch kScalarSearch = {scalar_fit_scale_min_groups, scalar_fit_signed_scale_groups};

}  // namespace

const QuantSearch* quant_search_for(Isa isa) {
  if (!cpu_supports(isa)) return nullptr;
  switch (isa) {
    case Isa::Scalar: return &kScalarSearch;
    case Isa::AVX2: return &avx2::kQuantSearch;
    case Isa::AVX512: return &avx512::kQuantSearch;
  }
  return nullptr;
}

const QuantSearch& quant_search() {
  static const QuantSearch* selected = quant_search_for(selected_isa());
  return *selected;
}

}  // namespace transformers::cpu
