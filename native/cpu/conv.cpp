#include "conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace smlmrt::cpu {
namespace {

// Values of K per chunk: a chunk's panel (kKc x kNR floats, 16 KiB) stays in L1 while a group's tiles use it.
constexpr int kKc = 256;

}  // namespace

void AlignedFloats::Free::operator()(float* p) const { std::free(p); }

void AlignedFloats::resize(size_t count) {
  size_t bytes = ((std::max<size_t>(count, 1) * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data.reset(static_cast<float*>(p));
  size = count;
}

static void packPanel(PackedPhase& phase, int cin, int cout, int blocks, const float* w) {
  const size_t K = static_cast<size_t>(phase.kh) * phase.kw * cin;
  phase.panels.resize(static_cast<size_t>(blocks) * K * kNR);
  float* dst = phase.panels.get();
  for (int block = 0; block < blocks; ++block)
    for (size_t k = 0; k < K; ++k)
      for (int j = 0; j < kNR; ++j) {
        const int co = block * kNR + j;
        *dst++ = co < cout ? w[static_cast<size_t>(co) * K + k] : 0.f;  // OHWI: k = (ky*kw + kx)*cin + ci
      }
}

static void packBias(PackedConv& conv, const float* bias) {
  conv.bias.resize(static_cast<size_t>(conv.blocks) * kNR);
  std::copy(bias, bias + conv.cout, conv.bias.get());
}

PackedConv packConv(const ConvOp& op, const std::vector<float>& weights) {
  PackedConv conv;
  conv.cin = op.cin;
  conv.cout = op.cout;
  conv.upsample = op.upsample;
  conv.relu = op.relu;
  conv.blocks = (op.cout + kNR - 1) / kNR;
  packBias(conv, weights.data() + op.biasOffset);
  for (const ConvPhase& p : op.phases) {
    PackedPhase phase;
    phase.phaseY = p.phaseY;
    phase.phaseX = p.phaseX;
    phase.kh = p.kh;
    phase.kw = p.kw;
    phase.padTop = p.padTop;
    phase.padLeft = p.padLeft;
    packPanel(phase, op.cin, op.cout, conv.blocks, weights.data() + p.weightOffset);
    conv.phases.push_back(std::move(phase));
  }
  return conv;
}

PackedConv packPointwise(int cin, int rows, size_t weightOffset, size_t biasOffset, const std::vector<float>& weights) {
  PackedConv conv;
  conv.cin = cin;
  conv.cout = rows;
  conv.blocks = (rows + kNR - 1) / kNR;
  packBias(conv, weights.data() + biasOffset);
  PackedPhase phase;
  packPanel(phase, cin, rows, conv.blocks, weights.data() + weightOffset);
  conv.phases.push_back(std::move(phase));
  return conv;
}

void runConv(ThreadPool& pool, MicroKernel kernel, const PackedConv& conv, const TensorView& in, const TensorView& out,
             const float* zeros) {
  const int cin = conv.cin, u = conv.upsample;
  const int64_t plane = static_cast<int64_t>(in.height) * in.width;
  const int64_t pixels = plane * in.frames;
  const int64_t tiles = (pixels + kMR - 1) / kMR;
  // Groups of tiles per work item: enough items for dynamic balance on a shared machine, few enough that a group's
  // indirection table and output rows stay cache-resident.
  const int64_t perGroup = std::clamp<int64_t>(tiles / (pool.threads() * 8), 1, 16);
  const int64_t groups = (tiles + perGroup - 1) / perGroup;
  // One parallel loop over every phase's groups (the phases of an upsampling conv are independent and small).
  pool.parallelFor(groups * static_cast<int64_t>(conv.phases.size()), [&](int64_t item, int) {
    const PackedPhase& phase = conv.phases[item / groups];
    const int64_t group = item % groups;
    const int taps = phase.kh * phase.kw;
    // K chunks of whole taps, about kKc values each, balanced (9 taps of 64 channels: 3 chunks of 3 taps).
    const int chunks = (taps + std::max(1, kKc / cin) - 1) / std::max(1, kKc / cin);
    const int tapsPerChunk = (taps + chunks - 1) / chunks;
    const size_t K = static_cast<size_t>(taps) * cin;
    {
      const int64_t firstTile = group * perGroup;
      const int64_t count = std::min(perGroup, tiles - firstTile);
      // Indirection table: [tile][tap][row] input pointers; output row pointers [tile][row].
      std::vector<const float*> a(static_cast<size_t>(count) * taps * kMR);
      std::vector<float*> c(static_cast<size_t>(count) * kMR);
      std::vector<int> rowsOf(count);
      for (int64_t t = 0; t < count; ++t) {
        const int64_t first = (firstTile + t) * kMR;
        const int rows = static_cast<int>(std::min<int64_t>(kMR, pixels - first));
        rowsOf[t] = rows;
        for (int r = 0; r < kMR; ++r) {
          const int64_t m = first + std::min(r, rows - 1);  // rows past the end repeat the last one (never stored)
          const int64_t frame = m / plane;
          const int oy = static_cast<int>((m % plane) / in.width), ox = static_cast<int>(m % in.width);
          const int64_t outPixel = (frame * out.height + static_cast<int64_t>(u) * oy + phase.phaseY) * out.width +
                                   static_cast<int64_t>(u) * ox + phase.phaseX;
          c[t * kMR + r] = out.base + outPixel * out.stride;
          for (int ky = 0; ky < phase.kh; ++ky) {
            const int iy = oy + ky - phase.padTop;
            for (int kx = 0; kx < phase.kw; ++kx) {
              const int ix = ox + kx - phase.padLeft;
              const bool inside = iy >= 0 && iy < in.height && ix >= 0 && ix < in.width;
              a[(t * taps + ky * phase.kw + kx) * kMR + r] =
                  inside ? in.base + ((frame * in.height + iy) * in.width + ix) * in.stride : zeros;
            }
          }
        }
      }
      float* cRows[kMR];
      MicroTile tile;
      tile.cin = cin;
      tile.c = cRows;
      for (int tap0 = 0; tap0 < taps; tap0 += tapsPerChunk) {
        const int chunk = std::min(tapsPerChunk, taps - tap0);
        const bool firstChunk = tap0 == 0, lastChunk = tap0 + chunk == taps;
        tile.taps = chunk;
        tile.relu = lastChunk && conv.relu;
        for (int block = 0; block < conv.blocks; ++block) {
          tile.b = phase.panels.get() + (static_cast<size_t>(block) * K + static_cast<size_t>(tap0) * cin) * kNR;
          tile.bias = firstChunk ? conv.bias.get() + block * kNR : nullptr;
          tile.nr = std::min(kNR, conv.cout - block * kNR);
          for (int64_t t = 0; t < count; ++t) {
            tile.a = a.data() + (t * taps + tap0) * kMR;
            tile.mr = rowsOf[t];
            for (int r = 0; r < kMR; ++r) cRows[r] = c[t * kMR + r] + block * kNR;
            kernel(tile);
          }
        }
      }
    }
  });
}

}  // namespace smlmrt::cpu
