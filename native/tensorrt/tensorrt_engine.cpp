// The TensorRT backend: TensorRT runs the network (built from the ONNX model by nvonnxparser), smlm-rt's own kernels
// run around it: frame normalization straight from the raw camera pixels before, clamp >= 0 and the sum over frames
// into an FP32 accumulator after, so that per-frame maps never leave the device unless the caller asks for them.
//
// The engine is built lazily, on the first run(), because its optimization profile depends on the frame size, which
// the constructor does not know. Built engines are cached on disk (see enginePath) and a later process only
// deserializes them; a frame size outside the current profile rebuilds (or loads) a profile that covers both.
#include <NvInfer.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../engine/common_kernels.h"
#include "../engine/engine.h"
#include "cuda_resources.h"
#include "file_cache.h"
#include "shape_profile.h"
#include "trt_builder.h"
#include "trt_compat.h"
#include "trt_logger.h"

namespace smlmrt {

namespace trt {
namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// "10.16.0": the TensorRT library actually loaded (it may differ in minor version from the headers compiled against).
std::string loadedLibraryVersion() {
  const int version = getInferLibVersion();
  return std::to_string(version / 10000) + "." + std::to_string((version / 100) % 100) + "." + std::to_string(version % 100);
}

std::string headerVersion() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." + std::to_string(NV_TENSORRT_PATCH);
}

size_t elementBytes(nvinfer1::DataType type) { return type == nvinfer1::DataType::kHALF ? 2 : 4; }

const char* typeName(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return "float32";
    case nvinfer1::DataType::kHALF: return "float16";
    default: return "unsupported type";
  }
}

int64_t volume(const nvinfer1::Dims& dims) {
  int64_t count = 1;
  for (int i = 0; i < dims.nbDims; ++i) count *= dims.d[i];
  return count;
}

std::string dimsText(const nvinfer1::Dims& dims) {
  std::string text = "[";
  for (int i = 0; i < dims.nbDims; ++i) text += (i ? "," : "") + std::to_string(dims.d[i]);
  return text + "]";
}

// A batch whose kernels were queued but whose completion has not been observed yet.
struct PendingBatch {
  bool active = false;
  int framesDoneAfter = 0;
};

class TensorRtEngine final : public Engine {
 public:
  TensorRtEngine(const Plan& plan, const std::vector<uint8_t>& onnx, const EngineOptions& options)
      : options_(options), model_(modelGeometryFromPlan(plan)), normMean_(plan.normMean), normStd_(plan.normStd), onnx_(onnx) {
    if (options_.maxBatch <= 0) throw EngineError("E_BAD_OPTIONS", "TensorRT: maxBatch must be at least 1");
    if (!(normStd_ > 0)) throw EngineError("E_BAD_OPTIONS", "TensorRT: the plan's normalization std must be > 0");
    modelKey_ = fileNameSafe(plan.modelHash, 16) + "-" + fingerprint64(onnx_.data(), onnx_.size());

    checkCuda(cudaSetDevice(options_.device), "cudaSetDevice");
    cudaDeviceProp properties{};
    checkCuda(cudaGetDeviceProperties(&properties, options_.device), "cudaGetDeviceProperties");
    deviceName_ = properties.name;
    computeCapability_ = std::to_string(properties.major) + std::to_string(properties.minor);
    libraryVersion_ = loadedLibraryVersion();

    stream_.create();
    for (int slot = 0; slot < 2; ++slot) {
      batchStart_[slot].create();
      batchStop_[slot].create();
    }
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    if (!runtime_) throw EngineError("E_GPU", "TensorRT: createInferRuntime failed: " + errorsOr("no message (is libnvinfer usable here?)"));
    // Fail now, not at the first run, when TensorRT cannot read the model.
    io_ = inspectOnnx(onnx_, logger_);
    if (io_.inputChannels != 1) {
      throw EngineError("E_GPU", "TensorRT: the model's input has " + std::to_string(io_.inputChannels) + " channels; smlm-rt frames have one");
    }
    setStatus("engine not built yet: it is built (or loaded from the cache) on the first run, for its frame size");
  }

  ~TensorRtEngine() override {
    // The destructor may run on the JS thread (garbage collection): make the device current and let queued work
    // finish before the members free the memory it uses. Errors cannot be reported from here.
    cudaSetDevice(options_.device);
    if (stream_.get() != nullptr) cudaStreamSynchronize(stream_.get());
    context_.reset();
    engine_.reset();
    runtime_.reset();
  }

  RunStats run(const RunRequest& request) override {
    const Clock::time_point started = Clock::now();
    validate(request);
    checkCuda(cudaSetDevice(options_.device), "cudaSetDevice");
    logger_.takeErrors();  // errors TensorRT logged without failing must not be blamed on a later call
    ensureEngineFor(request.height, request.width);

    int requested = request.batchSize > 0 ? std::min(request.batchSize, profile_.maxBatch) : profile_.maxBatch;
    if (memoryBatchCap_ > 0) requested = std::min(requested, memoryBatchCap_);  // what fitted last time
    const int batch = allocateWithRetry(std::max(1, std::min(requested, request.frameCount)), request);

    RunStats stats;
    stats.batchSize = batch;
    stats.deviceMs = execute(request, batch);
    stats.totalMs = millisecondsSince(started);
    return stats;
  }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(statusMutex_);
    std::string text = "tensorrt " + libraryVersion_ + " (compiled against " + headerVersion() + ") on " + deviceName_ + " (sm_" +
                       computeCapability_ + "); ";
    if (kStronglyTypedOnly) {
      text += std::string("strongly typed network, precision from the model (") + (io_.halfInput ? "float16" : "float32") + " ONNX); ";
    } else {
      text += options_.fp16 ? "FP16 kernels allowed (BuilderFlag::kFP16); " : "FP32 (TF32 allowed); ";
    }
    return text + status_;
  }

 private:
  // What TensorRT logged since the last failure, or `fallback` when it logged nothing.
  std::string errorsOr(const char* fallback) {
    std::string errors = logger_.takeErrors();
    return errors.empty() ? std::string(fallback) : errors;
  }

  void setStatus(const std::string& status) {
    std::lock_guard<std::mutex> lock(statusMutex_);
    status_ = status;
  }

  // Caller mistakes get the same codes as from the CUDA engine; everything TensorRT or CUDA refuses is E_GPU.
  void validate(const RunRequest& request) const {
    if (request.frames == nullptr || request.image == nullptr) throw EngineError("E_BAD_OPTIONS", "TensorRT: run() needs frames and an image");
    if (request.frameCount <= 0) throw EngineError("E_EMPTY_STACK", "TensorRT: run() was given no frames");
    const std::string problem = frameSizeProblem(model_, request.height, request.width);
    if (!problem.empty()) throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "TensorRT: " + problem);
    // The kernels index one output map with int.
    const double mapPixels = static_cast<double>(request.height) * request.width * model_.upsampling * model_.upsampling;
    if (mapPixels > 2147483647.0) throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "TensorRT: frames this large give output maps over 2^31 pixels");
  }

  // ---- The TensorRT engine for a frame size ----

  std::string cacheDirectory() const { return options_.cacheDir.empty() ? "" : options_.cacheDir + "/tensorrt"; }

  // "trt10.16.0-sm90-NVIDIA_H100_80GB_HBM3": TensorRT's engines and timing results belong to one TensorRT version
  // and, strictly, one GPU model (the compute capability alone would let an H100 PCIe reuse an H100 SXM's engine).
  std::string gpuKey() const { return "trt" + libraryVersion_ + "-sm" + computeCapability_ + "-" + fileNameSafe(deviceName_, 48); }

  // Timing results are not specific to the model.
  std::string timingCachePath() const {
    const std::string dir = cacheDirectory();
    return dir.empty() ? "" : dir + "/timing-" + gpuKey() + ".cache";
  }

  // A serialized engine only runs with the TensorRT version and GPU it was built with, for the model, precision and
  // profile it was built for, hence every part of the name.
  std::string enginePath(const ShapeProfile& profile) const {
    const std::string dir = cacheDirectory();
    if (dir.empty()) return "";
    const std::string precision = options_.fp16 ? "fp16" : "fp32";
    return dir + "/" + modelKey_ + "-" + gpuKey() + "-" + precision + "-" + profile.key() + ".engine";
  }

  void ensureEngineFor(int height, int width) {
    if (context_ && profile_.covers(height, width)) return;
    const ShapeProfile profile = chooseProfile(model_, options_.maxBatch, height, width, context_ ? &profile_ : nullptr);

    // The old engine's memory goes first: two engines of a large model may not fit together.
    checkCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
    releaseBatchBuffers();
    context_.reset();
    engine_.reset();
    memoryBatchCap_ = 0;

    const std::string path = enginePath(profile);
    std::string origin;
    if (!path.empty()) {
      if (auto cached = readWholeFile(path)) {
        engine_.reset(runtime_->deserializeCudaEngine(cached->data(), cached->size()));
        // An unreadable file (another TensorRT build, truncated by a crash) is only a cache miss: rebuild below.
        if (engine_) origin = "engine loaded from " + path;
        logger_.takeErrors();
      }
    }
    if (!engine_) {
      BuildRequest build;
      build.onnx = &onnx_;
      build.profile = profile;
      build.fp16 = options_.fp16;
      build.timingCachePath = timingCachePath();
      build.stream = stream_.get();
      const Clock::time_point started = Clock::now();
      const std::vector<char> serialized = buildSerializedEngine(build, logger_);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", millisecondsSince(started) / 1000.0);
      origin = std::string("engine built in ") + seconds + " s";
      if (!path.empty()) origin += writeFileAtomically(path, serialized.data(), serialized.size()) ? ", cached in " + path : ", NOT cached (cannot write " + path + ")";
      engine_.reset(runtime_->deserializeCudaEngine(serialized.data(), serialized.size()));
      if (!engine_) throw EngineError("E_GPU", "TensorRT: the freshly built engine could not be deserialized: " + errorsOr("no message"));
    }

    inputType_ = engine_->getTensorDataType(io_.inputName.c_str());
    outputType_ = engine_->getTensorDataType(io_.outputName.c_str());
    for (nvinfer1::DataType type : {inputType_, outputType_}) {
      if (type != nvinfer1::DataType::kFLOAT && type != nvinfer1::DataType::kHALF) {
        throw EngineError("E_GPU", std::string("TensorRT: the engine's input/output must be float32 or float16, not ") + typeName(type));
      }
    }
    // User-managed scratch memory: sized for the shapes actually run (updateDeviceMemorySizeForShapes), not for the
    // profile's maximum, so that an out-of-memory can be answered with a smaller batch instead of a rebuild.
    context_.reset(engine_->createExecutionContext(nvinfer1::ExecutionContextAllocationStrategy::kUSER_MANAGED));
    if (!context_) throw EngineError("E_GPU", "TensorRT: createExecutionContext failed: " + errorsOr("no message"));
    profile_ = profile;
    setStatus("profile " + profile.key() + " (batch 1.." + std::to_string(profile.maxBatch) + "); " + origin + "; input " +
              typeName(inputType_) + ", output " + typeName(outputType_));
  }

  // ---- Buffers ----

  void releaseBatchBuffers() {
    rawFrames_.release();
    networkInput_.release();
    networkOutput_.release();
    clampedMaps_.release();
    accumulator_.release();
    scratch_.release();
    for (PinnedBuffer& staging : staging_) staging.release();
    allocatedBatch_ = 0;
  }

  // Tells TensorRT the input shape and makes sure the scratch memory is large enough for it.
  void setBatchShape(int count, int height, int width) {
    const nvinfer1::Dims4 shape(count, io_.inputChannels, height, width);
    if (!context_->setInputShape(io_.inputName.c_str(), shape)) {
      throw EngineError("E_GPU", "TensorRT: setInputShape " + dimsText(shape) + " refused: " + errorsOr("no message"));
    }
    const nvinfer1::Dims output = context_->getTensorShape(io_.outputName.c_str());
    const int64_t expected = static_cast<int64_t>(count) * height * model_.upsampling * width * model_.upsampling;
    if (output.nbDims < 1 || volume(output) != expected) {
      throw EngineError("E_GPU", "TensorRT: for input " + dimsText(shape) + " the model's output is " + dimsText(output) +
                                     ", not the " + std::to_string(expected) + " values of " + std::to_string(count) +
                                     " maps upsampled " + std::to_string(model_.upsampling) + "x that the model's metadata promises");
    }
    const size_t needed = context_->updateDeviceMemorySizeForShapes();
    if (needed > scratch_.bytes()) {
      // The old scratch may still be in use by queued work.
      checkCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
      checkCuda(scratch_.allocate(needed), "cudaMalloc (TensorRT scratch memory)");
    }
    setScratchMemory(*context_, scratch_.get(), static_cast<int64_t>(scratch_.bytes()));
  }

  // Allocates everything a batch of `batch` frames needs; on out-of-memory halves the batch, down to 1.
  int allocateWithRetry(int batch, const RunRequest& request) {
    for (;;) {
      try {
        allocateBuffers(batch, request);
        return batch;
      } catch (const EngineError& error) {
        if (error.code() != "E_GPU_OUT_OF_MEMORY") throw;
        releaseBatchBuffers();
        if (batch == 1) throw EngineError("E_GPU_OUT_OF_MEMORY", std::string(error.what()) + " (even with batch size 1)");
        batch = (batch + 1) / 2;
        memoryBatchCap_ = batch;
      }
    }
  }

  void allocateBuffers(int batch, const RunRequest& request) {
    const size_t framePixels = static_cast<size_t>(request.height) * request.width;
    const size_t mapPixels = framePixels * model_.upsampling * model_.upsampling;
    const size_t rawBytes = static_cast<size_t>(batch) * framePixels * pixelBytes(request.pixelType);
    const bool sameShape = allocatedBatch_ == batch && allocatedHeight_ == request.height && allocatedWidth_ == request.width &&
                           allocatedPixelType_ == request.pixelType;
    if (!sameShape) {
      releaseBatchBuffers();
      checkCuda(rawFrames_.allocate(rawBytes), "cudaMalloc (frames)");
      checkCuda(networkInput_.allocate(static_cast<size_t>(batch) * io_.inputChannels * framePixels * elementBytes(inputType_)),
                "cudaMalloc (network input)");
      checkCuda(networkOutput_.allocate(static_cast<size_t>(batch) * mapPixels * elementBytes(outputType_)), "cudaMalloc (network output)");
      checkCuda(accumulator_.allocate(mapPixels * sizeof(float)), "cudaMalloc (image accumulator)");
      for (PinnedBuffer& staging : staging_) checkCuda(staging.allocate(rawBytes), "cudaMallocHost (frame staging)");
      setBatchShape(batch, request.height, request.width);
      allocatedBatch_ = batch;
      allocatedHeight_ = request.height;
      allocatedWidth_ = request.width;
      allocatedPixelType_ = request.pixelType;
    }
    if (request.frameMaps != nullptr && clampedMaps_.bytes() < static_cast<size_t>(batch) * mapPixels * sizeof(float)) {
      checkCuda(clampedMaps_.allocate(static_cast<size_t>(batch) * mapPixels * sizeof(float)), "cudaMalloc (per-frame maps)");
    }
    if (!context_->setTensorAddress(io_.inputName.c_str(), networkInput_.get()) ||
        !context_->setTensorAddress(io_.outputName.c_str(), networkOutput_.get())) {
      throw EngineError("E_GPU", "TensorRT: setTensorAddress failed: " + errorsOr("no message"));
    }
  }

  // ---- Running ----

  // Queues every batch on the engine's stream; returns the GPU time of the kernels (events), summed over batches.
  // Two staging slots let the CPU copy batch k+1 into pinned memory while the GPU still runs batch k.
  double execute(const RunRequest& request, int batch) {
    const cudaStream_t stream = stream_.get();
    const size_t framePixels = static_cast<size_t>(request.height) * request.width;
    const size_t frameBytes = framePixels * pixelBytes(request.pixelType);
    const int mapPixels = static_cast<int>(framePixels) * model_.upsampling * model_.upsampling;
    const auto* frames = static_cast<const unsigned char*>(request.frames);

    std::array<PendingBatch, 2> pending{};
    double deviceMs = 0;
    // Waits for the batch in `slot`, adds its kernel time and reports progress. In submission order by construction.
    auto complete = [&](int slot) {
      if (!pending[slot].active) return;
      checkCuda(cudaEventSynchronize(batchStop_[slot].get()), "TensorRT batch");
      float ms = 0;
      checkCuda(cudaEventElapsedTime(&ms, batchStart_[slot].get(), batchStop_[slot].get()), "cudaEventElapsedTime");
      deviceMs += ms;
      pending[slot].active = false;
      if (request.progress) request.progress(pending[slot].framesDoneAfter, request.frameCount);
    };

    checkCuda(cudaMemsetAsync(accumulator_.get(), 0, static_cast<size_t>(mapPixels) * sizeof(float), stream), "cudaMemsetAsync");
    setBatchShape(batch, request.height, request.width);  // a failed earlier run may have left another shape
    int shapeBatch = batch;  // the batch size TensorRT currently has as input shape
    int index = 0;
    for (int first = 0; first < request.frameCount; first += batch, ++index) {
      if (request.cancel != nullptr && request.cancel->load()) {
        cudaStreamSynchronize(stream);
        throw EngineError("E_ABORTED", "TensorRT: the run was cancelled");
      }
      const int count = std::min(batch, request.frameCount - first);
      const int slot = index % 2;
      complete(slot);  // the batch that last used this staging slot (two batches ago) is done with it

      std::memcpy(staging_[slot].get(), frames + static_cast<size_t>(first) * frameBytes, static_cast<size_t>(count) * frameBytes);
      checkCuda(cudaMemcpyAsync(rawFrames_.get(), staging_[slot].get(), static_cast<size_t>(count) * frameBytes, cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (frames)");
      if (count != shapeBatch) {
        setBatchShape(count, request.height, request.width);
        shapeBatch = count;
      }

      checkCuda(cudaEventRecord(batchStart_[slot].get(), stream), "cudaEventRecord");
      if (inputType_ == nvinfer1::DataType::kHALF) {
        launchNormalizeFramesHalf(rawFrames_.get(), request.pixelType, count, request.height, request.width, normMean_, normStd_,
                                  networkInput_.as<__half>(), stream);
      } else {
        launchNormalizeFrames(rawFrames_.get(), request.pixelType, count, request.height, request.width, normMean_, normStd_,
                              networkInput_.as<float>(), stream);
      }
      checkCuda(cudaGetLastError(), "normalization kernel");
      if (!context_->enqueueV3(stream)) throw EngineError("E_GPU", "TensorRT: enqueueV3 failed: " + errorsOr("no message"));
      float* mapsOut = request.frameMaps != nullptr ? clampedMaps_.as<float>() : nullptr;
      if (outputType_ == nvinfer1::DataType::kHALF) {
        launchClampSumMapsHalf(networkOutput_.as<__half>(), count, mapPixels, accumulator_.as<float>(), mapsOut, stream);
      } else {
        launchClampSumMaps(networkOutput_.as<float>(), count, mapPixels, accumulator_.as<float>(), mapsOut, stream);
      }
      checkCuda(cudaGetLastError(), "clamp-and-sum kernel");
      checkCuda(cudaEventRecord(batchStop_[slot].get(), stream), "cudaEventRecord");
      pending[slot] = PendingBatch{true, first + count};

      if (mapsOut != nullptr) {
        // Into the caller's (pageable) memory: this copy returns only when done, so the maps buffer is free again.
        checkCuda(cudaMemcpyAsync(request.frameMaps + static_cast<size_t>(first) * mapPixels, mapsOut,
                                  static_cast<size_t>(count) * mapPixels * sizeof(float), cudaMemcpyDeviceToHost, stream),
                  "cudaMemcpyAsync (per-frame maps)");
      }
    }
    // The older of the two pending batches first, so that progress is reported in order.
    const int next = index % 2;
    complete(next);
    complete(1 - next);

    checkCuda(cudaMemcpyAsync(request.image, accumulator_.get(), static_cast<size_t>(mapPixels) * sizeof(float), cudaMemcpyDeviceToHost, stream),
              "cudaMemcpyAsync (image)");
    checkCuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    return deviceMs;
  }

  // Declaration order is destruction order in reverse: TensorRT objects go before the memory they were given, the
  // logger outlives everything that may log to it.
  EngineOptions options_;
  ModelGeometry model_;
  float normMean_ = 0, normStd_ = 1;
  std::vector<uint8_t> onnx_;
  std::string modelKey_;
  std::string deviceName_, computeCapability_, libraryVersion_;
  ErrorCollectingLogger logger_;
  OnnxInterface io_;

  CudaStream stream_;
  std::array<CudaEvent, 2> batchStart_, batchStop_;
  DeviceBuffer rawFrames_, networkInput_, networkOutput_, clampedMaps_, accumulator_, scratch_;
  std::array<PinnedBuffer, 2> staging_;
  int allocatedBatch_ = 0, allocatedHeight_ = 0, allocatedWidth_ = 0;
  int memoryBatchCap_ = 0;  // after an out-of-memory: the batch that fitted (0: none seen); reset with the engine
  PixelType allocatedPixelType_ = PixelType::U16;

  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  ShapeProfile profile_;
  nvinfer1::DataType inputType_ = nvinfer1::DataType::kFLOAT, outputType_ = nvinfer1::DataType::kFLOAT;

  mutable std::mutex statusMutex_;
  std::string status_;
};

}  // namespace
}  // namespace trt

std::unique_ptr<Engine> createTensorRtEngine(const Plan& plan, const std::vector<uint8_t>& onnxBytes, const EngineOptions& options) {
  try {
    return std::make_unique<trt::TensorRtEngine>(plan, onnxBytes, options);
  } catch (const EngineError&) {
    throw;
  } catch (const std::exception& error) {
    throw EngineError("E_GPU", std::string("TensorRT: creating the engine failed: ") + error.what());
  }
}

}  // namespace smlmrt
