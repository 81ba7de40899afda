// Instruction-set tiers of the CPU kernel tables, detected at run time (never -march=native: one
// binary runs on every x86-64). TRANSFORMERS_ISA=scalar|avx2|avx512 forces a tier.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace transformers::cpu {

// Ordered from the most portable to the widest.
enum class Isa : uint8_t {
  Scalar,  // the reference kernels: plain loops, double accumulation
  AVX2,    // AVX2 + FMA + F16C, 256-bit
  AVX512,  // AVX-512 F/BW/VL/DQ (+ F16C), 512-bit
};

const char* isa_name(Isa isa);
// Throws ValueError naming `where` for anything but scalar, avx2, avx512.
Isa isa_from_name(std::string_view name, const char* where);

// Whether this CPU (and the OS, for the register state) runs the tier's instructions.
bool cpu_supports(Isa isa);
// Extensions used inside a tier when present: AVX512_BF16 (VDPBF16PS) and AVX512_VNNI.
bool cpu_has_avx512_bf16();
bool cpu_has_avx512_vnni();

// Whether bf16 weights multiply bf16-rounded activations with VDPBF16PS on prompt-sized products:
// the CPU has AVX512_BF16 and TRANSFORMERS_BF16_DOT is not 0 (0 keeps f32 activations, slower).
bool bf16_dot_products_enabled();

// Every tier this CPU runs, scalar first.
std::vector<Isa> supported_isas();
// The widest supported tier, or the one TRANSFORMERS_ISA names (TRANSFORMERS_FORCE_SCALAR=1 is
// the older spelling of scalar). Throws ValueError for an unknown name or a tier this CPU lacks.
Isa selected_isa();

}  // namespace transformers::cpu
