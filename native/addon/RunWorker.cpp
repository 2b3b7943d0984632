#include "RunWorker.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "JsErrors.h"

namespace smlmrt::addon {
namespace {

int integerAtLeast(Napi::Env env, const Napi::Object& request, const char* name, int min) {
  Napi::Value value = request.Get(name);
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::floor(number) == number) || number < min || number > std::numeric_limits<int>::max()) {
    throwCodedError(env, "E_BAD_OPTIONS", std::string("run: ") + name + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int>(number);
}

// Accepts Uint8Array, Uint16Array and Float32Array; anything else is refused before the engine sees it.
PixelType pixelTypeOf(Napi::Env env, const Napi::TypedArray& frames) {
  switch (frames.TypedArrayType()) {
    case napi_uint8_array:
      return PixelType::U8;
    case napi_uint16_array:
      return PixelType::U16;
    case napi_float32_array:
      return PixelType::F32;
    default:
      throwCodedError(env, "E_BAD_OPTIONS", "run: frames must be a Uint8Array, Uint16Array or Float32Array");
  }
}

Napi::Float32Array float32Field(Napi::Env env, const Napi::Object& request, const char* name) {
  Napi::Value value = request.Get(name);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwCodedError(env, "E_BAD_OPTIONS", std::string("run: ") + name + " must be a Float32Array");
  }
  return value.As<Napi::Float32Array>();
}

}  // namespace

RunWorker::RunWorker(Napi::Env env, std::shared_ptr<EngineState> state)
    : Napi::AsyncWorker(env, "smlm-rt:run"), state_(std::move(state)), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise RunWorker::Start(Napi::Env env, Napi::Object engineObject, std::shared_ptr<EngineState> state, Napi::Object request) {
  Napi::Value framesValue = request.Get("frames");
  if (!framesValue.IsTypedArray()) throwCodedError(env, "E_BAD_OPTIONS", "run: frames must be a typed array");
  Napi::TypedArray frames = framesValue.As<Napi::TypedArray>();
  PixelType pixelType = pixelTypeOf(env, frames);
  int frameCount = integerAtLeast(env, request, "frameCount", 1);
  int height = integerAtLeast(env, request, "height", 1);
  int width = integerAtLeast(env, request, "width", 1);
  int batchSize = integerAtLeast(env, request, "batchSize", 0);
  size_t pixels = static_cast<size_t>(frameCount) * height * width;
  if (frames.ElementLength() < pixels) {
    throwCodedError(env, "E_BAD_OPTIONS", "run: frames holds " + std::to_string(frames.ElementLength()) + " pixels, fewer than " +
                                              std::to_string(frameCount) + "x" + std::to_string(height) + "x" + std::to_string(width));
  }
  Napi::Float32Array image = float32Field(env, request, "image");
  // The engine writes outH*outW floats; the upsampling factor is the plan's, so the JS side checks the exact size and
  // here only the ratio must be a whole square (out = in * u^2).
  size_t framePixels = static_cast<size_t>(height) * width;
  if (image.ElementLength() % framePixels != 0) {
    throwCodedError(env, "E_BAD_OPTIONS", "run: image length is not a multiple of the frame size");
  }
  size_t outPixels = image.ElementLength();
  Napi::Value mapsValue = request.Get("frameMaps");
  bool hasMaps = !mapsValue.IsUndefined() && !mapsValue.IsNull();
  Napi::Float32Array frameMaps;
  if (hasMaps) {
    frameMaps = float32Field(env, request, "frameMaps");
    if (frameMaps.ElementLength() != outPixels * frameCount) {
      throwCodedError(env, "E_BAD_OPTIONS", "run: frameMaps must hold frameCount x image length values");
    }
  }
  Napi::Value onProgress = request.Get("onProgress");
  if (!onProgress.IsUndefined() && !onProgress.IsNull() && !onProgress.IsFunction()) {
    throwCodedError(env, "E_BAD_OPTIONS", "run: onProgress must be a function");
  }

  auto* worker = new RunWorker(env, std::move(state));
  worker->frames_ = Napi::Persistent(frames.As<Napi::Object>());
  worker->image_ = Napi::Persistent(image.As<Napi::Object>());
  if (hasMaps) worker->frameMaps_ = Napi::Persistent(frameMaps.As<Napi::Object>());
  worker->engineObject_ = Napi::Persistent(engineObject);  // keeps the JS engine (and its finalizer) alive meanwhile
  worker->imageLength_ = outPixels;

  RunRequest& run = worker->request_;
  run.frames = static_cast<const uint8_t*>(frames.ArrayBuffer().Data()) + frames.ByteOffset();
  run.pixelType = pixelType;
  run.frameCount = frameCount;
  run.height = height;
  run.width = width;
  run.image = image.Data();
  run.frameMaps = hasMaps ? frameMaps.Data() : nullptr;
  run.batchSize = batchSize;
  run.cancel = &worker->state_->cancel;

  if (onProgress.IsFunction()) {
    worker->progress_ = std::make_shared<ProgressState>();
    worker->progress_->callback = Napi::Persistent(onProgress.As<Napi::Function>());
    worker->progressTsfn_ = Napi::ThreadSafeFunction::New(env, onProgress.As<Napi::Function>(), "smlm-rt:progress", 0, 1);
    worker->progressTsfn_.Unref(env);  // the pending Promise, not progress reports, keeps the process alive
    worker->hasProgressTsfn_ = true;
    std::shared_ptr<ProgressState> progress = worker->progress_;
    Napi::ThreadSafeFunction tsfn = worker->progressTsfn_;
    run.progress = [tsfn, progress](int framesDone, int framesTotal) mutable {
      // Called on the worker thread after each batch; the lambda below runs later on the JS thread.
      tsfn.NonBlockingCall([progress, framesDone, framesTotal](Napi::Env env, Napi::Function) {
        if (framesDone <= progress->delivered || progress->callback.IsEmpty()) return;
        progress->delivered = framesDone;
        progress->callback.Call({Napi::Number::New(env, framesDone), Napi::Number::New(env, framesTotal)});
      });
    };
  }

  worker->state_->cancel = false;
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

void RunWorker::Execute() {
  try {
    // The contract of InferenceBackend is "add into image"; the engine overwrites. A caller's image is almost always
    // fresh zeros, so the engine writes into it directly; otherwise it writes a scratch image that is added in here.
    const float* image = request_.image;
    bool zero = std::all_of(image, image + imageLength_, [](float v) { return v == 0.0f; });
    std::vector<float> scratch;
    RunRequest run = request_;
    if (!zero) {
      scratch.assign(imageLength_, 0.0f);
      run.image = scratch.data();
    }
    stats_ = state_->engine->run(run);
    if (!zero) {
      for (size_t i = 0; i < imageLength_; ++i) request_.image[i] += scratch[i];
    }
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, "");
  }
  if (hasProgressTsfn_) progressTsfn_.Release();
}

void RunWorker::deliverProgress(int framesDone, int framesTotal) {
  // A queued progress call may still be in flight; report the final count now so that it precedes the resolution.
  if (!progress_ || framesDone <= progress_->delivered) return;
  progress_->delivered = framesDone;
  progress_->callback.Call({Napi::Number::New(Env(), framesDone), Napi::Number::New(Env(), framesTotal)});
}

void RunWorker::settle() {
  Napi::Env env = Env();
  state_->busy = false;
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(env, errorCode_, errorMessage_).Value());
  } else {
    deliverProgress(request_.frameCount, request_.frameCount);
    Napi::Object result = Napi::Object::New(env);
    result.Set("totalMs", Napi::Number::New(env, stats_.totalMs));
    result.Set("deviceMs", Napi::Number::New(env, stats_.deviceMs));
    result.Set("batchSize", Napi::Number::New(env, stats_.batchSize));
    deferred_.Resolve(result);
  }
  if (progress_) progress_->callback.Reset();  // later queued reports are dropped
}

void RunWorker::OnOK() {
  try {
    settle();
  } catch (const Napi::Error& error) {
    // The progress callback threw: the run itself succeeded, but the caller's callback error must not vanish.
    if (progress_) progress_->callback.Reset();
    deferred_.Reject(error.Value());
  }
}

void RunWorker::OnError(const Napi::Error& error) {
  state_->busy = false;
  deferred_.Reject(error.Value());
}

}  // namespace smlmrt::addon
