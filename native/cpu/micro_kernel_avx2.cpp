// The AVX2+FMA micro-kernel. Compiled with a target attribute rather than -mavx2 for the file, so that nothing else
// in the addon can pick up AVX2 instructions by accident and the prebuilt addon still loads on any x86-64: it is only
// called after selectMicroKernel has checked the CPU.
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "micro_kernel.h"

namespace smlmrt::cpu {

#define SMLMRT_AVX2 __attribute__((target("avx2,fma")))

SMLMRT_AVX2 static inline void storeRow(const MicroTile& t, int r, __m256 lo, __m256 hi) {
  float* c = t.c[r];
  if (t.nr == kNR) {
    __m256 c0 = t.bias ? _mm256_loadu_ps(t.bias) : _mm256_loadu_ps(c);
    __m256 c1 = t.bias ? _mm256_loadu_ps(t.bias + 8) : _mm256_loadu_ps(c + 8);
    c0 = _mm256_add_ps(c0, lo);
    c1 = _mm256_add_ps(c1, hi);
    if (t.relu) {
      c0 = _mm256_max_ps(c0, _mm256_setzero_ps());
      c1 = _mm256_max_ps(c1, _mm256_setzero_ps());
    }
    _mm256_storeu_ps(c, c0);
    _mm256_storeu_ps(c + 8, c1);
    return;
  }
  alignas(32) float sum[kNR];
  _mm256_store_ps(sum, lo);
  _mm256_store_ps(sum + 8, hi);
  for (int j = 0; j < t.nr; ++j) {
    float v = (t.bias ? t.bias[j] : c[j]) + sum[j];
    c[j] = t.relu ? (v > 0.f ? v : 0.f) : v;
  }
}

SMLMRT_AVX2 void microKernelAvx2(const MicroTile& t) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float* b = t.b;
  const int cin = t.cin;
  for (int tap = 0; tap < t.taps; ++tap) {
    const float* const* rows = t.a + static_cast<long>(tap) * kMR;
    const float* a0 = rows[0];
    const float* a1 = rows[1];
    const float* a2 = rows[2];
    const float* a3 = rows[3];
    const float* a4 = rows[4];
    const float* a5 = rows[5];
    for (int k = 0; k < cin; ++k, b += kNR) {
      const __m256 b0 = _mm256_loadu_ps(b);
      const __m256 b1 = _mm256_loadu_ps(b + 8);
      __m256 x = _mm256_broadcast_ss(a0 + k);
      c00 = _mm256_fmadd_ps(x, b0, c00);
      c01 = _mm256_fmadd_ps(x, b1, c01);
      x = _mm256_broadcast_ss(a1 + k);
      c10 = _mm256_fmadd_ps(x, b0, c10);
      c11 = _mm256_fmadd_ps(x, b1, c11);
      x = _mm256_broadcast_ss(a2 + k);
      c20 = _mm256_fmadd_ps(x, b0, c20);
      c21 = _mm256_fmadd_ps(x, b1, c21);
      x = _mm256_broadcast_ss(a3 + k);
      c30 = _mm256_fmadd_ps(x, b0, c30);
      c31 = _mm256_fmadd_ps(x, b1, c31);
      x = _mm256_broadcast_ss(a4 + k);
      c40 = _mm256_fmadd_ps(x, b0, c40);
      c41 = _mm256_fmadd_ps(x, b1, c41);
      x = _mm256_broadcast_ss(a5 + k);
      c50 = _mm256_fmadd_ps(x, b0, c50);
      c51 = _mm256_fmadd_ps(x, b1, c51);
    }
  }
  storeRow(t, 0, c00, c01);
  if (t.mr > 1) storeRow(t, 1, c10, c11);
  if (t.mr > 2) storeRow(t, 2, c20, c21);
  if (t.mr > 3) storeRow(t, 3, c30, c31);
  if (t.mr > 4) storeRow(t, 4, c40, c41);
  if (t.mr > 5) storeRow(t, 5, c50, c51);
}

}  // namespace smlmrt::cpu
#endif
