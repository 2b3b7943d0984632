// The head: 1x1 conv cin -> s*s, depth-to-space, clamp >= 0 and the sum over the batch's frames into the FP32 image
// accumulator, in one pass. Each thread owns one output pixel and loops over the frames in order, so the sum is
// deterministic without atomics; per-frame maps are written only when the caller asked for them (localization).
#include <cstdint>

#include "../engine/cuda_check.h"
#include "kernels.h"

namespace smlmrt {
namespace {

// Weights of the head in shared memory when they fit this many floats (s*s*cin); read through L1 otherwise.
constexpr int kMaxSharedWeights = 8192;

template <bool kVector>
__global__ void headKernel(const HeadArgs a) {
  extern __shared__ float sWeights[];
  const int s = a.upscale;
  const int rows = s * s, weightCount = rows * a.cin;
  const bool shared = weightCount <= kMaxSharedWeights;
  if (shared) {
    for (int i = threadIdx.x; i < weightCount; i += blockDim.x) sWeights[i] = a.weights[i];
    __syncthreads();
  }
  const float* weights = shared ? sWeights : a.weights;
  const int outH = a.inH * s, outW = a.inW * s;
  const long long pixels = static_cast<long long>(outH) * outW;
  const long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= pixels) return;
  const int Y = static_cast<int>(p / outW), X = static_cast<int>(p - static_cast<long long>(Y) * outW);
  const int y = Y / s, x = X / s;
  const int r = (Y - y * s) * s + (X - x * s);
  const float* w = weights + r * a.cin;
  const float bias = __ldg(a.bias + r);
  const long long frameStride = static_cast<long long>(a.inH) * a.inW * a.inC;
  const __half* pixel = a.in + (static_cast<long long>(y) * a.inW + x) * a.inC + a.inOff;
  float sum = 0.f;
  for (int n = 0; n < a.batch; ++n) {
    const __half* src = pixel + n * frameStride;
    float v = bias;
    if (kVector) {
      for (int c = 0; c < a.cin; c += 8) {
        const uint4 raw = __ldg(reinterpret_cast<const uint4*>(src + c));
        const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float2 f = __half22float2(h[j]);
          v = fmaf(f.x, w[c + 2 * j], v);
          v = fmaf(f.y, w[c + 2 * j + 1], v);
        }
      }
    } else {
      for (int c = 0; c < a.cin; ++c) v = fmaf(__half2float(src[c]), w[c], v);
    }
    v = fmaxf(v, 0.f);
    if (a.maps) a.maps[n * pixels + p] = v;
    sum += v;
  }
  a.accum[p] += sum;
}

}  // namespace

void launchHead(const HeadArgs& a, cudaStream_t stream) {
  const long long pixels = static_cast<long long>(a.inH) * a.upscale * a.inW * a.upscale;
  if (pixels <= 0 || a.batch <= 0) return;
  const long long blocks = (pixels + 255) / 256;
  if (blocks > 0x7fffffffLL) throw EngineError("E_GPU", "head: launch too large for one grid");
  const int weightCount = a.upscale * a.upscale * a.cin;
  const size_t smem = weightCount <= kMaxSharedWeights ? weightCount * sizeof(float) : 0;
  const bool vector = a.cin % 8 == 0 && a.inC % 8 == 0 && a.inOff % 8 == 0;
  if (vector) {
    headKernel<true><<<static_cast<unsigned>(blocks), 256, smem, stream>>>(a);
  } else {
    headKernel<false><<<static_cast<unsigned>(blocks), 256, smem, stream>>>(a);
  }
  checkLaunch("head");
}

}  // namespace smlmrt
