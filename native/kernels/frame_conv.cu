// The first convolution, straight from the raw camera frames: the per-frame minmax-zscore normalization is applied
// as each raw pixel is loaded (no normalized copy of the stack ever exists), and the nearest upsampling of the
// first layer is already folded into the plan's phases (Deep-STORM: 8x8 = 64 phases of 1x1..2x2 kernels on the
// frame). With one input channel there is no GEMM to speak of; a direct kernel, one thread per output pixel with all
// its channels, is bound by writing the fp16 activations.
#include <cstdint>
#include <type_traits>

#include "../engine/common_kernels.h"
#include "../engine/cuda_check.h"
#include "kernels.h"

namespace smlmrt {
namespace {

constexpr int kGroup = 8;

template <typename T, int kMaxTaps>
__global__ void frameConvKernel(const FrameConvArgs a, const T* raw) {
  // One thread per output pixel (frame, Y, X), X fastest: neighbouring threads write neighbouring 64-byte pixel
  // rows. (Ordering threads by phase instead, for warp-uniform weight loads, made the H100 runs ~15 us/frame slower,
  // as inferred from graph time minus per-layer times: its stores land 8 pixels apart in a write-bound kernel.)
  const int u = a.upsample;
  const int outH = a.height * u, outW = a.width * u;
  const long long outPixels = static_cast<long long>(outH) * outW;
  const long long idx = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= outPixels * a.batch) return;
  const int n = static_cast<int>(idx / outPixels);
  const int rem = static_cast<int>(idx - n * outPixels);
  const int Y = rem / outW, X = rem - (rem / outW) * outW;
  const int oy = Y / u, ox = X / u;
  const FramePhaseArgs ph = a.phases[(Y - oy * u) * u + (X - ox * u)];
  const FrameAffine norm = a.affine[n];
  const T* frame = raw + static_cast<long long>(n) * a.height * a.width;

  // The phase kernel's taps, normalized; zero outside the frame (the model pads the normalized input with zeros).
  float taps[kMaxTaps];
  const int tapCount = ph.kh * ph.kw;
#pragma unroll
  for (int t = 0; t < kMaxTaps; ++t) {
    taps[t] = 0.f;
    if (t < tapCount) {
      const int iy = oy + t / ph.kw - ph.padTop, ix = ox + t % ph.kw - ph.padLeft;
      if (iy >= 0 && iy < a.height && ix >= 0 && ix < a.width) {
        taps[t] = fmaf(static_cast<float>(__ldg(frame + iy * a.width + ix)), norm.scale, norm.offset);
      }
    }
  }
  const float* w = a.weights + ph.weightOffset;
  __half* dst = a.out + static_cast<long long>(idx) * a.outC + a.outOff;
  const bool vectorStore = (a.outC % 8 == 0) && (a.outOff % 8 == 0);
  for (int co0 = 0; co0 < a.cout; co0 += kGroup) {
    float acc[kGroup];
#pragma unroll
    for (int j = 0; j < kGroup; ++j) {
      const int co = co0 + j;
      float v = 0.f;
      if (co < a.cout) {
        v = __ldg(a.bias + co);
#pragma unroll
        for (int t = 0; t < kMaxTaps; ++t) {
          if (t < tapCount) v = fmaf(taps[t], __ldg(w + co * tapCount + t), v);
        }
        if (a.relu) v = fmaxf(v, 0.f);
      }
      acc[j] = v;
    }
    if (vectorStore && co0 + kGroup <= a.cout) {
      uint4 packed;
      __half2* h = reinterpret_cast<__half2*>(&packed);
#pragma unroll
      for (int j = 0; j < kGroup / 2; ++j) h[j] = __floats2half2_rn(acc[2 * j], acc[2 * j + 1]);
      *reinterpret_cast<uint4*>(dst + co0) = packed;
    } else {
      for (int j = 0; j < kGroup && co0 + j < a.cout; ++j) dst[co0 + j] = __float2half_rn(acc[j]);
    }
  }
}

}  // namespace

void launchFrameConv(const FrameConvArgs& a, cudaStream_t stream) {
  const long long threads = static_cast<long long>(a.batch) * a.height * a.upsample * a.width * a.upsample;
  if (threads <= 0) return;
  const long long blocks = (threads + 255) / 256;
  if (blocks > 0x7fffffffLL) throw EngineError("E_GPU", "frameConv: launch too large for one grid");
  // Deep-STORM's x8 phases have at most 2x2 taps, a plain 3x3 conv 9: the tap loops unroll to what is needed.
  const unsigned grid = static_cast<unsigned>(blocks);
  auto launch = [&](auto tapsTag) {
    constexpr int kTaps = decltype(tapsTag)::value;
    withTypedPixels(a.raw, a.type, [&](auto pixelsIn) {
      using Pixel = std::remove_cv_t<std::remove_pointer_t<decltype(pixelsIn)>>;
      frameConvKernel<Pixel, kTaps><<<grid, 256, 0, stream>>>(a, pixelsIn);
    });
  };
  if (a.maxTaps <= 4) {
    launch(std::integral_constant<int, 4>{});
  } else if (a.maxTaps <= 9) {
    launch(std::integral_constant<int, 9>{});
  } else {
    launch(std::integral_constant<int, 16>{});
  }
  checkLaunch("frameConv");
}

}  // namespace smlmrt
