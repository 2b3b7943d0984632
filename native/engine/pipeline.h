// The session pipeline both engines are clients of (smlm-rt's cuda engine, the TensorRT backend).
//
// A session owns the image, an FP32 accumulator on the device, for its whole life. push(chunk) stages frames through
// two pinned buffers and uploads them on a stream of its own, so that the upload of batch k+1 overlaps the network on
// batch k; the engine's network and head add each batch's clamped maps straight into the accumulator (no per-chunk
// download, zero scan or host add). snapshot()/finish() scale the image on the device, writing it once into pinned
// host memory. Out-of-memory halving of the batch lives here, once. A frame whose activations do not fit the memory
// budget (free device memory, or SMLM_RT_GPU_MEMORY_BUDGET bytes) even one at a time runs in tiles: each tile carries
// the network's receptive-field halo (NetworkRunner::tileHalo), only its interior is added into the image, and the
// normalization uses the whole frame's statistics, so the result equals the untiled one within FP16 rounding.
// With a FramePreparation, push() takes source frames and resamples/pads them on the device first.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <mutex>

#include "cuda_resources.h"
#include "engine.h"

namespace smlmrt {

// One batch for NetworkRunner::enqueue.
struct NetworkBatch {
  const void* frames = nullptr;  // device, count x height x width pixels of `type`
  PixelType type = PixelType::F32;
  int count = 0, height = 0, width = 0;
  // The per-frame normalization was computed by enqueueFrameStats over whole frames (tiles: a tile's own min/max
  // would differ from its frame's).
  bool statsReady = false;
  float* accum = nullptr;  // device, (height*u) x (width*u): += the batch's clamped maps, summed over frames
  bool withMaps = false;   // keep the clamped per-frame maps on the device (frameMapsDevice())
};

// A session's buffers besides its image: device frames, pinned staging, tiles, the pinned image download. The engine
// keeps them between sessions, so that many short sessions (engine.run() per chunk) do not allocate and pin host
// memory every time; one session at a time holds them, others get their own.
struct SessionBuffers {
  DeviceBuffer raw[2], prepared[2], tileFrames, tileAccum;
  PinnedBuffer staging[2];
  MappedPinnedBuffer download;
};

// What an engine gives the pipeline. All work goes on stream(), in order.
class NetworkRunner {
 public:
  virtual ~NetworkRunner() = default;
  // The pooled buffers when free, else new ones; give them back when the session ends.
  std::unique_ptr<SessionBuffers> takeSessionBuffers() {
    std::lock_guard<std::mutex> lock(poolMutex_);
    return pooled_ ? std::move(pooled_) : std::make_unique<SessionBuffers>();
  }
  void giveBackSessionBuffers(std::unique_ptr<SessionBuffers> buffers) {
    std::lock_guard<std::mutex> lock(poolMutex_);
    if (!pooled_) pooled_ = std::move(buffers);
  }
  // Engines call this in their destructor, while their device is current.
  void dropSessionBuffers() {
    std::lock_guard<std::mutex> lock(poolMutex_);
    pooled_.reset();
  }

  virtual int deviceOrdinal() const = 0;
  virtual int upsampling() const = 0;
  // E_FRAME_SIZE_UNSUPPORTED when the network cannot take frames of h x w.
  virtual void checkFrameSize(int h, int w) = 0;
  // The largest batch the runner takes at this size (the TensorRT backend builds or loads its engine here).
  virtual int maxBatch(int h, int w) = 0;
  // Device bytes one more frame of h x w costs the runner in a batch (activations, scratch, maps).
  virtual size_t bytesPerFrame(int h, int w, bool withMaps) const = 0;
  // Device bytes reserve() holds now (released before it re-reserves).
  virtual size_t heldBytes() const = 0;
  // Frame pixels of context a tile needs on each side so that its interior is exact; 0: the runner cannot tile.
  virtual int tileHalo() const = 0;
  // Tiles start and end on multiples of this (the network's size multiple: pooling windows stay aligned).
  virtual int tileAlignment() const = 0;
  // Makes room for batches of up to `batch` frames of h x w; throws DeviceOutOfMemory (the pipeline then halves).
  virtual void reserve(int batch, int h, int w, bool withMaps) = 0;
  virtual void releaseActivations() = 0;
  virtual cudaStream_t stream() const = 0;
  // Per-frame normalization of `count` whole frames, used by the next enqueue with statsReady (tileHalo() > 0 only).
  virtual void enqueueFrameStats(const void* frames, PixelType type, int count, int h, int w) = 0;
  virtual void enqueue(const NetworkBatch& batch) = 0;
  // The last batch's clamped maps, batch x (h*u) x (w*u), when it ran withMaps.
  virtual float* frameMapsDevice() const = 0;
  // Milliseconds spent tuning kernels (a shape's first batch) since the last call; the pipeline takes them out of
  // the kernel time it reports, so that RunStats::deviceMs stays the network's own time.
  virtual double takeTuningMs() { return 0; }

 private:
  std::mutex poolMutex_;
  std::unique_ptr<SessionBuffers> pooled_;
};

// Opens a session over `runner` (which must outlive it). Throws EngineError (E_BAD_OPTIONS, E_FRAME_SIZE_UNSUPPORTED,
// E_GPU_OUT_OF_MEMORY, E_GPU).
std::unique_ptr<Session> openPipelineSession(NetworkRunner& runner, const SessionOptions& options);

// Memory cap for tests and small GPUs: SMLM_RT_GPU_MEMORY_BUDGET (bytes), 0 when unset or unreadable.
size_t memoryBudgetFromEnvironment();

}  // namespace smlmrt
