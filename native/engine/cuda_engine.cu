// smlm-rt's own CUDA engine: executes a Plan (lib/engine/plan.ts) with the kernels of native/kernels/.
//
// Per batch: frame statistics -> first conv on the raw frames (normalization fused) -> tensor-core convs (pooling,
// phases and channel slices fused) -> head (1x1 conv, depth-to-space, clamp, sum into the FP32 image). The engine is
// a client of the session pipeline (pipeline.h): the pipeline stages and uploads frames, owns the image on the device
// and picks batch and tiles; the engine runs the network on the frames it is given. Each (batch, frame size) shape is
// run eagerly once (tuning the conv tile configurations on that batch's real activations), then captured as a CUDA
// graph and replayed.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include "common_kernels.h"
#include "cuda_check.h"
#include "engine.h"
#include "memory_plan.h"
#include "pipeline.h"
#include "tactic_cache.h"
#include "../kernels/kernels.h"

#ifndef SMLMRT_VERSION
#define SMLMRT_VERSION "0.1.0"
#endif

namespace smlmrt {
namespace {

[[noreturn]] void invalidPlan(const std::string& what) { throw EngineError("E_MODEL_INVALID", "plan: " + what); }

// ---- Plan preparation: validated once at engine creation ----

struct PreparedConv {
  const ConvOp* op = nullptr;
  int inputBuffer = -1;   // index into Plan::buffers; -1 for the raw frame
  int outputBuffer = -1;
  bool fromFrame = false;
  bool tensorCores = false;              // channel counts and views fit the fp16 tensor-core path
  std::vector<size_t> phaseHalfOffsets;  // per phase, into the engine's fp16 weight blob (8-aligned)
  size_t framePhaseTable = 0;            // fromFrame: index into the device FramePhaseArgs array
};

struct BufferDims {
  int h = 0, w = 0;
};

int bufferIndex(const Plan& plan, int id, const std::string& where) {
  for (size_t i = 0; i < plan.buffers.size(); ++i)
    if (plan.buffers[i].id == id) return static_cast<int>(i);
  invalidPlan(where + ": unknown buffer " + std::to_string(id));
}

void checkView(const Plan& plan, const PlanView& v, int channels, const std::string& where) {
  const int b = bufferIndex(plan, v.buffer, where);
  if (v.channels != channels || v.channelOffset < 0 || v.channelOffset + v.channels > plan.buffers[b].channels)
    invalidPlan(where + ": view outside its buffer or of the wrong width");
}

void checkRange(const Plan& plan, size_t offset, size_t count, const std::string& where) {
  if (offset > plan.weights.size() || count > plan.weights.size() - offset) invalidPlan(where + ": weights out of range");
}

// Scaled size of a buffer for a frame of h x w; false when not integral.
bool scaledDims(const PlanBuffer& b, int h, int w, BufferDims* out) {
  const long long hh = static_cast<long long>(h) * b.scaleNum, ww = static_cast<long long>(w) * b.scaleNum;
  if (hh % b.scaleDen || ww % b.scaleDen) return false;
  out->h = static_cast<int>(hh / b.scaleDen);
  out->w = static_cast<int>(ww / b.scaleDen);
  return true;
}

// A captured graph bakes in its pointers: the frames and image it reads and writes are part of its key.
struct ShapeKey {
  int batch, h, w, type, maps, statsReady;
  uintptr_t frames, accum;
  bool operator<(const ShapeKey& o) const {
    return std::tie(batch, h, w, type, maps, statsReady, frames, accum) <
           std::tie(o.batch, o.h, o.w, o.type, o.maps, o.statsReady, o.frames, o.accum);
  }
};

class CudaEngine final : public Engine, public NetworkRunner {
 public:
  CudaEngine(const Plan& plan, const EngineOptions& options) : plan_(plan), options_(options), cache_(options.cacheDir) {
    if (!options.fp16) throw EngineError("E_BAD_OPTIONS", "the cuda engine computes in FP16 only (fp16: true)");
    if (options.maxBatch < 1) throw EngineError("E_BAD_OPTIONS", "maxBatch must be at least 1");
    validateAndPrepare();
    int count = 0;
    checkCuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (options.device < 0 || options.device >= count)
      throw EngineError("E_BAD_OPTIONS", "CUDA device " + std::to_string(options.device) + " does not exist");
    checkCuda(cudaSetDevice(options.device), "cudaSetDevice");
    cudaDeviceProp prop{};
    checkCuda(cudaGetDeviceProperties(&prop, options.device), "cudaGetDeviceProperties");
    gpuName_ = std::string(prop.name) + " sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
    poison_ = std::getenv("SMLM_RT_DEBUG_POISON") != nullptr;
    try {
      checkCuda(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking), "cudaStreamCreate");
      uploadWeights();
    } catch (...) {
      release();
      throw;
    }
  }

  ~CudaEngine() override { release(); }

  std::string describe() const override {
    std::ostringstream s;
    s << "smlm-rt cuda engine " << SMLMRT_VERSION << " on " << gpuName_ << ", fp16 tensor cores (mma.sync), "
      << layers_.size() << " convs + " << (localization() ? "localization head (rendered on the GPU)" : "head")
      << (fusedHead_ ? " (head fused into the last conv)" : "");
    if (!lastTactics_.empty()) {
      s << "; kernels:";
      for (size_t i = 0; i < layers_.size(); ++i) {
        s << " " << layers_[i].op->name << "=" << lastTactics_[i];
        if (i < lastTuneMs_.size() && lastTuneMs_[i] >= 0) s << "(" << lastTuneMs_[i] << " ms)";
      }
      if (!lastTuneShape_.empty()) s << " [tuned at " << lastTuneShape_ << "]";
    }
    return s.str();
  }

  std::unique_ptr<Session> openSession(const SessionOptions& options) override { return openPipelineSession(*this, options); }

  // ---------------- NetworkRunner ----------------
  int deviceOrdinal() const override { return options_.device; }
  int upsampling() const override { return plan_.upsampling; }
  void checkFrameSize(int h, int w) override { checkFrameSizeConst(h, w); }
  int maxBatch(int, int) override { return options_.maxBatch; }
  size_t bytesPerFrame(int h, int w, bool withMaps) const override {
    const size_t outPixels = static_cast<size_t>(h) * w * plan_.upsampling * plan_.upsampling;
    return activationBytesPerFrame(h, w) + detectionBytesPerFrame(h, w) + (withMaps || fusedHead_ ? outPixels * sizeof(float) : 0) +
           sizeof(FrameAffine) + 64;
  }
  size_t heldBytes() const override { return allocatedBytes_; }
  int tileHalo() const override { return tileHalo_; }
  int tileAlignment() const override { return plan_.sizeMultiple; }
  void reserve(int batch, int h, int w, bool withMaps) override { ensureCapacity(batch, h, w, withMaps); }
  void releaseActivations() override {
    cudaStreamSynchronize(compute_);
    freeActivations();
  }
  cudaStream_t stream() const override { return compute_; }
  void enqueueFrameStats(const void* frames, PixelType type, int count, int h, int w) override {
    launchFrameAffine(frames, type, count, h, w, plan_.normMean, plan_.normStd, affine_, compute_);
  }
  void enqueue(const NetworkBatch& b) override {
    if (b.count > capBatch_ || b.height != capH_ || b.width != capW_ || (b.withMaps && mapsCapacity_ < b.count))
      throw EngineError("E_GPU", "internal: a batch larger than the engine reserved");
    computeBatch(b);
  }
  float* frameMapsDevice() const override { return maps_; }
  double takeTuningMs() override { return std::exchange(tuningMs_, 0.0); }

 private:
  // ---------------- preparation ----------------
  void validateAndPrepare() {
    if (plan_.upsampling < 1 || plan_.sizeMultiple < 1 || plan_.minSize < 1) invalidPlan("bad sizes");
    if (!(plan_.normStd > 0.f)) invalidPlan("normalization std must be > 0");
    for (size_t i = 0; i < plan_.buffers.size(); ++i) {
      const PlanBuffer& b = plan_.buffers[i];
      if (b.id == 0) invalidPlan("buffer 0 is the raw frame and must not be declared");
      if (b.channels < 1 || b.scaleNum < 1 || b.scaleDen < 1) invalidPlan("buffer " + std::to_string(b.id) + " has bad shape");
      for (size_t j = 0; j < i; ++j)
        if (plan_.buffers[j].id == b.id) invalidPlan("duplicate buffer id " + std::to_string(b.id));
    }
    if (plan_.convs.empty()) invalidPlan("no convolutions");
    std::vector<FramePhaseArgs> framePhases;
    for (const ConvOp& op : plan_.convs) {
      const std::string where = "conv " + op.name;
      PreparedConv pc;
      pc.op = &op;
      if (op.cin < 1 || op.cout < 1 || op.upsample < 1) invalidPlan(where + ": bad channel counts or upsample");
      pc.fromFrame = op.transform == InputTransform::Frame;
      if (pc.fromFrame) {
        if (op.cin != 1) invalidPlan(where + ": a conv on the raw frame has one input channel");
      } else {
        checkView(plan_, op.input, op.cin, where + " input");
        pc.inputBuffer = bufferIndex(plan_, op.input.buffer, where);
      }
      checkView(plan_, op.output, op.cout, where + " output");
      pc.outputBuffer = bufferIndex(plan_, op.output.buffer, where);
      checkRange(plan_, op.biasOffset, op.cout, where + " bias");
      // Every output phase exactly once, or some output pixels would never be written.
      const int u = op.upsample;
      if (static_cast<int>(op.phases.size()) != u * u) invalidPlan(where + ": needs upsample^2 phases");
      std::vector<int> seen(u * u, 0);
      for (const ConvPhase& p : op.phases) {
        if (p.phaseY < 0 || p.phaseY >= u || p.phaseX < 0 || p.phaseX >= u || seen[p.phaseY * u + p.phaseX]++)
          invalidPlan(where + ": phases must cover each output phase once");
        if (p.kh < 1 || p.kw < 1 || p.kh > 64 || p.kw > 64) invalidPlan(where + ": bad kernel size");
        checkRange(plan_, p.weightOffset, static_cast<size_t>(op.cout) * p.kh * p.kw * op.cin, where + " weights");
        if (pc.fromFrame && p.kh * p.kw > 16) invalidPlan(where + ": frame conv phases are limited to 16 taps");
      }
      if (pc.fromFrame) {
        pc.framePhaseTable = framePhases.size();
        framePhases.resize(framePhases.size() + u * u);
        for (const ConvPhase& p : op.phases) {
          if (p.weightOffset > 0x7fffffffu) invalidPlan(where + ": weights too far into the blob");
          framePhases[pc.framePhaseTable + p.phaseY * u + p.phaseX] =
              FramePhaseArgs{p.kh, p.kw, p.padTop, p.padLeft, static_cast<int>(p.weightOffset)};
        }
      }
      layers_.push_back(pc);
    }
    const HeadOp& head = plan_.head;
    checkView(plan_, head.input, head.cin, "head input");
    headBuffer_ = bufferIndex(plan_, head.input.buffer, "head");
    if (localization()) {
      // Raw p, dx, dy rows of every cell at camera resolution (and sx, sy with predicted widths); the ranges are the
      // metadata's (lib/model/head.ts).
      if ((head.grid != 1 && head.grid != 2 && head.grid != 4 && head.grid != 8) || plan_.upsampling % head.grid != 0)
        invalidPlan("localization head grid must be 1, 2, 4 or 8 and divide the upsampling");
      const size_t rows = static_cast<size_t>(localizationHeadRows(head.grid, head.predictedSigma));
      checkRange(plan_, head.weightOffset, rows * head.cin, "localization head weights");
      checkRange(plan_, head.biasOffset, rows, "localization head bias");
      const PlanBuffer& in = plan_.buffers[headBuffer_];
      if (in.scaleNum != 1 || in.scaleDen != 1) invalidPlan("the localization head must read camera-resolution features");
      if (!(head.maxOffset > 0.f && head.maxOffset <= 2.f) || !(head.renderSigma >= 0.f && head.renderSigma <= 4.f) ||
          head.renderRadius < 0 || head.renderRadius > 8 || !(head.minProbability >= 0.f && head.minProbability < 1.f))
        invalidPlan("localization head render settings out of range");
      if (head.predictedSigma && !(head.sigmaMin > 0.f && head.sigmaMin <= head.sigmaMax && head.sigmaMax <= 4.f))
        invalidPlan("localization head predicted width range must satisfy 0 < min <= max <= 4");
    } else {
      if (head.upscale < 1) invalidPlan("head upscale must be >= 1");
      checkRange(plan_, head.weightOffset, static_cast<size_t>(head.upscale) * head.upscale * head.cin, "head weights");
      checkRange(plan_, head.biasOffset, static_cast<size_t>(head.upscale) * head.upscale, "head bias");
    }
    // Lifetimes for memory sharing: op i < convs.size() is conv i, the head is last.
    const int opCount = static_cast<int>(layers_.size()) + 1;
    lifetimes_.assign(plan_.buffers.size(), BufferLifetime{0, opCount, -1});
    auto touch = [&](int b, int op) {
      lifetimes_[b].firstOp = std::min(lifetimes_[b].firstOp, op);
      lifetimes_[b].lastOp = std::max(lifetimes_[b].lastOp, op);
    };
    for (size_t i = 0; i < layers_.size(); ++i) {
      if (layers_[i].inputBuffer >= 0) touch(layers_[i].inputBuffer, static_cast<int>(i));
      touch(layers_[i].outputBuffer, static_cast<int>(i));
    }
    touch(headBuffer_, opCount - 1);
    for (auto& l : lifetimes_)
      if (l.lastOp < l.firstOp) l.firstOp = l.lastOp = 0;  // declared, never used: give it a slot anyway
    framePhaseHost_ = std::move(framePhases);
    tileHalo_ = computeTileHalo();
  }

  // How far (in frame pixels) an output pixel's value reaches into its frame: each conv adds its kernel radius times
  // the frame pixels per pixel of the grid it reads (pooled levels count more), the localization head its rendering
  // window; plus one pixel, rounded up to the size multiple so that tiles keep the pooling windows aligned. A tile
  // with this much context on each side computes its interior as the whole frame would.
  int computeTileHalo() const {
    double reach = 0;
    for (const PreparedConv& pc : layers_) {
      int radius = 0;
      for (const ConvPhase& p : pc.op->phases)
        radius = std::max({radius, p.padTop, p.kh - 1 - p.padTop, p.padLeft, p.kw - 1 - p.padLeft});
      double pixelsPerCell = 1.0;
      if (!pc.fromFrame) {
        const PlanBuffer& in = plan_.buffers[pc.inputBuffer];
        pixelsPerCell = static_cast<double>(in.scaleDen) / in.scaleNum;
      }
      if (pc.op->transform == InputTransform::MaxPool2) pixelsPerCell *= 2;
      reach += radius * pixelsPerCell;
    }
    if (localization()) reach += std::ceil(static_cast<double>(plan_.head.renderRadius) / plan_.upsampling) + 1;
    const int m = std::max(1, plan_.sizeMultiple);
    const int halo = static_cast<int>(std::ceil(reach)) + 1;
    return (halo + m - 1) / m * m;
  }

  void uploadWeights() {
    // fp32 blob as given (biases, head, frame conv) and a packed fp16 blob of the tensor-core/generic conv weights,
    // each phase starting at a multiple of 8 halves so that every weight row is 16-byte aligned.
    std::vector<__half> halves;
    for (PreparedConv& pc : layers_) {
      if (pc.fromFrame) continue;
      const ConvOp& op = *pc.op;
      for (const ConvPhase& p : op.phases) {
        const size_t count = static_cast<size_t>(op.cout) * p.kh * p.kw * op.cin;
        pc.phaseHalfOffsets.push_back(halves.size());
        for (size_t i = 0; i < count; ++i) halves.push_back(__float2half_rn(plan_.weights[p.weightOffset + i]));
        while (halves.size() % 8) halves.push_back(__float2half_rn(0.f));
      }
      pc.tensorCores = probeArgs(pc).cin > 0 && convTcSupports(probeArgs(pc));
    }
    decideHeadFusion();
    checkCuda(cudaMalloc(&weightsF32_, std::max<size_t>(1, plan_.weights.size()) * sizeof(float)), "cudaMalloc weights");
    checkCuda(cudaMemcpy(weightsF32_, plan_.weights.data(), plan_.weights.size() * sizeof(float), cudaMemcpyHostToDevice),
              "upload weights");
    checkCuda(cudaMalloc(&weightsF16_, std::max<size_t>(1, halves.size()) * sizeof(__half)), "cudaMalloc weights");
    checkCuda(cudaMemcpy(weightsF16_, halves.data(), halves.size() * sizeof(__half), cudaMemcpyHostToDevice),
              "upload weights");
    checkCuda(cudaMalloc(&framePhases_, std::max<size_t>(1, framePhaseHost_.size()) * sizeof(FramePhaseArgs)),
              "cudaMalloc phases");
    checkCuda(cudaMemcpy(framePhases_, framePhaseHost_.data(), framePhaseHost_.size() * sizeof(FramePhaseArgs),
                         cudaMemcpyHostToDevice),
              "upload phases");
  }

  // Deep-STORM's head (1x1, one output, s = 1) can run in the last conv's epilogue: the 32-channel activations it
  // reads (16 MB per 64x64 frame, written then read again) become one FP32 value per pixel (1 MB), summed over the
  // frames by the clamp-sum kernel. Only when the head's input is exactly that conv's output and nothing else uses it.
  void decideHeadFusion() {
    fusedHead_ = false;
    if (std::getenv("SMLM_RT_NO_HEAD_FUSION")) return;
    const HeadOp& head = plan_.head;
    const PreparedConv& last = layers_.back();
    if (localization()) return;  // its epilogue would have to render, not reduce
    if (head.upscale != 1 || last.outputBuffer != headBuffer_ || !last.tensorCores || last.fromFrame) return;
    if (head.input.channelOffset != 0 || head.cin != plan_.buffers[headBuffer_].channels || last.op->output.channelOffset != 0 ||
        last.op->cout != head.cin || head.cin > 32)
      return;
    for (size_t i = 0; i + 1 < layers_.size(); ++i)
      if (layers_[i].inputBuffer == headBuffer_ || layers_[i].outputBuffer == headBuffer_) return;
    fusedHead_ = true;
  }

  // Channel/alignment facts of a conv, independent of the frame size (for the fast-path decision).
  ConvArgs probeArgs(const PreparedConv& pc) const {
    ConvArgs a{};
    const ConvOp& op = *pc.op;
    a.cin = op.cin;
    a.cout = op.cout;
    a.inC = plan_.buffers[pc.inputBuffer].channels;
    a.inOff = op.input.channelOffset;
    a.outC = plan_.buffers[pc.outputBuffer].channels;
    a.outOff = op.output.channelOffset;
    a.phaseCount = 1;
    for (const ConvPhase& p : op.phases) {
      a.maxKh = std::max(a.maxKh, p.kh);
      a.maxKw = std::max(a.maxKw, p.kw);
    }
    return a;
  }

  // ---------------- memory ----------------
  size_t activationBytesPerFrame(int h, int w) const {
    std::vector<BufferLifetime> sized = lifetimes_;
    for (size_t i = 0; i < sized.size(); ++i) {
      BufferDims d;
      scaledDims(plan_.buffers[i], h, w, &d);
      sized[i].bytes = static_cast<size_t>(d.h) * d.w * plan_.buffers[i].channels * sizeof(__half);
      if (fusedHead_ && static_cast<int>(i) == headBuffer_) sized[i].bytes = 0;  // never materialized
    }
    return planArena(sized).totalBytes;
  }

  // The localization head's decoded detections (p, muX, muY and two window normalizers per detection cell, and the
  // two widths when they are predicted).
  size_t detectionBytesPerFrame(int h, int w) const {
    const size_t cells = static_cast<size_t>(plan_.head.grid) * plan_.head.grid;
    const size_t planes = static_cast<size_t>(localizationDetectionPlanes(plan_.head.predictedSigma));
    return localization() ? planes * cells * h * w * sizeof(float) : 0;
  }

  void ensureCapacity(int batch, int h, int w, bool withMaps) {
    const bool sameShape = h == capH_ && w == capW_;
    if (sameShape && batch <= capBatch_ && (!withMaps || mapsCapacity_ >= batch)) return;
    freeActivations();
    std::vector<BufferLifetime> sized = lifetimes_;
    dims_.assign(plan_.buffers.size(), BufferDims{});
    for (size_t i = 0; i < sized.size(); ++i) {
      scaledDims(plan_.buffers[i], h, w, &dims_[i]);
      sized[i].bytes = static_cast<size_t>(batch) * dims_[i].h * dims_[i].w * plan_.buffers[i].channels * sizeof(__half);
      if (fusedHead_ && static_cast<int>(i) == headBuffer_) sized[i].bytes = 0;  // never materialized
    }
    const ArenaLayout layout = planArena(sized);
    arenaBytes_ = layout.totalBytes;
    deviceAlloc(&arena_, arenaBytes_, "cudaMalloc activations");
    bufferPtr_.assign(plan_.buffers.size(), nullptr);
    for (size_t i = 0; i < sized.size(); ++i) bufferPtr_[i] = reinterpret_cast<__half*>(static_cast<char*>(arena_) + layout.offsets[i]);
    deviceAlloc(reinterpret_cast<void**>(&affine_), batch * sizeof(FrameAffine), "cudaMalloc frame stats");
    const size_t outPixels = static_cast<size_t>(h) * w * plan_.upsampling * plan_.upsampling;
    if (localization()) deviceAlloc(reinterpret_cast<void**>(&detections_), batch * detectionBytesPerFrame(h, w), "cudaMalloc detections");
    if (withMaps || fusedHead_) {
      deviceAlloc(reinterpret_cast<void**>(&maps_), static_cast<size_t>(batch) * outPixels * sizeof(float), "cudaMalloc maps");
      mapsCapacity_ = batch;
    }
    capBatch_ = batch;
    capH_ = h;
    capW_ = w;
  }

  // Frees a device pointer and forgets it, so that release paths can run more than once.
  template <typename T>
  static void freeDevice(T*& p) {
    cudaFree(p);
    p = nullptr;
  }

  void deviceAlloc(void** p, size_t bytes, const char* where) {
    checkCuda(cudaMalloc(p, std::max<size_t>(bytes, 16)), where);
    allocatedBytes_ += bytes;
  }

  void freeActivations() {
    for (auto& g : graphs_) cudaGraphExecDestroy(g.second);
    graphs_.clear();
    freeDevice(arena_);
    freeDevice(affine_);
    freeDevice(detections_);
    freeDevice(maps_);
    mapsCapacity_ = 0;
    capBatch_ = capH_ = capW_ = 0;
    allocatedBytes_ = 0;
    cudaGetLastError();
  }

  void release() {
    if (compute_) cudaStreamSynchronize(compute_);
    dropSessionBuffers();
    freeActivations();
    freeDevice(weightsF32_);
    freeDevice(weightsF16_);
    freeDevice(framePhases_);
    if (compute_) cudaStreamDestroy(compute_);
    compute_ = nullptr;
    cudaGetLastError();
  }

  // ---------------- requests ----------------
  void checkFrameSizeConst(int height, int width) const {
    struct {
      int height, width;
    } r{height, width};
    const int m = plan_.sizeMultiple;
    if (r.height < plan_.minSize || r.width < plan_.minSize || r.height % m || r.width % m) {
      throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "frames of " + std::to_string(r.width) + "x" + std::to_string(r.height) +
                                                        " px: this model needs width and height that are multiples of " +
                                                        std::to_string(m) + " and at least " + std::to_string(plan_.minSize));
    }
    BufferDims d;
    for (const PlanBuffer& b : plan_.buffers)
      if (!scaledDims(b, r.height, r.width, &d) || d.h < 1 || d.w < 1)
        throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "frame size does not divide evenly through the network");
    // Every conv's output grid must be exactly upsample x its input grid, and the head must produce the image.
    for (const PreparedConv& pc : layers_) {
      BufferDims in{r.height, r.width}, out = dimsOf(pc.outputBuffer, r.height, r.width);
      if (!pc.fromFrame) in = dimsOf(pc.inputBuffer, r.height, r.width);
      if (pc.op->transform == InputTransform::MaxPool2) in = BufferDims{in.h / 2, in.w / 2};
      if (out.h != in.h * pc.op->upsample || out.w != in.w * pc.op->upsample || in.h < 1 || in.w < 1)
        throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "conv " + pc.op->name + ": grid sizes disagree at this frame size");
    }
    const BufferDims hd = dimsOf(headBuffer_, r.height, r.width);
    if (localization()) {
      if (hd.h != r.height || hd.w != r.width)
        throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "the localization head does not read camera-resolution features at this frame size");
      return;
    }
    if (hd.h * plan_.head.upscale != r.height * plan_.upsampling || hd.w * plan_.head.upscale != r.width * plan_.upsampling)
      throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "the head does not produce the output grid at this frame size");
  }

  BufferDims dimsOf(int buffer, int h, int w) const {
    BufferDims d;
    scaledDims(plan_.buffers[buffer], h, w, &d);
    return d;
  }

  // ---------------- execution ----------------
  ConvArgs convArgs(const PreparedConv& pc, int batch) const {
    ConvArgs a = probeArgs(pc);
    const ConvOp& op = *pc.op;
    const BufferDims in = dims_[pc.inputBuffer], out = dims_[pc.outputBuffer];
    a.in = bufferPtr_[pc.inputBuffer];
    a.inH = in.h;
    a.inW = in.w;
    a.pool = op.transform == InputTransform::MaxPool2;
    a.gridH = a.pool ? in.h / 2 : in.h;
    a.gridW = a.pool ? in.w / 2 : in.w;
    a.batch = batch;
    a.out = bufferPtr_[pc.outputBuffer];
    a.outH = out.h;
    a.outW = out.w;
    a.upsample = op.upsample;
    a.bias = weightsF32_ + op.biasOffset;
    a.relu = op.relu;
    a.phaseCount = 0;
    if (fusedHead_ && &pc == &layers_.back()) {
      a.headWeights = weightsF32_ + plan_.head.weightOffset;
      a.headBias = plan_.weights[plan_.head.biasOffset];
      a.headMaps = maps_;
    }
    return a;
  }

  // Launches one conv, phases in groups of kMaxPhasesPerLaunch.
  void launchConv(const PreparedConv& pc, int batch, int tactic, cudaStream_t stream) {
    ConvArgs a = convArgs(pc, batch);
    const ConvOp& op = *pc.op;
    for (size_t first = 0; first < op.phases.size(); first += kMaxPhasesPerLaunch) {
      a.phaseCount = 0;
      for (size_t i = first; i < op.phases.size() && a.phaseCount < kMaxPhasesPerLaunch; ++i) {
        const ConvPhase& p = op.phases[i];
        a.phases[a.phaseCount++] =
            ConvPhaseArgs{p.phaseY, p.phaseX, p.kh, p.kw, p.padTop, p.padLeft, weightsF16_ + pc.phaseHalfOffsets[i]};
      }
      if (tactic >= 0) {
        launchConvTc(tactic, a, stream);
      } else {
        launchConvGeneric(a, stream);
      }
    }
  }

  void launchFrameLayer(const PreparedConv& pc, const NetworkBatch& b, cudaStream_t stream) {
    FrameConvArgs f{};
    f.raw = b.frames;
    f.type = b.type;
    f.affine = affine_;
    f.batch = b.count;
    f.height = b.height;
    f.width = b.width;
    f.cout = pc.op->cout;
    f.upsample = pc.op->upsample;
    f.phases = framePhases_ + pc.framePhaseTable;
    f.maxTaps = 1;
    for (const ConvPhase& p : pc.op->phases) f.maxTaps = std::max(f.maxTaps, p.kh * p.kw);
    f.weights = weightsF32_;
    f.bias = weightsF32_ + pc.op->biasOffset;
    f.relu = pc.op->relu;
    f.out = bufferPtr_[pc.outputBuffer];
    f.outC = plan_.buffers[pc.outputBuffer].channels;
    f.outOff = pc.op->output.channelOffset;
    launchFrameConv(f, stream);
  }

  // The fields both heads share: the head's input buffer, its 1x1 conv's weights, the image and the optional maps.
  void fillHeadInput(HeadInput& a, int batch, bool withMaps, float* accum) const {
    const HeadOp& head = plan_.head;
    a.in = bufferPtr_[headBuffer_];
    a.inH = dims_[headBuffer_].h;
    a.inW = dims_[headBuffer_].w;
    a.inC = plan_.buffers[headBuffer_].channels;
    a.inOff = head.input.channelOffset;
    a.cin = head.cin;
    a.batch = batch;
    a.weights = weightsF32_ + head.weightOffset;
    a.bias = weightsF32_ + head.biasOffset;
    a.accum = accum;
    a.maps = withMaps ? maps_ : nullptr;
  }

  void launchHeadLayer(int batch, bool withMaps, float* accum, cudaStream_t stream) {
    HeadArgs a{};
    fillHeadInput(a, batch, withMaps, accum);
    a.upscale = plan_.head.upscale;
    launchHead(a, stream);
  }

  void launchLocalizationLayer(int batch, bool withMaps, float* accum, cudaStream_t stream) {
    const HeadOp& head = plan_.head;
    LocalizationHeadArgs a{};
    fillHeadInput(a, batch, withMaps, accum);
    a.upsampling = plan_.upsampling;
    a.grid = head.grid;
    a.maxOffset = head.maxOffset;
    a.sigma = head.renderSigma;
    a.predictedSigma = head.predictedSigma;
    a.sigmaMin = head.sigmaMin;
    a.sigmaMax = head.sigmaMax;
    a.radius = head.renderRadius;
    a.minProbability = head.minProbability;
    a.detections = detections_;
    launchLocalizationHead(a, stream);
  }

  bool localization() const { return plan_.head.kind == HeadKind::Localization; }

  // The whole network for one batch, on `stream` (eager or under graph capture).
  // includeHead = false: everything but the accumulation into the image (a warm-up pass that gives tuning real data).
  // statsReady: the frames' normalization was computed on whole frames (tiles) by enqueueFrameStats.
  void enqueueNetwork(const NetworkBatch& b, const std::vector<int>& tactics, cudaStream_t stream, bool includeHead = true) {
    const int batch = b.count;
    const bool withMaps = b.withMaps;
    if (poison_) checkCuda(cudaMemsetAsync(arena_, 0xff, arenaBytes_, stream), "poison activations");
    if (!b.statsReady) launchFrameAffine(b.frames, b.type, batch, b.height, b.width, plan_.normMean, plan_.normStd, affine_, stream);
    for (size_t i = 0; i < layers_.size(); ++i) {
      const PreparedConv& pc = layers_[i];
      if (pc.fromFrame) {
        launchFrameLayer(pc, b, stream);
      } else {
        launchConv(pc, batch, tactics[i], stream);
      }
    }
    if (!includeHead) return;
    if (fusedHead_) {
      // The last conv left raw FP32 maps in maps_: clamp, sum over the batch, and keep the clamped maps if asked.
      const HeadOp& head = plan_.head;
      const int outPixels = dims_[headBuffer_].h * head.upscale * dims_[headBuffer_].w * head.upscale;
      launchClampSumMaps(maps_, batch, outPixels, b.accum, withMaps ? maps_ : nullptr, stream);
    } else if (localization()) {
      launchLocalizationLayer(batch, withMaps, b.accum, stream);
    } else {
      launchHeadLayer(batch, withMaps, b.accum, stream);
    }
  }

  std::string tacticKey(int batch, int h, int w) const {
    std::ostringstream k;
    k << "v" << SMLMRT_VERSION << "|" << gpuName_ << "|" << plan_.modelHash << "|b" << batch << "h" << h << "w" << w;
    return k.str();
  }

  // A reasonable tile before (or without) tuning: as wide as the layer's output channels.
  int defaultTactic(const PreparedConv& pc) const {
    if (!pc.tensorCores) return -1;
    const int cout = pc.op->cout;
    for (int t = 0; t < convTcTacticCount(); ++t) {
      const std::string name = convTcTacticName(t);
      if (cout <= 32 && name == "tc_m128n32k32_w4_s4") return t;
      if (cout > 32 && cout <= 64 && name == "tc_m128n64k32_w4_s4") return t;
      if (cout > 64 && name == "tc_m128n128k32_w8_s4") return t;
    }
    return 0;
  }

  // Tactics for a shape: from memory or disk, else defaults plus a flag saying they should be tuned.
  std::vector<int> tacticsFor(int batch, int h, int w, bool* needsTuning) {
    const std::string key = tacticKey(batch, h, w);
    std::vector<int> chosen(layers_.size(), -1);
    const std::vector<std::string> names = cache_.find(key);
    bool complete = names.size() == layers_.size();
    for (size_t i = 0; i < layers_.size(); ++i) {
      chosen[i] = defaultTactic(layers_[i]);
      if (!complete || !layers_[i].tensorCores) continue;
      int found = -2;
      for (int t = 0; t < convTcTacticCount(); ++t)
        if (names[i] == convTcTacticName(t)) found = t;
      if (found >= 0 && convTcTacticFits(found, convArgs(layers_[i], batch))) {
        chosen[i] = found;
      } else {
        complete = false;
      }
    }
    *needsTuning = !complete && !std::getenv("SMLM_RT_NO_TUNE");
    // Testing hook: one named tactic wherever it fits (the self-test checks every tactic's results this way).
    if (const char* forced = std::getenv("SMLM_RT_FORCE_TACTIC")) {
      *needsTuning = false;
      for (size_t i = 0; i < layers_.size(); ++i) {
        if (!layers_[i].tensorCores) continue;
        chosen[i] = defaultTactic(layers_[i]);
        for (int t = 0; t < convTcTacticCount(); ++t)
          if (std::strcmp(forced, convTcTacticName(t)) == 0 && convTcTacticFits(t, convArgs(layers_[i], batch))) chosen[i] = t;
      }
    }
    return chosen;
  }

  // Times every fitting tile configuration of every tensor-core conv on the activations just computed.
  void tune(int batch, int h, int w, std::vector<int>* tactics) {
    cudaEvent_t a = nullptr, b = nullptr;
    checkCuda(cudaEventCreate(&a), "cudaEventCreate");
    checkCuda(cudaEventCreate(&b), "cudaEventCreate");
    std::vector<std::string> names(layers_.size(), "generic");
    std::vector<float> bestMs(layers_.size(), -1.f);
    for (size_t i = 0; i < layers_.size(); ++i) {
      const PreparedConv& pc = layers_[i];
      if (pc.fromFrame) {
        names[i] = "frame_direct";
        continue;
      }
      if (!pc.tensorCores) continue;
      ConvArgs probe = convArgs(pc, batch);
      float best = 1e30f;
      for (int t = 0; t < convTcTacticCount(); ++t) {
        if (!convTcTacticFits(t, probe)) continue;
        launchConv(pc, batch, t, compute_);  // warm-up
        float ms[3];
        for (float& m : ms) {
          checkCuda(cudaEventRecord(a, compute_), "cudaEventRecord");
          launchConv(pc, batch, t, compute_);
          checkCuda(cudaEventRecord(b, compute_), "cudaEventRecord");
          checkCuda(cudaEventSynchronize(b), "tuning");
          checkCuda(cudaEventElapsedTime(&m, a, b), "cudaEventElapsedTime");
        }
        std::sort(ms, ms + 3);
        if (ms[1] < best) {
          best = ms[1];
          (*tactics)[i] = t;
        }
      }
      bestMs[i] = best;
      names[i] = convTcTacticName((*tactics)[i]);
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cache_.store(tacticKey(batch, h, w), names);
    // describe() reports the largest batch tuned at the latest frame size (a run's short last batch is tuned too).
    const std::string size = std::to_string(w) + "x" + std::to_string(h);
    if (size != lastTuneSize_ || batch >= lastTuneBatch_) {
      lastTuneMs_ = bestMs;
      lastTuneBatch_ = batch;
      lastTuneSize_ = size;
      lastTuneShape_ = "batch " + std::to_string(batch) + ", " + size;
    }
  }

  // Runs one batch on compute_: replays the shape's graph, or (first time) runs eagerly, tunes and captures. The
  // clamped per-frame maps, when asked, are left in maps_ (the pipeline downloads them before the next batch).
  void computeBatch(const NetworkBatch& b) {
    const int batch = b.count, h = b.height, w = b.width;
    const ShapeKey key{batch, h, w, static_cast<int>(b.type), b.withMaps ? 1 : 0, b.statsReady ? 1 : 0,
                       reinterpret_cast<uintptr_t>(b.frames), reinterpret_cast<uintptr_t>(b.accum)};
    auto it = graphs_.find(key);
    if (it != graphs_.end()) {
      checkCuda(cudaGraphLaunch(it->second, compute_), "cudaGraphLaunch");
      return;
    }
    if (graphs_.size() >= kMaxGraphs) {
      // Sessions come and go (each has its own image): keep the graph cache bounded.
      checkCuda(cudaStreamSynchronize(compute_), "cudaStreamSynchronize");
      for (auto& g : graphs_) cudaGraphExecDestroy(g.second);
      graphs_.clear();
    }
    bool needsTuning = false;
    std::vector<int> tactics = tacticsFor(batch, h, w, &needsTuning);
    if (needsTuning) {
      // Tune on this batch's real activations *before* computing it, so that every batch of a shape, the first one
      // included, runs the same kernels: results then do not depend on whether the tactic cache was warm (tactics
      // differ in summation order, hence in FP32 rounding). Timed between two synchronizations, so that the pipeline
      // can leave it out of the batch's kernel time (takeTuningMs).
      checkCuda(cudaStreamSynchronize(compute_), "cudaStreamSynchronize");
      const auto tuneStart = std::chrono::steady_clock::now();
      enqueueNetwork(b, tactics, compute_, /*includeHead=*/false);
      tune(batch, h, w, &tactics);
      tuningMs_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tuneStart).count();
    }
    enqueueNetwork(b, tactics, compute_);
    lastTactics_.clear();
    for (size_t i = 0; i < layers_.size(); ++i)
      lastTactics_.push_back(layers_[i].fromFrame ? "frame_direct" : tactics[i] >= 0 ? convTcTacticName(tactics[i]) : "generic");
    cudaGraph_t graph = nullptr;
    checkCuda(cudaStreamBeginCapture(compute_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    try {
      enqueueNetwork(b, tactics, compute_);
    } catch (...) {
      cudaStreamEndCapture(compute_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    checkCuda(cudaStreamEndCapture(compute_, &graph), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    checkCuda(status, "cudaGraphInstantiate");
    graphs_[key] = exec;
  }

  // ---------------- state ----------------
  Plan plan_;
  EngineOptions options_;
  TacticCache cache_;
  std::string gpuName_;
  bool poison_ = false;
  bool fusedHead_ = false;
  std::vector<PreparedConv> layers_;
  int headBuffer_ = -1;
  std::vector<BufferLifetime> lifetimes_;
  std::vector<FramePhaseArgs> framePhaseHost_;
  std::vector<std::string> lastTactics_;
  std::vector<float> lastTuneMs_;  // per conv, the winning tactic's median time at the last tuning (ms), -1: untimed
  std::string lastTuneShape_, lastTuneSize_;
  int lastTuneBatch_ = 0;

  static constexpr size_t kMaxGraphs = 32;
  int tileHalo_ = 0;  // frame pixels of context a tile needs (computeTileHalo)
  double tuningMs_ = 0;  // since the last takeTuningMs()
  cudaStream_t compute_ = nullptr;
  float* weightsF32_ = nullptr;
  __half* weightsF16_ = nullptr;
  FramePhaseArgs* framePhases_ = nullptr;

  int capBatch_ = 0, capH_ = 0, capW_ = 0, mapsCapacity_ = 0;
  size_t allocatedBytes_ = 0, arenaBytes_ = 0;
  void* arena_ = nullptr;
  std::vector<__half*> bufferPtr_;
  std::vector<BufferDims> dims_;
  FrameAffine* affine_ = nullptr;
  float* detections_ = nullptr;  // localization head only: batch x 5 (7 with predicted widths) x gh x gw (g x g cells per camera pixel)
  float* maps_ = nullptr;
  std::map<ShapeKey, cudaGraphExec_t> graphs_;
};

}  // namespace

std::unique_ptr<Engine> createCudaEngine(const Plan& plan, const EngineOptions& options) {
  return std::make_unique<CudaEngine>(plan, options);
}

}  // namespace smlmrt
