// Small device kernels shared by smlm-rt's CUDA engine and the TensorRT backend: frame normalization straight from
// the raw camera pixels, and the clamp + sum over frames into the FP32 image accumulator.
#pragma once

#include <cstdint>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine.h"

namespace smlmrt {

// Per frame: the affine map raw -> normalized value of Deep-STORM's minmax-zscore normalization,
//   normalized = ((raw - min) / (max - min) - mean) / std  =  raw * scale + offset.
// A constant frame (max == min) has no range; it maps to (0 - mean) / std, as if scaled to all zeros.
struct FrameAffine {
  float scale;
  float offset;
};

// stats[i] = the affine map of frame i (n frames of h x w raw pixels, frame-major). One block per frame.
void launchFrameAffine(const void* raw, PixelType type, int n, int h, int w, float mean, float std, FrameAffine* stats,
                       cudaStream_t stream);

// Raw frames (n x h x w) -> normalized float32 NCHW (C = 1), min/max taken per frame. No scratch memory needed.
void launchNormalizeFrames(const void* raw, PixelType type, int n, int h, int w, float mean, float std, float* outNCHW,
                           cudaStream_t stream);
// The same into __half, for FP16 engines.
void launchNormalizeFramesHalf(const void* raw, PixelType type, int n, int h, int w, float mean, float std,
                               __half* outNCHW, cudaStream_t stream);

// accum[p] += sum_i max(0, maps[i * pixels + p]) for n maps of `pixels` values; if mapsOutOrNull is given it also
// receives the clamped maps (same layout). Each thread owns pixels and loops over the frames in order: the sum is
// deterministic, no atomics.
void launchClampSumMaps(const float* maps, int n, int pixels, float* accum, float* mapsOutOrNull, cudaStream_t stream);
void launchClampSumMapsHalf(const __half* maps, int n, int pixels, float* accum, float* mapsOutOrNull,
                            cudaStream_t stream);

// Calls f with the raw frame pointer cast to its pixel type (const uint8_t*, const uint16_t* or const float*), so that
// each kernel launch over raw frames is written once for all pixel types.
template <typename F>
void withTypedPixels(const void* raw, PixelType type, F&& f) {
  switch (type) {
    case PixelType::U8:
      f(static_cast<const uint8_t*>(raw));
      break;
    case PixelType::U16:
      f(static_cast<const uint16_t*>(raw));
      break;
    case PixelType::F32:
      f(static_cast<const float*>(raw));
      break;
  }
}

// Size in bytes of one raw pixel.
inline size_t pixelBytes(PixelType type) { return type == PixelType::U8 ? 1 : type == PixelType::U16 ? 2 : 4; }

}  // namespace smlmrt
