// The scale searches of quant_search.h over many groups at once, one group per vector lane: each
// lane runs the scalar search's operations in the scalar order (comparisons become lane masks,
// branches selections), so the results are bit-identical to quant_search.cpp's. Included by
// quant_search_<tier>.cpp after its SIMD vocabulary (simd_<tier>.h) with TCPP_TIER set; those files
// are built with -ffp-contract=off, so no multiply and add below fuse into an FMA.
namespace transformers::cpu::TCPP_TIER {
namespace {

constexpr int kMaxGroup = 32;  // elements per group (Q4_K / Q5_K sub-blocks, Q4_0 blocks)

// Groups [g0, g0 + kLanes) of x (n floats each) transposed to t[i * kLanes + lane]; lanes past
// `groups` get zeros (a flat group, whose result is discarded).
void transpose_groups(const float* x, int groups, int g0, int n, float* t) {
  for (int lane = 0; lane < kLanes; ++lane) {
    const int g = g0 + lane;
    for (int i = 0; i < n; ++i) t[i * kLanes + lane] = g < groups ? x[g * n + i] : 0.0f;
  }
}

// Levels (floats) of a lane-transposed group back to uint8 L, group-major.
void store_levels(const float* lt, int groups, int g0, int n, uint8_t* L) {
  for (int lane = 0; lane < kLanes && g0 + lane < groups; ++lane)
    for (int i = 0; i < n; ++i) L[(g0 + lane) * n + i] = static_cast<uint8_t>(static_cast<int>(lt[i * kLanes + lane]));
}

void store_lanes(vf v, int groups, int g0, float* out) {
  alignas(64) float tmp[kLanes];
  vstore(tmp, v);
  for (int lane = 0; lane < kLanes && g0 + lane < groups; ++lane) out[g0 + lane] = tmp[lane];
}

void fit_scale_min_groups(const float* x, const float* w, int groups, int n, int nmax, float rmin, float rdelta,
                          int nstep, uint8_t* L, float* scales, float* mins) {
  alignas(64) float xt[kMaxGroup * kLanes], wt[kMaxGroup * kLanes], lt[kMaxGroup * kLanes], tt[kMaxGroup * kLanes];
  const vf zero = vzero(), top = vset1(static_cast<float>(nmax));
  for (int g0 = 0; g0 < groups; g0 += kLanes) {
    transpose_groups(x, groups, g0, n, xt);
    transpose_groups(w, groups, g0, n, wt);
    vf lo = vload(xt), hi = lo, sum_w = vload(wt), sum_x = vmul(sum_w, lo);
    for (int i = 1; i < n; ++i) {
      const vf xi = vload(xt + i * kLanes), wi = vload(wt + i * kLanes);
      lo = vmin(xi, lo);
      hi = vmax(xi, hi);
      sum_w = vadd(sum_w, wi);
      sum_x = vadd(sum_x, vmul(wi, xi));
    }
    lo = vselect(vgt(lo, zero), lo, zero);
    const vmask flat = veq(hi, lo);
    vf min = lo;
    auto quantize_all = [&](vf iscale, float* q) {
      for (int i = 0; i < n; ++i)
        vstore(q + i * kLanes, vmin(vmax(vround(vmul(iscale, vsub(vload(xt + i * kLanes), min))), zero), top));
    };
    auto error = [&](const float* q, vf s, vf m) {
      vf e = zero;
      for (int i = 0; i < n; ++i) {
        const vf diff = vsub(vadd(vmul(s, vload(q + i * kLanes)), m), vload(xt + i * kLanes));
        e = vadd(e, vmul(vload(wt + i * kLanes), vmul(diff, diff)));
      }
      return e;
    };
    const vf iscale = vdiv(top, vsub(hi, min));
    vf scale = vdiv(vset1(1.0f), iscale);
    quantize_all(iscale, lt);
    vf best = error(lt, scale, min);
    for (int step = 0; step <= nstep; ++step) {
      const float grid = rmin + rdelta * static_cast<float>(step) + static_cast<float>(nmax);
      quantize_all(vdiv(vset1(grid), vsub(hi, min)), tt);
      vf sum_l = zero, sum_l2 = zero, sum_xl = zero;
      for (int i = 0; i < n; ++i) {
        const vf l = vload(tt + i * kLanes), wl = vmul(vload(wt + i * kLanes), l);
        sum_l = vadd(sum_l, wl);
        sum_l2 = vadd(sum_l2, vmul(wl, l));
        sum_xl = vadd(sum_xl, vmul(wl, vload(xt + i * kLanes)));
      }
      const vf det = vsub(vmul(sum_w, sum_l2), vmul(sum_l, sum_l));
      vf s = vdiv(vsub(vmul(sum_w, sum_xl), vmul(sum_x, sum_l)), det);
      vf m = vdiv(vsub(vmul(sum_l2, sum_x), vmul(sum_l, sum_xl)), det);
      const vmask positive = vgt(m, zero);  // not representable: refit the scale alone
      s = vselect(positive, s, vdiv(sum_xl, sum_l2));
      m = vselect(positive, m, zero);
      const vf e = error(tt, s, m);
      const vmask better = vand(vgt(det, zero), vlt(e, best));
      for (int i = 0; i < n; ++i)
        vstore(lt + i * kLanes, vselect(better, vload(lt + i * kLanes), vload(tt + i * kLanes)));
      best = vselect(better, best, e);
      scale = vselect(better, scale, s);
      min = vselect(better, min, m);
    }
    for (int i = 0; i < n; ++i) vstore(lt + i * kLanes, vselect(flat, vload(lt + i * kLanes), zero));
    store_levels(lt, groups, g0, n, L);
    store_lanes(vselect(flat, scale, zero), groups, g0, scales);
    store_lanes(vmul(vselect(flat, min, lo), vset1(-1.0f)), groups, g0, mins);
  }
}

void fit_signed_scale_groups(const float* x, const float* w, int groups, int n, int nmax, uint8_t* L, float* scales) {
  alignas(64) float xt[kMaxGroup * kLanes], wt[kMaxGroup * kLanes], lt[kMaxGroup * kLanes];
  const vf zero = vzero(), low = vset1(static_cast<float>(-nmax)), high = vset1(static_cast<float>(nmax - 1));
  for (int g0 = 0; g0 < groups; g0 += kLanes) {
    transpose_groups(x, groups, g0, n, xt);
    if (w) {
      transpose_groups(w, groups, g0, n, wt);
    } else {
      for (int i = 0; i < n * kLanes; ++i) wt[i] = xt[i] * xt[i];
    }
    vf amax = zero, max = zero;
    for (int i = 0; i < n; ++i) {
      const vf xi = vload(xt + i * kLanes), ax = vabs(xi);
      const vmask larger = vgt(ax, amax);
      amax = vselect(larger, amax, ax);
      max = vselect(larger, max, xi);
    }
    const vmask zeros = vlt(amax, vset1(1e-15f));
    auto level = [&](vf iscale, int i) { return vmin(vmax(vround(vmul(iscale, vload(xt + i * kLanes))), low), high); };
    auto sums = [&](vf iscale, vf& sumlx, vf& suml2) {
      sumlx = suml2 = zero;
      for (int i = 0; i < n; ++i) {
        const vf l = level(iscale, i), wi = vload(wt + i * kLanes);
        sumlx = vadd(sumlx, vmul(vmul(wi, vload(xt + i * kLanes)), l));
        suml2 = vadd(suml2, vmul(vmul(wi, l), l));
      }
    };
    vf iscale = vdiv(vset1(static_cast<float>(-nmax)), max), sumlx, suml2;
    sums(iscale, sumlx, suml2);
    for (int i = 0; i < n; ++i) vstore(lt + i * kLanes, level(iscale, i));
    vf scale = vselect(vne(suml2, zero), zero, vdiv(sumlx, suml2));
    vf best = vmul(scale, sumlx);
    for (int step = -9; step <= 9; ++step) {
      if (step == 0) continue;
      iscale = vdiv(vset1(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(step))), max);
      sums(iscale, sumlx, suml2);
      const vmask better = vand(vgt(suml2, zero), vgt(vmul(sumlx, sumlx), vmul(best, suml2)));
      for (int i = 0; i < n; ++i) vstore(lt + i * kLanes, vselect(better, vload(lt + i * kLanes), level(iscale, i)));
      const vf s = vdiv(sumlx, suml2);
      scale = vselect(better, scale, s);
      best = vselect(better, best, vmul(s, sumlx));
    }
    const vf offset = vset1(static_cast<float>(nmax));
    for (int i = 0; i < n; ++i)
      vstore(lt + i * kLanes, vselect(zeros, vadd(vload(lt + i * kLanes), offset), zero));
    store_levels(lt, groups, g0, n, L);
    store_lanes(vselect(zeros, scale, zero), groups, g0, scales);
  }
}

}  // namespace

extern const QuantSearch kQuantSearch;  // declared here for its external linkage (quant_search.cpp picks it)
const QuantSearch kQuantSearch = {fit_scale_min_groups, fit_signed_scale_groups};

}  // namespace transformers::cpu::TCPP_TIER
