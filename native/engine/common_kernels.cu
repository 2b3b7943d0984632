// Frame normalization and map summation kernels; see common_kernels.h.
#include <cfloat>
#include <cstdint>

#include "common_kernels.h"
#include "cuda_check.h"

namespace smlmrt {
namespace {

constexpr int kStatThreads = 256;

template <typename T>
__device__ __forceinline__ float loadPixel(const T* p, size_t i) {
  return static_cast<float>(__ldg(p + i));
}

// Block-wide min and max of one frame; every thread returns the result.
template <typename T>
__device__ void frameMinMax(const T* frame, int pixels, float* outMin, float* outMax) {
  __shared__ float sMin[kStatThreads / 32], sMax[kStatThreads / 32];
  float lo = FLT_MAX, hi = -FLT_MAX;
  for (int i = threadIdx.x; i < pixels; i += blockDim.x) {
    const float v = loadPixel(frame, i);
    lo = fminf(lo, v);
    hi = fmaxf(hi, v);
  }
  for (int o = 16; o > 0; o >>= 1) {
    lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, o));
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) {
    sMin[warp] = lo;
    sMax[warp] = hi;
  }
  __syncthreads();
  lo = sMin[0];
  hi = sMax[0];
  for (int k = 1; k < kStatThreads / 32; ++k) {
    lo = fminf(lo, sMin[k]);
    hi = fmaxf(hi, sMax[k]);
  }
  *outMin = lo;
  *outMax = hi;
}

__device__ __forceinline__ FrameAffine affineFor(float lo, float hi, float mean, float std) {
  const float invRange = hi > lo ? 1.f / (hi - lo) : 0.f;
  FrameAffine a;
  a.scale = invRange / std;
  a.offset = (-lo * invRange - mean) / std;
  return a;
}

template <typename T>
__global__ void __launch_bounds__(kStatThreads) frameAffineKernel(const T* raw, int pixels, float mean, float std,
                                                                  FrameAffine* stats) {
  float lo, hi;
  frameMinMax(raw + static_cast<size_t>(blockIdx.x) * pixels, pixels, &lo, &hi);
  if (threadIdx.x == 0) stats[blockIdx.x] = affineFor(lo, hi, mean, std);
}

template <typename T, typename Out>
__global__ void __launch_bounds__(kStatThreads) normalizeKernel(const T* raw, int pixels, float mean, float std,
                                                                Out* out) {
  const T* frame = raw + static_cast<size_t>(blockIdx.x) * pixels;
  float lo, hi;
  frameMinMax(frame, pixels, &lo, &hi);
  const FrameAffine a = affineFor(lo, hi, mean, std);
  Out* dst = out + static_cast<size_t>(blockIdx.x) * pixels;
  for (int i = threadIdx.x; i < pixels; i += blockDim.x) dst[i] = static_cast<Out>(fmaf(loadPixel(frame, i), a.scale, a.offset));
}

template <typename M>
__global__ void clampSumKernel(const M* maps, int n, int pixels, float* accum, float* mapsOut) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= pixels) return;
  float sum = 0.f;
  for (int i = 0; i < n; ++i) {
    const size_t idx = static_cast<size_t>(i) * pixels + p;
    const float v = fmaxf(0.f, static_cast<float>(maps[idx]));
    if (mapsOut) mapsOut[idx] = v;
    sum += v;
  }
  accum[p] += sum;
}

template <typename Out>
void launchNormalize(const void* raw, PixelType type, int n, int h, int w, float mean, float std, Out* out,
                     cudaStream_t stream) {
  if (n <= 0) return;
  const int pixels = h * w;
  withTypedPixels(raw, type, [&](auto pixelsIn) {
    normalizeKernel<<<n, kStatThreads, 0, stream>>>(pixelsIn, pixels, mean, std, out);
  });
  checkLaunch("normalizeFrames");
}

}  // namespace

void launchFrameAffine(const void* raw, PixelType type, int n, int h, int w, float mean, float std, FrameAffine* stats,
                       cudaStream_t stream) {
  if (n <= 0) return;
  const int pixels = h * w;
  withTypedPixels(raw, type, [&](auto pixelsIn) {
    frameAffineKernel<<<n, kStatThreads, 0, stream>>>(pixelsIn, pixels, mean, std, stats);
  });
  checkLaunch("frameAffine");
}

void launchNormalizeFrames(const void* raw, PixelType type, int n, int h, int w, float mean, float std, float* outNCHW,
                           cudaStream_t stream) {
  launchNormalize(raw, type, n, h, w, mean, std, outNCHW, stream);
}

void launchNormalizeFramesHalf(const void* raw, PixelType type, int n, int h, int w, float mean, float std,
                               __half* outNCHW, cudaStream_t stream) {
  launchNormalize(raw, type, n, h, w, mean, std, outNCHW, stream);
}

void launchClampSumMaps(const float* maps, int n, int pixels, float* accum, float* mapsOutOrNull, cudaStream_t stream) {
  if (n <= 0 || pixels <= 0) return;
  clampSumKernel<<<(pixels + 255) / 256, 256, 0, stream>>>(maps, n, pixels, accum, mapsOutOrNull);
  checkLaunch("clampSumMaps");
}

void launchClampSumMapsHalf(const __half* maps, int n, int pixels, float* accum, float* mapsOutOrNull,
                            cudaStream_t stream) {
  if (n <= 0 || pixels <= 0) return;
  clampSumKernel<<<(pixels + 255) / 256, 256, 0, stream>>>(maps, n, pixels, accum, mapsOutOrNull);
  checkLaunch("clampSumMapsHalf");
}

}  // namespace smlmrt
