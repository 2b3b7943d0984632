// A plain FP32 CPU execution of a Plan's semantics (lib/engine/plan.ts), the yardstick of the self-test.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "../engine/engine.h"

namespace smlmrt::test {

inline void parallelFor(int count, const std::function<void(int)>& body) {
  const int threads = std::max(1u, std::min(32u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) body(i);
    });
  for (auto& th : pool) th.join();
}

struct Tensor {  // NHWC float
  int n = 0, h = 0, w = 0, c = 0;
  std::vector<float> data;
  float& at(int i, int y, int x, int ch) { return data[((static_cast<size_t>(i) * h + y) * w + x) * c + ch]; }
  float at(int i, int y, int x, int ch) const { return data[((static_cast<size_t>(i) * h + y) * w + x) * c + ch]; }
};

// The localization head's rendering written straight from lib/render-detections.ts (scatter form, double math): the
// engine's gather kernels must agree with it. `hin` holds the head's input features at camera resolution; each camera
// pixel (r, c) holds g x g detection cells (R, C) = (r g + i, c g + j) whose rows are q g^2 + i g + j (q = p, dx, dy,
// and sx, sy with predicted widths).
inline std::vector<float> referenceLocalization(const Plan& p, const Tensor& hin, int n, std::vector<float>* image) {
  const HeadOp& hd = p.head;
  const int u = p.upsampling, H = hin.h * u, W = hin.w * u, R = hd.renderRadius, g = hd.grid;
  const double finePerCell = static_cast<double>(u) / g;
  const int quantities = hd.predictedSigma ? 5 : 3;
  auto phi = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  // A predicted width: the uncertainty (0.01 + 3 sigmoid(v)) cells on the fine grid, clamped (NaN stays NaN).
  auto predictedWidth = [&](double v) {
    const double wide = (0.01 + 3.0 / (1.0 + std::exp(-v))) * finePerCell;
    return std::isfinite(wide) ? std::min<double>(hd.sigmaMax, std::max<double>(hd.sigmaMin, wide)) : wide;
  };
  // Normalized window weights along one axis; returns the window's first fine pixel.
  auto window = [&](double mu, double sigma, std::vector<double>& w) {
    const int first = static_cast<int>(std::floor(mu)) - R;
    double sum = 0;
    for (int k = 0; k <= 2 * R; ++k) sum += w[k] = phi((first + k + 1 - mu) / sigma) - phi((first + k - mu) / sigma);
    for (int k = 0; k <= 2 * R; ++k) w[k] = sum > 0 ? w[k] / sum : (k == R ? 1.0 : 0.0);
    return first;
  };
  std::vector<float> maps(static_cast<size_t>(n) * H * W, 0.f);
  std::vector<double> wx(2 * R + 1), wy(2 * R + 1);
  for (int i = 0; i < n; ++i) {
    float* map = maps.data() + static_cast<size_t>(i) * H * W;
    for (int cellR = 0; cellR < hin.h * g; ++cellR)
      for (int cellC = 0; cellC < hin.w * g; ++cellC) {
        const int r = cellR / g, c = cellC / g, cell = (cellR % g) * g + cellC % g;
        double v[5] = {0, 0, 0, 0, 0};
        for (int q = 0; q < quantities; ++q) {
          const int row = q * g * g + cell;
          float acc = p.weights[hd.biasOffset + row];
          for (int ch = 0; ch < hd.cin; ++ch)
            acc += p.weights[hd.weightOffset + static_cast<size_t>(row) * hd.cin + ch] * hin.at(i, r, c, hd.input.channelOffset + ch);
          v[q] = acc;
        }
        const double prob = 1.0 / (1.0 + std::exp(-v[0]));
        if (!(prob >= hd.minProbability)) continue;
        const double muX = (cellC + 0.5 + hd.maxOffset * std::tanh(v[1])) * finePerCell;
        const double muY = (cellR + 0.5 + hd.maxOffset * std::tanh(v[2])) * finePerCell;
        const double sigmaX = hd.predictedSigma ? predictedWidth(v[3]) : hd.renderSigma;
        const double sigmaY = hd.predictedSigma ? predictedWidth(v[4]) : hd.renderSigma;
        if (!std::isfinite(sigmaX) || !std::isfinite(sigmaY)) continue;
        if (sigmaX == 0) {
          const int X = static_cast<int>(std::floor(muX)), Y = static_cast<int>(std::floor(muY));
          if (X >= 0 && X < W && Y >= 0 && Y < H) map[static_cast<size_t>(Y) * W + X] += static_cast<float>(prob);
          continue;
        }
        const int x0 = window(muX, sigmaX, wx), y0 = window(muY, sigmaY, wy);
        for (int ky = 0; ky <= 2 * R; ++ky) {
          const int Y = y0 + ky;
          if (Y < 0 || Y >= H) continue;
          for (int kx = 0; kx <= 2 * R; ++kx) {
            const int X = x0 + kx;
            if (X >= 0 && X < W) map[static_cast<size_t>(Y) * W + X] += static_cast<float>(prob * wy[ky] * wx[kx]);
          }
        }
      }
  }
  image->assign(static_cast<size_t>(H) * W, 0.f);
  for (int i = 0; i < n; ++i)
    for (size_t k = 0; k < image->size(); ++k) (*image)[k] += maps[i * image->size() + k];
  return maps;
}

// frames: n x h x w raw pixels as float. Returns per-frame clamped maps (n x H x W) and fills `image` with their sum.
inline std::vector<float> referenceRun(const Plan& p, const std::vector<float>& frames, int n, int h, int w,
                                       std::vector<float>* image) {
  // Normalized frame as a 1-channel tensor.
  Tensor frame{n, h, w, 1, std::vector<float>(frames.size())};
  for (int i = 0; i < n; ++i) {
    const float* f = frames.data() + static_cast<size_t>(i) * h * w;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int k = 0; k < h * w; ++k) {
      lo = std::min(lo, f[k]);
      hi = std::max(hi, f[k]);
    }
    const float inv = hi > lo ? 1.f / (hi - lo) : 0.f;
    for (int k = 0; k < h * w; ++k)
      frame.data[static_cast<size_t>(i) * h * w + k] = ((f[k] - lo) * inv - p.normMean) / p.normStd;
  }
  std::map<int, Tensor> buffers;
  for (const PlanBuffer& b : p.buffers) {
    Tensor t{n, h * b.scaleNum / b.scaleDen, w * b.scaleNum / b.scaleDen, b.channels, {}};
    t.data.assign(static_cast<size_t>(t.n) * t.h * t.w * t.c, 0.f);
    buffers[b.id] = std::move(t);
  }
  for (const ConvOp& op : p.convs) {
    const Tensor& src = op.transform == InputTransform::Frame ? frame : buffers.at(op.input.buffer);
    const int inOff = op.transform == InputTransform::Frame ? 0 : op.input.channelOffset;
    const bool pool = op.transform == InputTransform::MaxPool2;
    const int gh = pool ? src.h / 2 : src.h, gw = pool ? src.w / 2 : src.w;
    // The conv's input view, pooled if asked, as its own tensor.
    Tensor in{n, gh, gw, op.cin, std::vector<float>(static_cast<size_t>(n) * gh * gw * op.cin)};
    for (int i = 0; i < n; ++i)
      for (int y = 0; y < gh; ++y)
        for (int x = 0; x < gw; ++x)
          for (int c = 0; c < op.cin; ++c) {
            float v;
            if (pool) {
              v = std::max(std::max(src.at(i, 2 * y, 2 * x, inOff + c), src.at(i, 2 * y, 2 * x + 1, inOff + c)),
                           std::max(src.at(i, 2 * y + 1, 2 * x, inOff + c), src.at(i, 2 * y + 1, 2 * x + 1, inOff + c)));
            } else {
              v = src.at(i, y, x, inOff + c);
            }
            in.at(i, y, x, c) = v;
          }
    Tensor& out = buffers.at(op.output.buffer);
    const float* bias = p.weights.data() + op.biasOffset;
    for (const ConvPhase& ph : op.phases) {
      const float* wts = p.weights.data() + ph.weightOffset;
      parallelFor(n * gh, [&](int row) {
        const int i = row / gh, oy = row % gh;
        for (int ox = 0; ox < gw; ++ox) {
          for (int co = 0; co < op.cout; ++co) {
            float acc = bias[co];
            for (int ky = 0; ky < ph.kh; ++ky) {
              const int iy = oy + ky - ph.padTop;
              if (iy < 0 || iy >= gh) continue;
              for (int kx = 0; kx < ph.kw; ++kx) {
                const int ix = ox + kx - ph.padLeft;
                if (ix < 0 || ix >= gw) continue;
                const float* a = &in.data[((static_cast<size_t>(i) * gh + iy) * gw + ix) * op.cin];
                const float* wr = wts + ((static_cast<size_t>(co) * ph.kh + ky) * ph.kw + kx) * op.cin;
                float s[4] = {0, 0, 0, 0};
                int c = 0;
                for (; c + 4 <= op.cin; c += 4)
                  for (int j = 0; j < 4; ++j) s[j] += a[c + j] * wr[c + j];
                for (; c < op.cin; ++c) s[0] += a[c] * wr[c];
                acc += (s[0] + s[1]) + (s[2] + s[3]);
              }
            }
            if (op.relu) acc = std::max(acc, 0.f);
            out.at(i, oy * op.upsample + ph.phaseY, ox * op.upsample + ph.phaseX, op.output.channelOffset + co) = acc;
          }
        }
      });
    }
  }
  const HeadOp& hd = p.head;
  const Tensor& hin = buffers.at(hd.input.buffer);
  if (hd.kind == HeadKind::Localization) return referenceLocalization(p, hin, n, image);
  const int s = hd.upscale, H = hin.h * s, W = hin.w * s;
  std::vector<float> maps(static_cast<size_t>(n) * H * W);
  for (int i = 0; i < n; ++i)
    for (int Y = 0; Y < H; ++Y)
      for (int X = 0; X < W; ++X) {
        const int r = (Y % s) * s + X % s;
        float v = p.weights[hd.biasOffset + r];
        for (int c = 0; c < hd.cin; ++c)
          v += p.weights[hd.weightOffset + static_cast<size_t>(r) * hd.cin + c] * hin.at(i, Y / s, X / s, hd.input.channelOffset + c);
        maps[(static_cast<size_t>(i) * H + Y) * W + X] = std::max(v, 0.f);
      }
  image->assign(static_cast<size_t>(H) * W, 0.f);
  for (int i = 0; i < n; ++i)
    for (size_t k = 0; k < image->size(); ++k) (*image)[k] += maps[i * image->size() + k];
  return maps;
}

}  // namespace smlmrt::test
