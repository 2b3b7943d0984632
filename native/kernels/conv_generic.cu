// The fallback convolution: any channel count, any view alignment, same semantics as the tensor-core path.
// One thread per output pixel of one phase, eight output channels at a time, FP32 accumulation. It exists to be
// correct for odd models, not fast.
#include "../engine/cuda_check.h"
#include "kernels.h"

namespace smlmrt {
namespace {

constexpr int kGroup = 8;

__device__ __forceinline__ float inputAt(const ConvArgs& a, int n, int iy, int ix, int ci) {
  if (!a.pool) {
    return __half2float(a.in[((static_cast<long long>(n) * a.inH + iy) * a.inW + ix) * a.inC + a.inOff + ci]);
  }
  const __half* p = a.in + ((static_cast<long long>(n) * a.inH + 2 * iy) * a.inW + 2 * ix) * a.inC + a.inOff + ci;
  const long long row = static_cast<long long>(a.inW) * a.inC;
  return fmaxf(fmaxf(__half2float(p[0]), __half2float(p[a.inC])), fmaxf(__half2float(p[row]), __half2float(p[row + a.inC])));
}

__global__ void convGenericKernel(const ConvArgs a) {
  const long long gridPixels = static_cast<long long>(a.gridH) * a.gridW;
  const long long M = a.batch * gridPixels;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= M * a.phaseCount) return;
  const int phaseIndex = static_cast<int>(idx % a.phaseCount);
  const long long m = idx / a.phaseCount;
  const ConvPhaseArgs& ph = a.phases[phaseIndex];
  const int n = static_cast<int>(m / gridPixels);
  const int rem = static_cast<int>(m - n * gridPixels);
  const int oy = rem / a.gridW, ox = rem % a.gridW;
  const int K = ph.kh * ph.kw * a.cin;
  const int Y = oy * a.upsample + ph.phaseY, X = ox * a.upsample + ph.phaseX;
  __half* dst = a.out + ((static_cast<long long>(n) * a.outH + Y) * a.outW + X) * a.outC + a.outOff;
  for (int co0 = 0; co0 < a.cout; co0 += kGroup) {
    float acc[kGroup];
#pragma unroll
    for (int j = 0; j < kGroup; ++j) acc[j] = 0.f;
    for (int ky = 0; ky < ph.kh; ++ky) {
      const int iy = oy + ky - ph.padTop;
      if (iy < 0 || iy >= a.gridH) continue;
      for (int kx = 0; kx < ph.kw; ++kx) {
        const int ix = ox + kx - ph.padLeft;
        if (ix < 0 || ix >= a.gridW) continue;
        const int tapBase = (ky * ph.kw + kx) * a.cin;
        for (int ci = 0; ci < a.cin; ++ci) {
          const float v = inputAt(a, n, iy, ix, ci);
#pragma unroll
          for (int j = 0; j < kGroup; ++j) {
            if (co0 + j < a.cout) acc[j] += v * __half2float(ph.weights[static_cast<long long>(co0 + j) * K + tapBase + ci]);
          }
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kGroup; ++j) {
      if (co0 + j >= a.cout) break;
      float v = acc[j] + a.bias[co0 + j];
      if (a.relu) v = fmaxf(v, 0.f);
      dst[co0 + j] = __float2half_rn(v);
    }
  }
}

}  // namespace

void launchConvGeneric(const ConvArgs& a, cudaStream_t stream) {
  const long long threads = static_cast<long long>(a.batch) * a.gridH * a.gridW * a.phaseCount;
  if (threads <= 0) return;
  const long long blocks = (threads + 127) / 128;
  if (blocks > 0x7fffffffLL) throw EngineError("E_GPU", "convGeneric: launch too large for one grid");
  convGenericKernel<<<static_cast<unsigned>(blocks), 128, 0, stream>>>(a);
  checkLaunch("convGeneric");
}

}  // namespace smlmrt
