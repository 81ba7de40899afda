#include <cpuid.h>

#include <cstdlib>

#include "transformers/ops/cpu/kernels.h"

namespace transformers::cpu {

const Kernels* avx2_kernels_unchecked();

namespace {
// AVX2 + FMA + F16C, and the OS saving YMM state (OSXSAVE and XCR0 bits 1-2), read from cpuid
// directly: compilers disagree on which names __builtin_cpu_supports knows.
bool cpu_has_avx2_fma_f16c() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool fma = ecx & (1u << 12), osxsave = ecx & (1u << 27), avx = ecx & (1u << 28), f16c = ecx & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ebx & (1u << 5);
}
}  // namespace

const Kernels* avx2_kernels() {
  static const bool supported = cpu_has_avx2_fma_f16c();
  return supported ? avx2_kernels_unchecked() : nullptr;
}

const Kernels& kernels() {
  static const Kernels* chosen = [] {
    const char* force = std::getenv("TRANSFORMERS_FORCE_SCALAR");
    if (force && force[0] == '1') return &reference_kernels();
    const Kernels* fast = avx2_kernels();
    return fast ? fast : &reference_kernels();
  }();
  return *chosen;
}

}  // namespace transformers::cpu
