// The session pipeline: see pipeline.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common_kernels.h"
#include "cuda_check.h"
#include "cuda_resources.h"
#include "frame_preparation.h"
#include "pipeline.h"

namespace smlmrt {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------- kernels ----------------

// out[i] = in[i] * scale; out may be `in` (a batch's frame maps, scaled in place) or mapped pinned host memory (the
// image then crosses the bus once).
__global__ void scaleKernel(const float* in, float* out, size_t n, float scale) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = in[i] * scale;
}

// The tile [y0, y0+th) x [x0, x0+tw) of each of `count` frames of H x W, packed count x th x tw.
template <typename T>
__global__ void cropTileKernel(const T* __restrict__ frames, int count, int H, int W, int y0, int x0, int th, int tw,
                               T* __restrict__ out) {
  const size_t total = static_cast<size_t>(count) * th * tw;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % tw);
    const int r = static_cast<int>((i / tw) % th);
    const size_t f = i / (static_cast<size_t>(tw) * th);
    out[i] = frames[(f * H + (y0 + r)) * W + (x0 + c)];
  }
}

// accum[(dy + r) * outW + dx + c] += tile[(sy + r) * tileW + sx + c] for r < rows, c < cols (the tile's interior).
__global__ void addInteriorKernel(const float* __restrict__ tile, int tileW, int sy, int sx, int rows, int cols,
                                  float* __restrict__ accum, int outW, int dy, int dx) {
  const size_t total = static_cast<size_t>(rows) * cols;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % cols), r = static_cast<int>(i / cols);
    accum[static_cast<size_t>(dy + r) * outW + dx + c] += tile[static_cast<size_t>(sy + r) * tileW + sx + c];
  }
}

struct DeviceAxis {
  const int* start;
  const int* count;
  const int* index;
  const double* weight;
};

// lib/frames/pad.ts mirror(): symmetric at the far edge, then the first pixel.
__device__ __forceinline__ int mirrorIndex(int p, int n) {
  if (p < n) return p;
  const int m = 2 * n - 1 - p;
  return m >= 0 ? m : 0;
}

// Source frames (srcH x srcW) -> float32 frames (outH x outW): resampled to resH x resW (lib/frames/resample.ts: along
// x then along y, in double, each sum in the host's order without fused multiply-adds) when `resample`, then mirrored
// up to outH x outW (lib/frames/pad.ts).
template <typename T>
__global__ void prepareFramesKernel(const T* __restrict__ src, int count, int srcH, int srcW, bool resample, int resH, int resW,
                                    DeviceAxis ax, DeviceAxis ay, float* __restrict__ out, int outH, int outW) {
  const size_t total = static_cast<size_t>(count) * outH * outW;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int c = static_cast<int>(i % outW);
    const int r = static_cast<int>((i / outW) % outH);
    const size_t f = i / (static_cast<size_t>(outW) * outH);
    const T* frame = src + f * srcH * srcW;
    const int y = mirrorIndex(r, resH), x = mirrorIndex(c, resW);
    float value;
    if (resample) {
      double s = 0;
      for (int ky = ay.start[y]; ky < ay.start[y] + ay.count[y]; ++ky) {
        const T* row = frame + static_cast<size_t>(ay.index[ky]) * srcW;
        double rs = 0;
        for (int kx = ax.start[x]; kx < ax.start[x] + ax.count[x]; ++kx)
          rs = __dadd_rn(rs, __dmul_rn(ax.weight[kx], static_cast<double>(row[ax.index[kx]])));
        s = __dadd_rn(s, __dmul_rn(ay.weight[ky], rs));
      }
      value = static_cast<float>(s);
    } else {
      value = static_cast<float>(frame[static_cast<size_t>(y) * srcW + x]);
    }
    out[i] = value;
  }
}

int gridFor(size_t n) { return static_cast<int>(std::min<size_t>((n + 255) / 256, 65535 * 4)); }

// ---------------- the session ----------------

size_t roundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

struct Layout {
  int batch = 0;
  bool tiled = false;
  int tileH = 0, tileW = 0;          // tile size, halo included (== frame size along an untiled axis)
  int interiorH = 0, interiorW = 0;  // frame pixels each tile contributes
};

class PipelineSession final : public Session {
 public:
  PipelineSession(NetworkRunner& runner, const SessionOptions& options) : runner_(runner), options_(options) {
    H_ = options.height;
    W_ = options.width;
    if (H_ < 1 || W_ < 1) throw EngineError("E_BAD_OPTIONS", "session: height and width must be at least 1");
    if (!(options.scale == options.scale) || options.scale < 0 || options.scale > 3.0e38f)
      throw EngineError("E_BAD_OPTIONS", "session: scale must be a finite number >= 0");
    if (options.batchSize < 0) throw EngineError("E_BAD_OPTIONS", "session: batchSize must be >= 0");
    checkCuda(cudaSetDevice(runner_.deviceOrdinal()), "cudaSetDevice");
    runner_.checkFrameSize(H_, W_);
    u_ = runner_.upsampling();
    outPixels_ = static_cast<size_t>(H_) * u_ * W_ * u_;
    srcH_ = H_;
    srcW_ = W_;
    if (options.prepare) setUpPreparation();
    upload_.create();
    for (int s = 0; s < 2; ++s) {
      uploaded_[s].create(false);
      start_[s].create();
      stop_[s].create();
    }
    accum_.allocateOrThrow(outPixels_ * sizeof(float), "cudaMalloc (image accumulator)");
    const cudaStream_t stream = runner_.stream();
    if (options.initialImage != nullptr) {
      checkCuda(cudaMemcpyAsync(accum_.get(), options.initialImage, outPixels_ * sizeof(float), cudaMemcpyHostToDevice, stream),
                "upload image");
    } else {
      checkCuda(cudaMemsetAsync(accum_.get(), 0, outPixels_ * sizeof(float), stream), "clear image");
    }
    checkCuda(cudaStreamSynchronize(stream), "open session");
    options_.initialImage = nullptr;
  }

  ~PipelineSession() override {
    // Queued work may still read the buffers this frees (an error left it behind): let it finish first.
    cudaSetDevice(runner_.deviceOrdinal());
    cudaStreamSynchronize(runner_.stream());
    if (upload_.get()) cudaStreamSynchronize(upload_.get());
    cudaGetLastError();
    runner_.giveBackSessionBuffers(std::move(buffers_));
  }

  size_t imagePixels() const override { return outPixels_; }
  int sourceHeight() const override { return srcH_; }
  int sourceWidth() const override { return srcW_; }

  RunStats push(const RunRequest& req) override {
    const Clock::time_point t0 = Clock::now();
    if (finished_) throw EngineError("E_CLOSED", "the session was finished");
    if (req.frameCount <= 0) throw EngineError("E_EMPTY_STACK", "no frames to reconstruct");
    if (req.frames == nullptr) throw EngineError("E_BAD_OPTIONS", "push: frames must be given");
    if (req.batchSize < 0) throw EngineError("E_BAD_OPTIONS", "push: batchSize must be >= 0");
    if (req.height != srcH_ || req.width != srcW_) {
      throw EngineError("E_BAD_OPTIONS", "push: frames of " + std::to_string(req.width) + "x" + std::to_string(req.height) +
                                             " px in a session of " + std::to_string(srcW_) + "x" + std::to_string(srcH_) + " px frames");
    }
    if (options_.prepare && req.frameMaps != nullptr) {
      // Fine, maps are of the network's frames; nothing else to check.
    }
    checkCuda(cudaSetDevice(runner_.deviceOrdinal()), "cudaSetDevice");
    const bool withMaps = req.frameMaps != nullptr;
    const int wanted = std::max(1, std::min({req.batchSize > 0 ? req.batchSize : options_.batchSize > 0 ? options_.batchSize : 1 << 20,
                                             runner_.maxBatch(H_, W_), req.frameCount}));
    const Layout layout = allocate(wanted, withMaps, req.pixelType);
    RunStats stats = runBatches(req, layout);
    stats.batchSize = layout.batch;
    if (layout.tiled) {
      stats.tiles = ceilDiv(H_, layout.interiorH) * ceilDiv(W_, layout.interiorW);
      stats.tileHeight = layout.tileH;
      stats.tileWidth = layout.tileW;
    }
    stats.totalMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    return stats;
  }

  void snapshot(float* out) override { readImage(out, false); }

  void finish(float* out) override {
    readImage(out, true);
    release();
  }

 private:
  static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

  size_t sourceFrameBytes(PixelType type) const { return static_cast<size_t>(srcH_) * srcW_ * pixelBytes(type); }
  size_t preparedFrameBytes() const { return options_.prepare ? static_cast<size_t>(H_) * W_ * sizeof(float) : 0; }

  void setUpPreparation() {
    const FramePreparation& p = options_.preparation;
    srcH_ = p.sourceHeight;
    srcW_ = p.sourceWidth;
    if (srcH_ < 1 || srcW_ < 1) throw EngineError("E_BAD_OPTIONS", "session: the preparation's source size must be at least 1x1");
    resH_ = srcH_;
    resW_ = srcW_;
    if (p.resample) {
      if (!(p.fromNm > 0) || !(p.toNm > 0) || !std::isfinite(p.fromNm) || !std::isfinite(p.toNm))
        throw EngineError("E_BAD_OPTIONS", "session: resampling needs positive pixel sizes");
      resH_ = p.resampledHeight;
      resW_ = p.resampledWidth;
      if (resH_ != resampledLength(srcH_, p.fromNm, p.toNm) || resW_ != resampledLength(srcW_, p.fromNm, p.toNm))
        throw EngineError("E_BAD_OPTIONS", "session: the resampled size does not follow from the pixel sizes");
      const AxisWeights wx = resampleAxisWeights(srcW_, resW_, p.fromNm, p.toNm);
      const AxisWeights wy = resampleAxisWeights(srcH_, resH_, p.fromNm, p.toNm);
      // One device blob: x start, count, index | y start, count, index (ints), then x and y weights (doubles).
      std::vector<int> ints;
      auto appendInts = [&](const std::vector<int>& v) {
        const size_t at = ints.size();
        ints.insert(ints.end(), v.begin(), v.end());
        return at;
      };
      const size_t xs = appendInts(wx.start), xc = appendInts(wx.count), xi = appendInts(wx.index);
      const size_t ys = appendInts(wy.start), yc = appendInts(wy.count), yi = appendInts(wy.index);
      while (ints.size() % 2) ints.push_back(0);
      const size_t intBytes = ints.size() * sizeof(int);
      std::vector<double> weights(wx.weight);
      weights.insert(weights.end(), wy.weight.begin(), wy.weight.end());
      tables_.allocateOrThrow(intBytes + weights.size() * sizeof(double), "cudaMalloc (resampling weights)");
      checkCuda(cudaMemcpy(tables_.get(), ints.data(), intBytes, cudaMemcpyHostToDevice), "upload resampling weights");
      checkCuda(cudaMemcpy(static_cast<char*>(tables_.get()) + intBytes, weights.data(), weights.size() * sizeof(double),
                           cudaMemcpyHostToDevice),
                "upload resampling weights");
      const int* base = tables_.as<int>();
      const double* wbase = reinterpret_cast<const double*>(static_cast<const char*>(tables_.get()) + intBytes);
      ax_ = DeviceAxis{base + xs, base + xc, base + xi, wbase};
      ay_ = DeviceAxis{base + ys, base + yc, base + yi, wbase + wx.weight.size()};
    }
    if (!p.pad && (resH_ != H_ || resW_ != W_))
      throw EngineError("E_BAD_OPTIONS", "session: prepared frames are " + std::to_string(resW_) + "x" + std::to_string(resH_) +
                                             " px, not the session's " + std::to_string(W_) + "x" + std::to_string(H_) + " (padding missing)");
    if (resH_ > H_ || resW_ > W_) throw EngineError("E_BAD_OPTIONS", "session: padding cannot shrink frames");
  }

  // ---- memory ----

  // Bytes the session and runner need per frame of a batch (untiled) and for a tiled batch of `batch` frames.
  size_t untiledBytes(int batch, bool withMaps, PixelType type) const {
    return static_cast<size_t>(batch) *
           (runner_.bytesPerFrame(H_, W_, withMaps) + 2 * (sourceFrameBytes(type) + preparedFrameBytes()));
  }
  size_t tiledBytes(int batch, int th, int tw, bool withMaps, PixelType type) const {
    const size_t tilePixels = static_cast<size_t>(th) * tw;
    return static_cast<size_t>(batch) * (runner_.bytesPerFrame(th, tw, withMaps) + 2 * (sourceFrameBytes(type) + preparedFrameBytes()) +
                                         tilePixels * 4) +
           tilePixels * u_ * u_ * sizeof(float);
  }

  size_t budget() const {
    size_t freeBytes = 0, totalBytes = 0;
    size_t usable = SIZE_MAX;
    if (cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess) {
      const size_t held = runner_.heldBytes() + heldBatchBytes();
      usable = static_cast<size_t>(static_cast<double>(freeBytes + held) * 0.85);
    } else {
      cudaGetLastError();
    }
    const size_t cap = memoryBudgetFromEnvironment();
    return cap > 0 ? std::min(usable, cap) : usable;
  }

  size_t heldBatchBytes() const {
    size_t held = tileFrames_.bytes() + tileAccum_.bytes();
    for (int s = 0; s < 2; ++s) held += raw_[s].bytes() + prepared_[s].bytes();
    return held;
  }

  // The largest layout the budget allows for `wanted` frames per batch. tileLimit > 0: tiles of at most that
  // interior (after an out-of-memory at one frame).
  Layout plan(int wanted, bool withMaps, PixelType type, int tileLimit) const {
    const size_t bytes = budget();
    Layout whole;
    whole.tileH = H_;
    whole.tileW = W_;
    whole.interiorH = H_;
    whole.interiorW = W_;
    const int halo = runner_.tileHalo();
    if (tileLimit == 0 || halo <= 0) {
      const size_t perFrame = std::max<size_t>(1, untiledBytes(1, withMaps, type));
      whole.batch = static_cast<int>(std::min<size_t>(static_cast<size_t>(wanted), bytes / perFrame));
      // Without tiles, one frame is tried anyway: the allocation decides.
      if (whole.batch >= 1 || halo <= 0) {
        whole.batch = std::max(1, whole.batch);
        return whole;
      }
    }
    const int m = std::max(1, runner_.tileAlignment());
    int interior = static_cast<int>(roundUp(static_cast<size_t>(std::max(H_, W_)), m));
    if (tileLimit > 0) interior = std::min(interior, tileLimit);
    for (;; interior = static_cast<int>(roundUp(static_cast<size_t>(interior / 2), m))) {
      Layout l;
      l.interiorH = interior + 2 * halo >= H_ ? H_ : interior;
      l.interiorW = interior + 2 * halo >= W_ ? W_ : interior;
      l.tileH = l.interiorH == H_ ? H_ : interior + 2 * halo;
      l.tileW = l.interiorW == W_ ? W_ : interior + 2 * halo;
      l.tiled = l.interiorH != H_ || l.interiorW != W_;
      if (!l.tiled) {
        if (interior <= m) {  // the halo covers the frame: tiles cannot help
          whole.batch = 1;
          return whole;
        }
        continue;
      }
      const size_t one = tiledBytes(1, l.tileH, l.tileW, withMaps, type);
      if (one <= bytes || interior <= m) {
        const size_t perFrame = std::max<size_t>(1, tiledBytes(2, l.tileH, l.tileW, withMaps, type) - one);
        const size_t fixed = one > perFrame ? one - perFrame : 0;
        const size_t fits = bytes > fixed ? (bytes - fixed) / perFrame : 1;
        l.batch = std::max(1, static_cast<int>(std::min<size_t>(static_cast<size_t>(wanted), fits)));
        return l;
      }
    }
  }

  // Allocates for the layout; on out-of-memory halves the batch, then the tile, down to one frame of the smallest tile.
  Layout allocate(int wanted, bool withMaps, PixelType type) {
    if (batchCap_ > 0) wanted = std::min(wanted, batchCap_);
    int tileLimit = tileCap_;
    Layout l = plan(wanted, withMaps, type, tileLimit);
    for (;;) {
      try {
        reserve(l, withMaps, type);
        return l;
      } catch (const DeviceOutOfMemory&) {
        releaseBatchBuffers();
        runner_.releaseActivations();
        const int m = std::max(1, runner_.tileAlignment());
        if (l.batch > 1) {
          l.batch = (l.batch + 1) / 2;
          batchCap_ = l.batch;
        } else if (runner_.tileHalo() > 0 && std::max(l.interiorH, l.interiorW) > m) {
          tileLimit = static_cast<int>(roundUp(static_cast<size_t>(std::max(l.interiorH, l.interiorW) / 2), m));
          tileCap_ = tileLimit;
          l = plan(1, withMaps, type, tileLimit);
          l.batch = 1;
        } else {
          throw EngineError("E_GPU_OUT_OF_MEMORY", "out of device memory even for one frame at a time" +
                                                       std::string(runner_.tileHalo() > 0 ? " in the smallest tiles" : ""));
        }
      }
    }
  }

  void reserve(const Layout& l, bool withMaps, PixelType type) {
    const size_t rawBytes = static_cast<size_t>(l.batch) * sourceFrameBytes(type);
    for (int s = 0; s < 2; ++s) {
      raw_[s].reserveOrThrow(rawBytes, "cudaMalloc (frames)");
      staging_[s].reserveOrThrow(rawBytes, "cudaHostAlloc (frame staging)");
      if (options_.prepare) prepared_[s].reserveOrThrow(static_cast<size_t>(l.batch) * preparedFrameBytes(), "cudaMalloc (prepared frames)");
    }
    if (l.tiled) {
      tileFrames_.reserveOrThrow(static_cast<size_t>(l.batch) * l.tileH * l.tileW * 4, "cudaMalloc (tile frames)");
      tileAccum_.reserveOrThrow(static_cast<size_t>(l.tileH) * u_ * l.tileW * u_ * sizeof(float), "cudaMalloc (tile image)");
    }
    runner_.reserve(l.batch, l.tileH, l.tileW, withMaps);
  }

  void releaseBatchBuffers() {
    cudaStreamSynchronize(runner_.stream());
    if (upload_.get()) cudaStreamSynchronize(upload_.get());
    for (int s = 0; s < 2; ++s) {
      raw_[s].release();
      staging_[s].release();
      prepared_[s].release();
    }
    tileFrames_.release();
    tileAccum_.release();
    cudaGetLastError();
  }

  // The image and tables go; the batch buffers go back to the engine's pool when the session object is destroyed.
  void release() {
    finished_ = true;
    cudaStreamSynchronize(runner_.stream());
    accum_.release();
    tables_.release();
  }

  // ---- running ----

  RunStats runBatches(const RunRequest& req, const Layout& l) {
    const cudaStream_t compute = runner_.stream();
    const size_t srcBytes = sourceFrameBytes(req.pixelType);
    const size_t runPixels = static_cast<size_t>(H_) * W_;
    const size_t mapPixels = runPixels * u_ * u_;
    const char* frames = static_cast<const char*>(req.frames);
    RunStats stats;
    int inFlight[2] = {0, 0};
    int framesDone = 0;
    auto retire = [&](int slot) {
      if (!inFlight[slot]) return;
      checkCuda(cudaEventSynchronize(stop_[slot].get()), "batch");
      float ms = 0;
      checkCuda(cudaEventElapsedTime(&ms, start_[slot].get(), stop_[slot].get()), "cudaEventElapsedTime");
      stats.deviceMs += ms;
      framesDone += inFlight[slot];
      inFlight[slot] = 0;
      if (req.progress) req.progress(framesDone, req.frameCount);
    };
    int k = 0;
    try {
      for (int first = 0; first < req.frameCount; first += l.batch, ++k) {
        const int slot = k & 1;
        const int count = std::min(l.batch, req.frameCount - first);
        retire(slot);  // the slot's staging and device frames are free again
        if (req.cancel && req.cancel->load()) throw EngineError("E_ABORTED", "reconstruction cancelled");
        std::memcpy(staging_[slot].get(), frames + static_cast<size_t>(first) * srcBytes, count * srcBytes);
        checkCuda(cudaMemcpyAsync(raw_[slot].get(), staging_[slot].get(), count * srcBytes, cudaMemcpyHostToDevice, upload_.get()),
                  "upload frames");
        checkCuda(cudaEventRecord(uploaded_[slot].get(), upload_.get()), "cudaEventRecord");
        checkCuda(cudaStreamWaitEvent(compute, uploaded_[slot].get(), 0), "cudaStreamWaitEvent");
        checkCuda(cudaEventRecord(start_[slot].get(), compute), "cudaEventRecord");
        const void* batchFrames = raw_[slot].get();
        PixelType type = req.pixelType;
        if (options_.prepare) {
          prepare(batchFrames, type, count, prepared_[slot].as<float>(), compute);
          batchFrames = prepared_[slot].get();
          type = PixelType::F32;
        }
        float* mapsHost = req.frameMaps ? req.frameMaps + static_cast<size_t>(first) * mapPixels : nullptr;
        if (l.tiled) {
          runTiles(batchFrames, type, count, l, mapsHost, req.cancel);
        } else {
          runner_.enqueue(NetworkBatch{batchFrames, type, count, H_, W_, false, accum_.as<float>(), mapsHost != nullptr});
          if (mapsHost) {
            scaleFrameMaps(count * mapPixels, compute);
            checkCuda(cudaMemcpyAsync(mapsHost, runner_.frameMapsDevice(), count * mapPixels * sizeof(float), cudaMemcpyDeviceToHost, compute),
                      "download frame maps");
          }
        }
        checkCuda(cudaEventRecord(stop_[slot].get(), compute), "cudaEventRecord");
        inFlight[slot] = count;
      }
      retire(k & 1);
      retire((k + 1) & 1);
      stats.deviceMs = std::max(0.0, stats.deviceMs - runner_.takeTuningMs());
    } catch (...) {
      cudaStreamSynchronize(compute);
      cudaStreamSynchronize(upload_.get());
      throw;
    }
    return stats;
  }

  void prepare(const void* src, PixelType type, int count, float* out, cudaStream_t stream) {
    const size_t total = static_cast<size_t>(count) * H_ * W_;
    const bool resample = options_.preparation.resample;
    withTypedPixels(src, type, [&](auto pixels) {
      prepareFramesKernel<<<gridFor(total), 256, 0, stream>>>(pixels, count, srcH_, srcW_, resample, resH_, resW_, ax_, ay_, out, H_, W_);
    });
    checkLaunch("prepareFrames");
  }

  // Every tile of a batch: crop (with halo) -> network into the tile image -> its interior into the image.
  void runTiles(const void* frames, PixelType type, int count, const Layout& l, float* mapsHost, const std::atomic<bool>* cancel) {
    const cudaStream_t stream = runner_.stream();
    runner_.enqueueFrameStats(frames, type, count, H_, W_);
    const int halo = runner_.tileHalo();
    const size_t tileOut = static_cast<size_t>(l.tileH) * u_ * l.tileW * u_;
    const int outW = W_ * u_;
    for (int iy0 = 0; iy0 < H_; iy0 += l.interiorH) {
      for (int ix0 = 0; ix0 < W_; ix0 += l.interiorW) {
        if (cancel && cancel->load()) throw EngineError("E_ABORTED", "reconstruction cancelled");
        const int y0 = std::clamp(iy0 - halo, 0, H_ - l.tileH), x0 = std::clamp(ix0 - halo, 0, W_ - l.tileW);
        const int rows = std::min(l.interiorH, H_ - iy0), cols = std::min(l.interiorW, W_ - ix0);
        const size_t total = static_cast<size_t>(count) * l.tileH * l.tileW;
        withTypedPixels(frames, type, [&](auto pixels) {
          using T = std::remove_const_t<std::remove_pointer_t<decltype(pixels)>>;
          cropTileKernel<<<gridFor(total), 256, 0, stream>>>(pixels, count, H_, W_, y0, x0, l.tileH, l.tileW, tileFrames_.as<T>());
        });
        checkLaunch("cropTile");
        checkCuda(cudaMemsetAsync(tileAccum_.get(), 0, tileOut * sizeof(float), stream), "clear tile image");
        runner_.enqueue(NetworkBatch{tileFrames_.get(), type, count, l.tileH, l.tileW, true, tileAccum_.as<float>(), mapsHost != nullptr});
        const size_t interior = static_cast<size_t>(rows) * u_ * cols * u_;
        addInteriorKernel<<<gridFor(interior), 256, 0, stream>>>(tileAccum_.as<float>(), l.tileW * u_, (iy0 - y0) * u_, (ix0 - x0) * u_,
                                                               rows * u_, cols * u_, accum_.as<float>(), outW, iy0 * u_, ix0 * u_);
        checkLaunch("addInterior");
        if (mapsHost) {
          scaleFrameMaps(count * tileOut, stream);
          const size_t framePixels = static_cast<size_t>(H_) * u_ * W_ * u_;
          for (int f = 0; f < count; ++f) {
            const float* src = runner_.frameMapsDevice() + f * tileOut + static_cast<size_t>((iy0 - y0) * u_) * l.tileW * u_ + (ix0 - x0) * u_;
            float* dst = mapsHost + f * framePixels + static_cast<size_t>(iy0 * u_) * outW + ix0 * u_;
            checkCuda(cudaMemcpy2DAsync(dst, outW * sizeof(float), src, l.tileW * u_ * sizeof(float), cols * u_ * sizeof(float), rows * u_,
                                        cudaMemcpyDeviceToHost, stream),
                      "download frame maps");
          }
          checkCuda(cudaStreamSynchronize(stream), "download frame maps");
        }
      }
    }
  }

  // The last batch's frame maps times the session's scale, in place: the batch has already added them into the image
  // (stream order), and they are only read again by their download.
  void scaleFrameMaps(size_t n, cudaStream_t stream) {
    if (options_.scale == 1.0f || n == 0) return;
    float* maps = runner_.frameMapsDevice();
    scaleKernel<<<gridFor(n), 256, 0, stream>>>(maps, maps, n, options_.scale);
    checkLaunch("scaleFrameMaps");
  }

  // Scales the image on the device into mapped pinned memory (one pass over the bus), then copies it out.
  void readImage(float* out, bool last) {
    if (finished_) throw EngineError("E_CLOSED", "the session was finished");
    if (out == nullptr) throw EngineError("E_BAD_OPTIONS", "snapshot: no output");
    checkCuda(cudaSetDevice(runner_.deviceOrdinal()), "cudaSetDevice");
    const cudaStream_t stream = runner_.stream();
    download_.reserveOrThrow(outPixels_ * sizeof(float), "cudaHostAlloc (image download)");
    float* mapped = nullptr;
    checkCuda(cudaHostGetDevicePointer(reinterpret_cast<void**>(&mapped), download_.get(), 0), "cudaHostGetDevicePointer");
    scaleKernel<<<gridFor(outPixels_), 256, 0, stream>>>(accum_.as<float>(), mapped, outPixels_, options_.scale);
    checkLaunch("scaleImage");
    checkCuda(cudaStreamSynchronize(stream), "read image");
    std::memcpy(out, download_.get(), outPixels_ * sizeof(float));
    (void)last;
  }

  NetworkRunner& runner_;
  SessionOptions options_;
  int H_ = 0, W_ = 0, u_ = 1, srcH_ = 0, srcW_ = 0, resH_ = 0, resW_ = 0;
  size_t outPixels_ = 0;
  bool finished_ = false;
  int batchCap_ = 0, tileCap_ = 0;  // after an out-of-memory: what fitted (0: no limit seen)
  DeviceAxis ax_{}, ay_{};

  CudaStream upload_;
  CudaEvent uploaded_[2], start_[2], stop_[2];
  DeviceBuffer accum_, tables_;
  std::unique_ptr<SessionBuffers> buffers_ = runner_.takeSessionBuffers();
  DeviceBuffer* raw_ = buffers_->raw;
  DeviceBuffer* prepared_ = buffers_->prepared;
  DeviceBuffer& tileFrames_ = buffers_->tileFrames;
  DeviceBuffer& tileAccum_ = buffers_->tileAccum;
  PinnedBuffer* staging_ = buffers_->staging;
  MappedPinnedBuffer& download_ = buffers_->download;
};

}  // namespace

size_t memoryBudgetFromEnvironment() {
  const char* text = std::getenv("SMLM_RT_GPU_MEMORY_BUDGET");
  if (text == nullptr || *text == 0) return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  return end != nullptr && *end == 0 ? static_cast<size_t>(v) : 0;
}

std::unique_ptr<Session> openPipelineSession(NetworkRunner& runner, const SessionOptions& options) {
  return std::make_unique<PipelineSession>(runner, options);
}

RunStats Engine::run(const RunRequest& request) {
  const Clock::time_point t0 = Clock::now();
  if (request.frameCount <= 0) throw EngineError("E_EMPTY_STACK", "no frames to reconstruct");
  if (request.frames == nullptr || request.image == nullptr) throw EngineError("E_BAD_OPTIONS", "frames and image must be given");
  SessionOptions options;
  options.height = request.height;
  options.width = request.width;
  options.batchSize = request.batchSize;
  options.initialImage = request.addIntoImage ? request.image : nullptr;
  std::unique_ptr<Session> session = openSession(options);
  RunStats stats = session->push(request);
  session->finish(request.image);
  stats.totalMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return stats;
}

}  // namespace smlmrt
