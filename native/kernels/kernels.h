// Launch interface of smlm-rt's CUDA kernels (native/kernels/*.cu). The engine (native/engine/) fills these argument
// blocks from a Plan; the kernels know nothing about plans.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "../engine/common_kernels.h"
#include "../engine/engine.h"

namespace smlmrt {

// One output phase of a convolution, device-side: see ConvPhase in lib/engine/plan.ts.
struct ConvPhaseArgs {
  int phaseY, phaseX;
  int kh, kw;
  int padTop, padLeft;
  const __half* weights;  // [cout][kh][kw][cin] fp16
};

constexpr int kMaxPhasesPerLaunch = 8;

// A convolution reading an NHWC fp16 view (optionally through a fused 2x2 max-pool) and writing an NHWC fp16 view
// with output stride `upsample` and per-phase offsets.
struct ConvArgs {
  const __half* in;
  int inH, inW;      // stored size of the input buffer
  int inC, inOff;    // input buffer's channel count (pixel stride) and the view's first channel
  bool pool;         // read the 2x2/stride-2 max of the input
  int gridH, gridW;  // the convolution's input grid: (inH, inW), or halved with pool
  int batch;
  int cin, cout;
  __half* out;
  int outH, outW;    // stored size of the output buffer (= upsample * grid)
  int outC, outOff;
  int upsample;
  const float* bias;  // cout
  bool relu;
  int phaseCount;
  ConvPhaseArgs phases[kMaxPhasesPerLaunch];
  int maxKh, maxKw;  // largest phase kernel of the whole conv (tactics that stage a halo tile need <= 3x3)
  // Optional fused 1x1 head with one output (s = 1): instead of storing the activations, each output pixel's
  // cout values (after bias/ReLU) are reduced with headWeights[cout] + headBias and written as one raw FP32 map value
  // to headMaps[(n * outH + Y) * outW + X]. Only tactics whose warp tile spans all of cout can do this.
  const float* headWeights;
  float headBias;
  float* headMaps;
};

// ---- Tensor-core implicit GEMM (conv_tc.cu) ----
// Tactics are tile configurations; the engine times them and keeps the fastest per layer and shape.
int convTcTacticCount();
const char* convTcTacticName(int tactic);
// Whether the fast path can run these arguments: channel counts, offsets and strides multiples of 8 (16-byte rows).
bool convTcSupports(const ConvArgs& args);
// Whether a tactic is worth timing for this layer (e.g. no 128-wide tiles for 32 output channels).
bool convTcTacticFits(int tactic, const ConvArgs& args);
void launchConvTc(int tactic, const ConvArgs& args, cudaStream_t stream);

// ---- Any channel count, any alignment (conv_generic.cu): correct, not fast ----
void launchConvGeneric(const ConvArgs& args, cudaStream_t stream);

// ---- First convolution on the raw frames, normalization fused into the loads (frame_conv.cu) ----
struct FramePhaseArgs {
  int kh, kw;
  int padTop, padLeft;
  int weightOffset;  // into FrameConvArgs::weights, cout*kh*kw floats ([cout][kh][kw], cin = 1)
};

struct FrameConvArgs {
  const void* raw;
  PixelType type;
  const FrameAffine* affine;  // per frame
  int batch, height, width;
  int cout;
  int upsample;
  const FramePhaseArgs* phases;  // device array of upsample*upsample entries, index phaseY*upsample + phaseX
  int maxTaps;                   // largest kh*kw over the phases (<= 16)
  const float* weights;
  const float* bias;
  bool relu;
  __half* out;
  int outC, outOff;  // output buffer of size (upsample*height) x (upsample*width)
};
void launchFrameConv(const FrameConvArgs& args, cudaStream_t stream);

// ---- What both heads read and write: the last feature buffer at camera resolution, the head's 1x1 conv, the image ----
struct HeadInput {
  const __half* in;  // batch x inH x inW x inC features at camera resolution, the head's cin from channel inOff
  int inH, inW, inC, inOff;
  int cin;
  int batch;
  const float* weights;  // the head's 1x1 conv: rows of cin (which rows: see each head)
  const float* bias;     // one per row
  float* accum;          // (inH*u) x (inW*u), += sum over frames
  float* maps;           // optional: batch x (inH*u) x (inW*u) per-frame maps
};

// ---- Head: 1x1 conv to s*s maps, depth-to-space, clamp, sum over the batch into the image (head.cu) ----
struct HeadArgs : HeadInput {
  int upscale;  // u: upscale*upscale rows, clamped maps
};
void launchHead(const HeadArgs& args, cudaStream_t stream);

// ---- Localization head: 1x1 conv to raw p, dx, dy per detection cell (g x g cells per camera pixel), rendered onto
//      the output grid (localization_head.cu; the rule is lib/render-detections.ts's) ----
// weights: localizationHeadRows(grid, predictedSigma) rows (row q*g*g + i*g + j: quantity q = p, dx, dy[, sx, sy] of
// cell (i, j)); the sx, sy rows only with predicted widths. maps: the per-frame rendered maps.
struct LocalizationHeadArgs : HeadInput {
  int upsampling;
  int grid;  // g: detection cells per camera pixel and axis (1, 2, 4 or 8; divides upsampling)
  float maxOffset, sigma, minProbability;
  // Predicted widths (render.sigma "predicted"): each detection's sigmaX = clamp((0.01 + 3 sigmoid(v_sx)) u/g,
  // sigmaMin, sigmaMax), sigmaY likewise; `sigma` is then unused.
  bool predictedSigma;
  float sigmaMin, sigmaMax;
  int radius;
  // scratch: batch x localizationDetectionPlanes(predictedSigma) x (g*inH) x (g*inW) per cell: p, muX, muY,
  // 1/sum wx, 1/sum wy, and with predicted widths sigmaX, sigmaY
  float* detections;
};
void launchLocalizationHead(const LocalizationHeadArgs& args, cudaStream_t stream);

// Rows of the localization head's 1x1 conv that are computed: p, dx, dy of every cell, and sx, sy with predicted widths.
__host__ __device__ inline int localizationHeadRows(int grid, bool predictedSigma) { return (predictedSigma ? 5 : 3) * grid * grid; }
// Planes per frame of the decoded-detection scratch (see LocalizationHeadArgs::detections).
__host__ __device__ inline int localizationDetectionPlanes(bool predictedSigma) { return predictedSigma ? 7 : 5; }

}  // namespace smlmrt
