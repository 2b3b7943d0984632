// The localization head (lib/engine/plan.ts LocalizationHeadOp), in two kernels:
//  1. decode: per detection cell (R, C) of every frame's [g*H, g*W] cell grid (g x g cells per camera pixel), the 1x1
//     conv to the cell's raw p, dx, dy rows (and sx, sy with predicted widths) from the fp16 features of its camera
//     pixel (fp32 math), then p = sigmoid, muX = (C + 0.5 + dx) * u/g and muY on the fine grid, the widths per axis
//     (the fixed sigma, or the detection's clamped predicted ones) and the inverse sums of its window weights per axis;
//  2. render (gather): per output pixel, every frame in order, the cells whose window can reach it; each adds
//     p * wx(X) * wy(Y). One thread owns one output pixel, so the frame sum is deterministic without atomics.
//     The reach uses the radius only (the window is floor(mu) +- radius whatever the width), so predicted widths do
//     not change which cells are visited.
// The rule is lib/render-detections.ts's, which the CPU backend runs; this is the same arithmetic in fp32.
#include <cmath>
#include <cstdint>

#include "../engine/cuda_check.h"
#include "kernels.h"

namespace smlmrt {
namespace {

__device__ __forceinline__ float phi(float x) { return 0.5f * (1.f + erff(x * 0.70710678118654752f)); }

// Inverse of the sum of the window's integrated-Gaussian weights along one axis; -1 when the weights underflow to a
// zero sum (then the detection's own fine pixel takes the whole weight, as in lib/render-detections.ts).
__device__ float inverseWindowSum(float mu, float sigma, int radius) {
  const float first = floorf(mu) - radius;
  float sum = 0.f;
  float lower = phi((first - mu) / sigma);
  for (int k = 0; k <= 2 * radius; ++k) {
    const float upper = phi((first + k + 1 - mu) / sigma);
    sum += upper - lower;
    lower = upper;
  }
  return sum > 0.f ? 1.f / sum : -1.f;
}

__global__ void decodeKernel(const LocalizationHeadArgs a) {
  const int g = a.grid, cells = g * g;
  const int cellH = a.inH * g, cellW = a.inW * g;
  const int cellPlane = cellH * cellW;
  const long long total = static_cast<long long>(a.batch) * cellPlane;
  const long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= total) return;
  const int n = static_cast<int>(t / cellPlane), k = static_cast<int>(t - static_cast<long long>(n) * cellPlane);
  const int R = k / cellW, C = k - R * cellW;
  const int r = R / g, c = C / g;
  const int cell = (R - r * g) * g + (C - c * g);  // (i, j) of the camera pixel: its rows are q*g*g + cell
  const __half* src = a.in + (static_cast<long long>(n) * a.inH * a.inW + r * a.inW + c) * a.inC + a.inOff;
  const int quantities = a.predictedSigma ? 5 : 3;
  float v[5] = {0.f, 0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int q = 0; q < 5; ++q) {
    if (q >= quantities) break;
    const int row = q * cells + cell;
    const float* w = a.weights + static_cast<long long>(row) * a.cin;
    float acc = __ldg(a.bias + row);
    for (int ci = 0; ci < a.cin; ++ci) acc = fmaf(__half2float(src[ci]), __ldg(w + ci), acc);
    v[q] = acc;
  }
  const float p = 1.f / (1.f + expf(-v[0]));
  const float finePerCell = static_cast<float>(a.upsampling / g);  // exact: g divides u
  float muX = (static_cast<float>(C) + 0.5f + a.maxOffset * tanhf(v[1])) * finePerCell;
  float muY = (static_cast<float>(R) + 0.5f + a.maxOffset * tanhf(v[2])) * finePerCell;
  float sigmaX = a.sigma, sigmaY = a.sigma;
  if (a.predictedSigma) {
    // The predicted 1-sigma uncertainty (0.01 + 3 sigmoid(v)) cells, on the fine grid, clamped to the metadata's range.
    const float wideX = (0.01f + 3.f / (1.f + expf(-v[3]))) * finePerCell;
    const float wideY = (0.01f + 3.f / (1.f + expf(-v[4]))) * finePerCell;
    // fmaxf/fminf would turn a NaN width into a bound; lib/render-detections.ts skips such a detection instead, so it
    // is marked unrenderable here by a NaN position, which the render kernel skips like any non-finite position.
    if (!isfinite(wideX) || !isfinite(wideY)) muX = muY = nanf("");
    sigmaX = fminf(a.sigmaMax, fmaxf(a.sigmaMin, wideX));
    sigmaY = fminf(a.sigmaMax, fmaxf(a.sigmaMin, wideY));
  }
  float* d = a.detections + static_cast<long long>(n) * localizationDetectionPlanes(a.predictedSigma) * cellPlane + k;
  d[0] = p;
  d[cellPlane] = muX;
  d[2 * cellPlane] = muY;
  const bool render = (a.predictedSigma || a.sigma > 0.f) && p >= a.minProbability && isfinite(muX) && isfinite(muY);
  d[3 * cellPlane] = render ? inverseWindowSum(muX, sigmaX, a.radius) : 0.f;
  d[4 * cellPlane] = render ? inverseWindowSum(muY, sigmaY, a.radius) : 0.f;
  if (a.predictedSigma) {
    d[5 * cellPlane] = sigmaX;
    d[6 * cellPlane] = sigmaY;
  }
}

// Weight of fine pixel X for a detection at mu (window floor(mu) +- radius, `inverseSum` from inverseWindowSum).
__device__ __forceinline__ float axisWeight(int X, int center, float mu, float sigma, float inverseSum) {
  if (inverseSum < 0.f) return X == center ? 1.f : 0.f;
  return (phi((X + 1 - mu) / sigma) - phi((X - mu) / sigma)) * inverseSum;
}

__global__ void renderKernel(const LocalizationHeadArgs a) {
  const int u = a.upsampling;
  const int outH = a.inH * u, outW = a.inW * u;
  const long long pixels = static_cast<long long>(outH) * outW;
  const long long q = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (q >= pixels) return;
  const int Y = static_cast<int>(q / outW), X = static_cast<int>(q - static_cast<long long>(Y) * outW);
  const bool gaussian = a.predictedSigma || a.sigma > 0.f;  // predicted widths are >= sigmaMin > 0
  const int R = gaussian ? a.radius : 0;
  // Cells whose detection can land within R of (Y, X), with s = u/g fine pixels per cell: floor(mu) in [X - R, X + R]
  // needs (C + 0.5 + m) s >= X - R and (C + 0.5 - m) s < X + R + 1; one cell of margin on each side for rounding.
  // The reach in cells is about (2R + 1)/s + 2m + 3 per axis, so it grows with g (smaller cells, same window).
  const float m = a.maxOffset;
  const float s = static_cast<float>(u / a.grid);
  const int cellH = a.inH * a.grid, cellW = a.inW * a.grid;
  const int cLo = max(0, static_cast<int>(floorf((X - R) / s - 0.5f - m)) - 1);
  const int cHi = min(cellW - 1, static_cast<int>(ceilf((X + R + 1) / s - 0.5f + m)) + 1);
  const int rLo = max(0, static_cast<int>(floorf((Y - R) / s - 0.5f - m)) - 1);
  const int rHi = min(cellH - 1, static_cast<int>(ceilf((Y + R + 1) / s - 0.5f + m)) + 1);
  const int plane = cellH * cellW;
  const int planes = localizationDetectionPlanes(a.predictedSigma);
  float sum = 0.f;
  for (int n = 0; n < a.batch; ++n) {
    const float* d = a.detections + static_cast<long long>(n) * planes * plane;
    float value = 0.f;
    for (int r = rLo; r <= rHi; ++r) {
      for (int c = cLo; c <= cHi; ++c) {
        const int i = r * cellW + c;
        const float p = __ldg(d + i);
        if (!(p >= a.minProbability)) continue;  // also skips NaN
        const float muX = __ldg(d + plane + i), muY = __ldg(d + 2 * plane + i);
        if (!isfinite(muX) || !isfinite(muY)) continue;
        const int fx = static_cast<int>(floorf(muX)), fy = static_cast<int>(floorf(muY));
        if (X < fx - R || X > fx + R || Y < fy - R || Y > fy + R) continue;
        if (!gaussian) {
          value += p;
          continue;
        }
        const float sigmaX = a.predictedSigma ? __ldg(d + 5 * plane + i) : a.sigma;
        const float sigmaY = a.predictedSigma ? __ldg(d + 6 * plane + i) : a.sigma;
        const float wy = axisWeight(Y, fy, muY, sigmaY, __ldg(d + 4 * plane + i));
        const float wx = axisWeight(X, fx, muX, sigmaX, __ldg(d + 3 * plane + i));
        value += (p * wy) * wx;
      }
    }
    if (a.maps) a.maps[n * pixels + q] = value;
    sum += value;
  }
  a.accum[q] += sum;
}

}  // namespace

void launchLocalizationHead(const LocalizationHeadArgs& a, cudaStream_t stream) {
  const long long cells = static_cast<long long>(a.batch) * a.inH * a.grid * a.inW * a.grid;
  const long long outPixels = static_cast<long long>(a.inH) * a.upsampling * a.inW * a.upsampling;
  if (cells <= 0 || outPixels <= 0) return;
  const long long decodeBlocks = (cells + 255) / 256, renderBlocks = (outPixels + 255) / 256;
  if (decodeBlocks > 0x7fffffffLL || renderBlocks > 0x7fffffffLL) throw EngineError("E_GPU", "localization head: launch too large for one grid");
  decodeKernel<<<static_cast<unsigned>(decodeBlocks), 256, 0, stream>>>(a);
  checkLaunch("localization head (decode)");
  renderKernel<<<static_cast<unsigned>(renderBlocks), 256, 0, stream>>>(a);
  checkLaunch("localization head (render)");
}

}  // namespace smlmrt
