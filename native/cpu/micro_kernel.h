// The register-blocked inner kernel of the CPU executor's convolutions: a kMR x kNR tile of output pixels x output
// channels, accumulated over K = taps x cin in registers. The A side is an indirection table (XNNPACK's "indirect
// GEMM"): for each tap, kMR pointers to the input pixels' cin contiguous channels (NHWC), or to a zero row where the
// tap falls into the padding, so no im2col copy is ever made. The B side is a packed weight panel: K rows of kNR
// floats (output channels padded with zeros to kNR).
#pragma once

#include <cstdint>

namespace smlmrt::cpu {

constexpr int kMR = 6;   // output pixels per tile: 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15 of 16 ymm
constexpr int kNR = 16;  // output channels per tile: two 8-float AVX2 vectors

struct MicroTile {
  const float* const* a = nullptr;  // taps x kMR row pointers, each to cin floats
  int taps = 0;
  int cin = 0;
  const float* b = nullptr;     // (taps * cin) x kNR packed weights
  const float* bias = nullptr;  // kNR floats: c = bias + A.B; nullptr: c += A.B (a later K chunk)
  float* const* c = nullptr;    // kMR row pointers; only the first mr rows and nr columns are written
  int mr = kMR;
  int nr = kNR;
  bool relu = false;  // max(c, 0) after the sum (the last K chunk only)
};

using MicroKernel = void (*)(const MicroTile& tile);

// Plain C++ (the compiler's SSE2 vectorization): runs on any x86-64 and elsewhere.
void microKernelPortable(const MicroTile& tile);
#if defined(__x86_64__) || defined(__i386__)
// AVX2 + FMA intrinsics, compiled for that target only (function attribute): call only where the CPU has both.
void microKernelAvx2(const MicroTile& tile);
#endif

// The best kernel this CPU runs (checked once with __builtin_cpu_supports) and its name ("avx2+fma", "portable").
// SMLM_RT_CPU_KERNEL=portable forces the fallback (tests compare the two).
MicroKernel selectMicroKernel(const char** name);

}  // namespace smlmrt::cpu
