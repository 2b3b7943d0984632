// The interface every GPU backend implements (smlm-rt's own CUDA engine, the TensorRT backend) and the N-API
// layer calls. It mirrors lib/engine/plan.ts: the plan arrives already rewritten by the TypeScript compiler.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace smlmrt {

// ---- The execution plan (see lib/engine/plan.ts for the semantics of every field) ----
struct PlanBuffer {
  int id = 0;
  int channels = 0;
  int scaleNum = 1;
  int scaleDen = 1;
};

struct PlanView {
  int buffer = 0;
  int channelOffset = 0;
  int channels = 0;
};

struct ConvPhase {
  int phaseY = 0, phaseX = 0;
  int kh = 1, kw = 1;
  int padTop = 0, padLeft = 0;
  size_t weightOffset = 0;  // into Plan::weights, cout*kh*kw*cin floats, OHWI
};

enum class InputTransform { Frame, Direct, MaxPool2 };

struct ConvOp {
  std::string name;
  PlanView input;
  InputTransform transform = InputTransform::Direct;
  PlanView output;
  int cin = 0, cout = 0;
  int upsample = 1;
  std::vector<ConvPhase> phases;
  size_t biasOffset = 0;
  bool relu = false;
};

// Maps: 1x1 conv to upscale^2 rows, depth-to-space, clamp, frame sum (plan op 'head').
// Localization: 1x1 conv to 3*g*g rows (raw p, dx, dy of each of the g x g detection cells of a camera pixel) at
// camera resolution, each cell rendered onto the output grid as lib/render-detections.ts states it (plan op
// 'localization-head').
enum class HeadKind { Maps, Localization };

struct HeadOp {
  std::string name;
  HeadKind kind = HeadKind::Maps;
  PlanView input;
  int cin = 0;
  int upscale = 1;          // Maps only
  size_t weightOffset = 0;  // Maps: upscale*upscale rows of cin floats; Localization: 3*grid*grid rows (5*grid*grid
                            // with predicted widths: p, dx, dy, sx, sy)
  size_t biasOffset = 0;
  // Localization only (model metadata smlm.head): dx = maxOffset*tanh(v1); Gaussian sigma (fine px, 0 = one pixel),
  // window radius (fine px, 0..8), detections with p < minProbability are not rendered.
  float maxOffset = 1.f;
  int grid = 1;  // detection cells per camera pixel and axis (1, 2, 4, 8; divides the plan's upsampling)
  float renderSigma = 0.f;
  // render.sigma "predicted": each detection rendered with its predicted uncertainty on the fine grid, clamped to
  // [sigmaMin, sigmaMax] (0 < sigmaMin <= sigmaMax <= 4); renderSigma is then unused.
  bool predictedSigma = false;
  float sigmaMin = 0.f, sigmaMax = 0.f;
  int renderRadius = 0;
  float minProbability = 0.f;
};

struct Plan {
  int upsampling = 1;
  float normMean = 0.f, normStd = 1.f;  // minmax-zscore normalization
  int sizeMultiple = 1, minSize = 1;
  std::vector<PlanBuffer> buffers;
  std::vector<ConvOp> convs;  // in execution order
  HeadOp head;                // always last
  std::vector<float> weights;
  std::string modelHash;
};

// ---- Running ----
enum class PixelType { U8, U16, F32 };

struct RunRequest {
  const void* frames = nullptr;  // host memory, frameCount x height x width, row-major
  PixelType pixelType = PixelType::U16;
  int frameCount = 0, height = 0, width = 0;
  float* image = nullptr;      // host, (height*upsampling) x (width*upsampling); overwritten with the frame sum
  bool addIntoImage = false;   // run(): the sum is added to image's values (uploaded once as the accumulator's start)
  float* frameMaps = nullptr;  // optional host, frameCount x outH x outW clamped per-frame maps
  int batchSize = 0;           // 0: the engine picks
  std::function<void(int framesDone, int framesTotal)> progress;  // called from the worker thread
  const std::atomic<bool>* cancel = nullptr;                        // checked between batches
};

struct RunStats {
  double totalMs = 0;      // wall time of run()
  double deviceMs = 0;     // GPU time of the kernels (events), summed over batches
  int batchSize = 0;       // the batch size actually used (may be smaller after an out-of-memory retry)
  int tiles = 1;           // tiles per frame (1: frames ran whole; more: activations did not fit, see pipeline.h)
  int tileHeight = 0, tileWidth = 0;  // size of each tile, halo included (tiles > 1 only)
};

// Device-side frame preparation (lib/frames/prepare.ts's PreparationPlan): the session takes the source frames as
// they are and resamples (separable weights of lib/frames/resample.ts) and/or mirror-pads (lib/frames/pad.ts) them
// to the session's frame size on the device.
struct FramePreparation {
  int sourceHeight = 0, sourceWidth = 0;  // frames as pushed
  bool resample = false;
  double fromNm = 0, toNm = 0;              // camera pixel -> model pixel
  int resampledHeight = 0, resampledWidth = 0;
  bool pad = false;                         // mirrored at the bottom and right up to the session's frame size
};

struct SessionOptions {
  int height = 0, width = 0;  // the frame size the network sees
  float scale = 1.f;          // multiplies the image when it is read (snapshot/finish)
  int batchSize = 0;          // 0: the engine picks
  bool prepare = false;       // push() takes source frames and applies `preparation`
  FramePreparation preparation;
  const float* initialImage = nullptr;  // optional host image (outH x outW) the accumulator starts from
};

// A reconstruction in progress: the image (an FP32 accumulator) stays on the device from open to finish. One call at
// a time; the engine that opened it must outlive it.
class Session {
 public:
  virtual ~Session() = default;
  // Runs chunk.frameCount frames (chunk.image is not used) and adds their clamped maps into the image; returns when
  // they are done. A cancelled push leaves the frames already done in the image.
  virtual RunStats push(const RunRequest& chunk) = 0;
  // The image so far times the scale, into out (imagePixels() floats).
  virtual void snapshot(float* out) = 0;
  // The same, then the session's device memory is released; later calls throw E_CLOSED.
  virtual void finish(float* out) = 0;
  virtual size_t imagePixels() const = 0;
  // The frame size push() takes (the source size when preparing frames).
  virtual int sourceHeight() const = 0;
  virtual int sourceWidth() const = 0;
};

struct EngineOptions {
  int device = 0;
  int maxBatch = 64;
  bool fp16 = true;
  std::string cacheDir;  // where tuned kernel choices / serialized engines are cached; empty: no cache
};

// Codes match lib/errors.ts so the binding can surface them unchanged.
class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Blocking; called from a worker thread. One call at a time per engine (the JS side queues). One session: open,
  // push every frame, finish (pipeline.cu), so that run() and sessions share one code path.
  virtual RunStats run(const RunRequest& request);
  // Blocking (allocates the image on the device). The engine must outlive the session.
  virtual std::unique_ptr<Session> openSession(const SessionOptions& options) = 0;
  // Human-readable: backend, device, chosen kernels.
  virtual std::string describe() const = 0;
};

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int major = 0, minor = 0;
  size_t totalMemory = 0;
  int multiprocessors = 0;
};

// Never throws: an empty list plus a reason when no usable GPU/driver is present.
std::vector<DeviceInfo> listDevices(std::string* reasonIfNone);

std::unique_ptr<Engine> createCudaEngine(const Plan& plan, const EngineOptions& options);
#ifdef SMLMRT_WITH_TENSORRT
// onnxBytes: the model as given by the user (or smlm-rt's FP16 conversion of it for strongly typed TensorRT).
std::unique_ptr<Engine> createTensorRtEngine(const Plan& plan, const std::vector<uint8_t>& onnxBytes, const EngineOptions& options);
#endif

}  // namespace smlmrt
