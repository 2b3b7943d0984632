#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "micro_kernel.h"

namespace smlmrt::cpu {

void microKernelPortable(const MicroTile& t) {
  float acc[kMR][kNR] = {};
  const float* b = t.b;
  for (int tap = 0; tap < t.taps; ++tap) {
    const float* const* rows = t.a + static_cast<size_t>(tap) * kMR;
    for (int k = 0; k < t.cin; ++k, b += kNR) {
      for (int r = 0; r < kMR; ++r) {
        const float a = rows[r][k];
        for (int j = 0; j < kNR; ++j) acc[r][j] += a * b[j];
      }
    }
  }
  for (int r = 0; r < t.mr; ++r) {
    float* c = t.c[r];
    for (int j = 0; j < t.nr; ++j) {
      float v = (t.bias ? t.bias[j] : c[j]) + acc[r][j];
      c[j] = t.relu ? std::max(v, 0.f) : v;
    }
  }
}

MicroKernel selectMicroKernel(const char** name) {
  const char* forced = std::getenv("SMLM_RT_CPU_KERNEL");
  const bool portable = forced && std::strcmp(forced, "portable") == 0;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  if (!portable) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      if (name) *name = "avx2+fma";
      return microKernelAvx2;
    }
  }
#endif
  if (name) *name = "portable";
  return microKernelPortable;
}

}  // namespace smlmrt::cpu
