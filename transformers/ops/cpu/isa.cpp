#include "transformers/ops/cpu/isa.h"

#include <cpuid.h>

#include <cstdlib>
#include <string>

#include "transformers/core/error.h"

namespace transformers::cpu {
namespace {

struct CpuFeatures {
  bool avx2_fma_f16c = false;
  bool avx512 = false;  // F + BW + VL + DQ with the OS saving the opmask and ZMM state
  bool avx512_bf16 = false;
  bool avx512_vnni = false;
};

uint64_t xcr0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Read from cpuid directly: compilers disagree on which names __builtin_cpu_supports knows.
CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), f16c = ecx & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return f;
  const uint64_t xcr = xcr0();
  if ((xcr & 0x6u) != 0x6u) return f;  // XMM and YMM state
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  f.avx2_fma_f16c = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17), avx512bw = ebx & (1u << 30),
             avx512vl = ebx & (1u << 31);
  const bool zmm_state = (xcr & 0xe0u) == 0xe0u;  // opmask, ZMM_Hi256, Hi16_ZMM
  f.avx512 = f.avx2_fma_f16c && avx512f && avx512dq && avx512bw && avx512vl && zmm_state;
  f.avx512_vnni = f.avx512 && (ecx & (1u << 11));
  unsigned a1, b1, c1, d1;
  if (f.avx512 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = a1 & (1u << 5);
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
  }
  return "?";
}

Isa isa_from_name(std::string_view name, const char* where) {
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512})
    if (name == isa_name(isa)) return isa;
  throw ValueError(std::string(where) + ": unknown instruction set '" + std::string(name) +
                   "' (expected scalar, avx2 or avx512)");
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::AVX2: return features().avx2_fma_f16c;
    case Isa::AVX512: return features().avx512;
  }
  return false;
}

bool cpu_has_avx512_bf16() { return features().avx512_bf16; }
bool cpu_has_avx512_vnni() { return features().avx512_vnni; }

bool bf16_dot_products_enabled() {
  const char* env = std::getenv("TRANSFORMERS_BF16_DOT");
  return cpu_has_avx512_bf16() && !(env && std::string_view(env) == "0");
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512})
    if (cpu_supports(isa)) out.push_back(isa);
  return out;
}

Isa selected_isa() {
  if (const char* forced = std::getenv("TRANSFORMERS_ISA"); forced && *forced) {
    const Isa isa = isa_from_name(forced, "TRANSFORMERS_ISA");
    if (!cpu_supports(isa))
      throw ValueError(std::string("TRANSFORMERS_ISA=") + forced + ": this CPU does not have the " + forced +
                       " instructions (it runs: " + [] {
                         std::string s;
                         for (Isa i : supported_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(i));
                         return s;
                       }() + ")");
    return isa;
  }
  if (const char* force = std::getenv("TRANSFORMERS_FORCE_SCALAR"); force && force[0] == '1') return Isa::Scalar;
  return supported_isas().back();
}

}  // namespace transformers::cpu
