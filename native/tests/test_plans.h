// Plans shaped like smlm-rt's two networks, built in C++ the way the TypeScript compiler builds them (upsampling
// folded into phases, pooling into loads, concatenations into channel slices), with random weights.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "../engine/engine.h"

namespace smlmrt::test {

class PlanBuilder {
 public:
  explicit PlanBuilder(uint32_t seed) : rng_(seed) {}

  int buffer(int channels, int num, int den) {
    const int id = static_cast<int>(plan.buffers.size()) + 1;
    plan.buffers.push_back(PlanBuffer{id, channels, num, den});
    return id;
  }

  // Random He-scaled weights for a kh x kw conv (OHWI), returned by value (not yet in the plan).
  std::vector<float> randomKernel(int cout, int kh, int kw, int cin) {
    std::vector<float> w(static_cast<size_t>(cout) * kh * kw * cin);
    const float bound = std::sqrt(6.f / (kh * kw * cin));
    std::uniform_real_distribution<float> d(-bound, bound);
    for (float& v : w) v = d(rng_);
    return w;
  }
  size_t append(const std::vector<float>& v) {
    const size_t at = plan.weights.size();
    plan.weights.insert(plan.weights.end(), v.begin(), v.end());
    return at;
  }
  size_t randomBias(int n) {
    std::uniform_real_distribution<float> d(-0.1f, 0.1f);
    std::vector<float> b(n);
    for (float& v : b) v = d(rng_);
    return append(b);
  }

  // A k x k conv (padding `pad`) applied to the input nearest-upsampled by u, rewritten as u*u phases on the
  // un-upsampled input: tap t of output phase p reads source offset floor((p + t - pad) / u); taps landing on the same
  // source pixel are summed.
  ConvOp upsampledConv(const std::string& name, PlanView in, InputTransform tr, PlanView out, int cin, int cout, int k,
                       int pad, int u, bool relu) {
    const std::vector<float> w = randomKernel(cout, k, k, cin);
    ConvOp op;
    op.name = name;
    op.input = in;
    op.transform = tr;
    op.output = out;
    op.cin = cin;
    op.cout = cout;
    op.upsample = u;
    op.relu = relu;
    auto floorDiv = [](int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
    for (int py = 0; py < u; ++py) {
      for (int px = 0; px < u; ++px) {
        const int loY = floorDiv(py - pad, u), hiY = floorDiv(py + k - 1 - pad, u);
        const int loX = floorDiv(px - pad, u), hiX = floorDiv(px + k - 1 - pad, u);
        ConvPhase ph;
        ph.phaseY = py;
        ph.phaseX = px;
        ph.kh = hiY - loY + 1;
        ph.kw = hiX - loX + 1;
        ph.padTop = -loY;
        ph.padLeft = -loX;
        std::vector<float> pw(static_cast<size_t>(cout) * ph.kh * ph.kw * cin, 0.f);
        for (int co = 0; co < cout; ++co)
          for (int ty = 0; ty < k; ++ty)
            for (int tx = 0; tx < k; ++tx) {
              const int ky = floorDiv(py + ty - pad, u) - loY, kx = floorDiv(px + tx - pad, u) - loX;
              for (int ci = 0; ci < cin; ++ci)
                pw[((static_cast<size_t>(co) * ph.kh + ky) * ph.kw + kx) * cin + ci] +=
                    w[((static_cast<size_t>(co) * k + ty) * k + tx) * cin + ci];
            }
        ph.weightOffset = append(pw);
        op.phases.push_back(ph);
      }
    }
    op.biasOffset = randomBias(cout);
    return op;
  }

  // ConvTranspose with kernel == stride == u: u*u phases of 1x1 kernels, each with its own weights.
  ConvOp transposedConv(const std::string& name, PlanView in, PlanView out, int cin, int cout, int u, bool relu) {
    ConvOp op;
    op.name = name;
    op.input = in;
    op.transform = InputTransform::Direct;
    op.output = out;
    op.cin = cin;
    op.cout = cout;
    op.upsample = u;
    op.relu = relu;
    for (int py = 0; py < u; ++py)
      for (int px = 0; px < u; ++px) {
        ConvPhase ph;
        ph.phaseY = py;
        ph.phaseX = px;
        ph.weightOffset = append(randomKernel(cout, 1, 1, cin));
        op.phases.push_back(ph);
      }
    op.biasOffset = randomBias(cout);
    return op;
  }

  void head(PlanView in, int cin, int s) {
    plan.head.name = "head";
    plan.head.input = in;
    plan.head.cin = cin;
    plan.head.upscale = s;
    plan.head.weightOffset = append(randomKernel(s * s, 1, 1, cin));
    plan.head.biasOffset = randomBias(s * s);
  }

  Plan plan;

 private:
  std::mt19937 rng_;
};

inline PlanView view(int buffer, int offset, int channels) { return PlanView{buffer, offset, channels}; }

// Deep-STORM: x8 nearest upsampling, conv-BN-ReLU 32-64-128-512-128-64-32 with max-pools and x2 upsamplings, 1x1 head.
inline Plan deepStormPlan(uint32_t seed) {
  PlanBuilder b(seed);
  Plan& p = b.plan;
  p.upsampling = 8;
  p.normMean = 0.19608f;
  p.normStd = 0.17764f;
  p.sizeMultiple = 1;
  p.minSize = 8;
  p.modelHash = "selftest-deepstorm-" + std::to_string(seed);
  const int b1 = b.buffer(32, 8, 1), b2 = b.buffer(64, 4, 1), b3 = b.buffer(128, 2, 1), b4 = b.buffer(512, 1, 1);
  const int b5 = b.buffer(128, 2, 1), b6 = b.buffer(64, 4, 1), b7 = b.buffer(32, 8, 1);
  p.convs.push_back(b.upsampledConv("conv1", view(0, 0, 1), InputTransform::Frame, view(b1, 0, 32), 1, 32, 3, 1, 8, true));
  p.convs.push_back(b.upsampledConv("conv2", view(b1, 0, 32), InputTransform::MaxPool2, view(b2, 0, 64), 32, 64, 3, 1, 1, true));
  p.convs.push_back(b.upsampledConv("conv3", view(b2, 0, 64), InputTransform::MaxPool2, view(b3, 0, 128), 64, 128, 3, 1, 1, true));
  p.convs.push_back(b.upsampledConv("conv4", view(b3, 0, 128), InputTransform::MaxPool2, view(b4, 0, 512), 128, 512, 3, 1, 1, true));
  p.convs.push_back(b.upsampledConv("conv5", view(b4, 0, 512), InputTransform::Direct, view(b5, 0, 128), 512, 128, 3, 1, 2, true));
  p.convs.push_back(b.upsampledConv("conv6", view(b5, 0, 128), InputTransform::Direct, view(b6, 0, 64), 128, 64, 3, 1, 2, true));
  p.convs.push_back(b.upsampledConv("conv7", view(b6, 0, 64), InputTransform::Direct, view(b7, 0, 32), 64, 32, 3, 1, 2, true));
  b.head(view(b7, 0, 32), 32, 1);
  return p;
}

// A small camera-resolution U-Net: two poolings, ConvTranspose upsamplings written into the left half of
// concatenation buffers whose right half the encoder wrote, a depth-to-space head (s = 8). `c` scales the widths;
// with odd widths the views are misaligned and the generic kernels run.
inline Plan unetPlan(uint32_t seed, int c1, int c2, int c3) {
  PlanBuilder b(seed);
  Plan& p = b.plan;
  p.upsampling = 8;
  p.normMean = 0.2f;
  p.normStd = 0.18f;
  p.sizeMultiple = 4;
  p.minSize = 8;
  p.modelHash = "selftest-unet-" + std::to_string(seed) + "-" + std::to_string(c1);
  const int cat1 = b.buffer(2 * c1, 1, 1), cat2 = b.buffer(2 * c2, 1, 2), b3 = b.buffer(c3, 1, 4);
  const int b4 = b.buffer(c2, 1, 2), b5 = b.buffer(c1, 1, 1);
  p.convs.push_back(b.upsampledConv("enc1", view(0, 0, 1), InputTransform::Frame, view(cat1, c1, c1), 1, c1, 3, 1, 1, true));
  p.convs.push_back(b.upsampledConv("enc2", view(cat1, c1, c1), InputTransform::MaxPool2, view(cat2, c2, c2), c1, c2, 3, 1, 1, true));
  p.convs.push_back(b.upsampledConv("enc3", view(cat2, c2, c2), InputTransform::MaxPool2, view(b3, 0, c3), c2, c3, 3, 1, 1, true));
  p.convs.push_back(b.transposedConv("up1", view(b3, 0, c3), view(cat2, 0, c2), c3, c2, 2, false));
  p.convs.push_back(b.upsampledConv("dec2", view(cat2, 0, 2 * c2), InputTransform::Direct, view(b4, 0, c2), 2 * c2, c2, 3, 1, 1, true));
  p.convs.push_back(b.transposedConv("up2", view(b4, 0, c2), view(cat1, 0, c1), c2, c1, 2, false));
  p.convs.push_back(b.upsampledConv("dec1", view(cat1, 0, 2 * c1), InputTransform::Direct, view(b5, 0, c1), 2 * c1, c1, 3, 1, 1, true));
  b.head(view(b5, 0, c1), c1, 8);
  return p;
}

// The U-Net above ending in a localization head (lib/engine/plan.ts LocalizationHeadOp) instead of depth-to-space:
// random p, dx, dy rows of each of the grid x grid cells on its camera-resolution features, rendered with the given
// settings; with predictedSigma also random sx, sy rows, each detection rendered as wide as they say, clamped to
// [sigmaMin, sigmaMax] (`sigma` is then unused).
inline Plan localizationPlan(uint32_t seed, int c1, int c2, int c3, float maxOffset, float sigma, int radius, float minProbability,
                             int grid = 1, bool predictedSigma = false, float sigmaMin = 0.f, float sigmaMax = 0.f) {
  PlanBuilder b(seed);
  b.plan = unetPlan(seed, c1, c2, c3);
  b.plan.modelHash += "-loc";
  HeadOp& head = b.plan.head;
  head.kind = HeadKind::Localization;
  head.name = "localization-head";
  head.upscale = 1;
  head.grid = grid;
  const int rows = (predictedSigma ? 5 : 3) * grid * grid;
  head.weightOffset = b.append(b.randomKernel(rows, 1, 1, head.cin));
  head.biasOffset = b.randomBias(rows);
  head.maxOffset = maxOffset;
  head.renderSigma = predictedSigma ? 0.f : sigma;
  head.predictedSigma = predictedSigma;
  head.sigmaMin = sigmaMin;
  head.sigmaMax = sigmaMax;
  head.renderRadius = radius;
  head.minProbability = minProbability;
  return b.plan;
}

// Multiply-accumulates per frame as executed (mirrors planMacsPerFrame in lib/engine/plan.ts).
inline double planMacs(const Plan& p, int h, int w) {
  auto scaled = [&](int id, int v) {
    for (const PlanBuffer& b : p.buffers)
      if (b.id == id) return static_cast<double>(v) * b.scaleNum / b.scaleDen;
    return 0.0;
  };
  double macs = 0;
  for (const ConvOp& op : p.convs) {
    double ih = h, iw = w;
    if (op.transform != InputTransform::Frame) {
      ih = scaled(op.input.buffer, h);
      iw = scaled(op.input.buffer, w);
      if (op.transform == InputTransform::MaxPool2) {
        ih /= 2;
        iw /= 2;
      }
    }
    for (const ConvPhase& ph : op.phases) macs += ih * iw * ph.kh * ph.kw * op.cin * op.cout;
  }
  const int locRows = (p.head.predictedSigma ? 5 : 3) * p.head.grid * p.head.grid;
  const int headRows = p.head.kind == HeadKind::Localization ? locRows : p.head.upscale * p.head.upscale;
  macs += scaled(p.head.input.buffer, h) * scaled(p.head.input.buffer, w) * p.head.cin * headRows;
  return macs;
}

}  // namespace smlmrt::test
