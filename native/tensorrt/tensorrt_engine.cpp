// The TensorRT backend: TensorRT runs the network (built from the ONNX model by nvonnxparser), smlm-rt's own kernels
// run around it: frame normalization straight from the raw camera pixels before, clamp >= 0 and the sum over frames
// into an FP32 accumulator after, so that per-frame maps never leave the device unless the caller asks for them.
//
// The backend is a client of the session pipeline (native/engine/pipeline.h): the pipeline stages and uploads
// frames, owns the image accumulator on the device, picks the batch and halves it on out-of-memory; this file runs
// TensorRT on the frames it is given. It does not tile (tileHalo() is 0): a frame must fit one at a time.
//
// The engine is built lazily, on the first batch, because its optimization profile depends on the frame size, which
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
#include "../engine/pipeline.h"
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

class TensorRtEngine final : public Engine, public NetworkRunner {
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
    dropSessionBuffers();
    context_.reset();
    engine_.reset();
    runtime_.reset();
  }

  std::unique_ptr<Session> openSession(const SessionOptions& options) override { return openPipelineSession(*this, options); }

  // ---- NetworkRunner ----
  int deviceOrdinal() const override { return options_.device; }
  int upsampling() const override { return model_.upsampling; }
  void checkFrameSize(int height, int width) override {
    const std::string problem = frameSizeProblem(model_, height, width);
    if (!problem.empty()) throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "TensorRT: " + problem);
    // The kernels index one output map with int.
    const double mapPixels = static_cast<double>(height) * width * model_.upsampling * model_.upsampling;
    if (mapPixels > 2147483647.0) throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "TensorRT: frames this large give output maps over 2^31 pixels");
  }
  int maxBatch(int height, int width) override {
    checkCuda(cudaSetDevice(options_.device), "cudaSetDevice");
    logger_.takeErrors();  // errors TensorRT logged without failing must not be blamed on a later call
    ensureEngineFor(height, width);
    return profile_.maxBatch;
  }
  size_t bytesPerFrame(int height, int width, bool withMaps) const override {
    const size_t framePixels = static_cast<size_t>(height) * width;
    const size_t mapPixels = framePixels * model_.upsampling * model_.upsampling;
    const size_t scratch = allocatedBatch_ > 0 ? scratch_.bytes() / allocatedBatch_ : 0;
    return framePixels * io_.inputChannels * 4 + mapPixels * 4 + (withMaps ? mapPixels * sizeof(float) : 0) + scratch;
  }
  size_t heldBytes() const override {
    return networkInput_.bytes() + networkOutput_.bytes() + clampedMaps_.bytes() + scratch_.bytes();
  }
  int tileHalo() const override { return 0; }
  int tileAlignment() const override { return model_.sizeMultiple; }
  void reserve(int batch, int height, int width, bool withMaps) override {
    ensureEngineFor(height, width);
    if (batch > profile_.maxBatch) throw EngineError("E_GPU", "internal: batch beyond the TensorRT profile");
    allocateBuffers(batch, height, width, withMaps);
  }
  void releaseActivations() override {
    cudaStreamSynchronize(stream_.get());
    releaseBatchBuffers();
  }
  cudaStream_t stream() const override { return stream_.get(); }
  void enqueueFrameStats(const void*, PixelType, int, int, int) override {
    throw EngineError("E_GPU", "internal: the TensorRT backend does not run tiles");
  }
  void enqueue(const NetworkBatch& b) override {
    if (b.count > allocatedBatch_ || b.height != allocatedHeight_ || b.width != allocatedWidth_ || b.statsReady)
      throw EngineError("E_GPU", "internal: a batch the TensorRT backend did not reserve");
    const cudaStream_t stream = stream_.get();
    const int mapPixels = b.height * model_.upsampling * b.width * model_.upsampling;
    if (b.count != shapeBatch_) {
      setBatchShape(b.count, b.height, b.width);
      shapeBatch_ = b.count;
    }
    if (inputType_ == nvinfer1::DataType::kHALF) {
      launchNormalizeFramesHalf(b.frames, b.type, b.count, b.height, b.width, normMean_, normStd_, networkInput_.as<__half>(), stream);
    } else {
      launchNormalizeFrames(b.frames, b.type, b.count, b.height, b.width, normMean_, normStd_, networkInput_.as<float>(), stream);
    }
    checkCuda(cudaGetLastError(), "normalization kernel");
    if (!context_->enqueueV3(stream)) throw EngineError("E_GPU", "TensorRT: enqueueV3 failed: " + errorsOr("no message"));
    float* mapsOut = nullptr;
    if (b.withMaps) {
      if (clampedMaps_.bytes() < static_cast<size_t>(b.count) * mapPixels * sizeof(float))
        throw EngineError("E_GPU", "internal: per-frame maps were not reserved");
      mapsOut = clampedMaps_.as<float>();
    }
    if (outputType_ == nvinfer1::DataType::kHALF) {
      launchClampSumMapsHalf(networkOutput_.as<__half>(), b.count, mapPixels, b.accum, mapsOut, stream);
    } else {
      launchClampSumMaps(networkOutput_.as<float>(), b.count, mapPixels, b.accum, mapsOut, stream);
    }
    checkCuda(cudaGetLastError(), "clamp-and-sum kernel");
  }
  float* frameMapsDevice() const override { return clampedMaps_.as<float>(); }

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
    networkInput_.release();
    networkOutput_.release();
    clampedMaps_.release();
    scratch_.release();
    allocatedBatch_ = 0;
    shapeBatch_ = 0;
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

  // Device buffers for batches of up to `batch` frames of height x width (the pipeline halves on out-of-memory).
  void allocateBuffers(int batch, int height, int width, bool withMaps) {
    const size_t framePixels = static_cast<size_t>(height) * width;
    const size_t mapPixels = framePixels * model_.upsampling * model_.upsampling;
    const bool sameShape = allocatedBatch_ >= batch && allocatedHeight_ == height && allocatedWidth_ == width;
    if (!sameShape) {
      checkCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
      releaseBatchBuffers();
      networkInput_.allocateOrThrow(static_cast<size_t>(batch) * io_.inputChannels * framePixels * elementBytes(inputType_),
                                    "cudaMalloc (network input)");
      networkOutput_.allocateOrThrow(static_cast<size_t>(batch) * mapPixels * elementBytes(outputType_), "cudaMalloc (network output)");
      setBatchShape(batch, height, width);
      shapeBatch_ = batch;
      allocatedBatch_ = batch;
      allocatedHeight_ = height;
      allocatedWidth_ = width;
    }
    if (withMaps && clampedMaps_.bytes() < static_cast<size_t>(batch) * mapPixels * sizeof(float)) {
      checkCuda(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize");
      clampedMaps_.allocateOrThrow(static_cast<size_t>(batch) * mapPixels * sizeof(float), "cudaMalloc (per-frame maps)");
    }
    if (!context_->setTensorAddress(io_.inputName.c_str(), networkInput_.get()) ||
        !context_->setTensorAddress(io_.outputName.c_str(), networkOutput_.get())) {
      throw EngineError("E_GPU", "TensorRT: setTensorAddress failed: " + errorsOr("no message"));
    }
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
  DeviceBuffer networkInput_, networkOutput_, clampedMaps_, scratch_;
  int allocatedBatch_ = 0, allocatedHeight_ = 0, allocatedWidth_ = 0;
  int shapeBatch_ = 0;  // the batch size TensorRT currently has as input shape

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
