#include "RunWorker.h"

#include <algorithm>
#include <vector>

#include "JsErrors.h"
#include "RequestFields.h"

namespace smlmrt::addon {
namespace {

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

}  // namespace

RunWorker::RunWorker(Napi::Env env, std::shared_ptr<EngineState> state, std::shared_ptr<SessionState> session)
    : Napi::AsyncWorker(env, session ? "smlm-rt:push" : "smlm-rt:run"),
      state_(std::move(state)),
      session_(std::move(session)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise RunWorker::Start(Napi::Env env, Napi::Object owner, std::shared_ptr<EngineState> state, Napi::Object request,
                               std::shared_ptr<SessionState> session) {
  Napi::Value framesValue = request.Get("frames");
  if (!framesValue.IsTypedArray()) throwCodedError(env, "E_BAD_OPTIONS", "run: frames must be a typed array");
  Napi::TypedArray frames = framesValue.As<Napi::TypedArray>();
  PixelType pixelType = pixelTypeOf(env, frames);
  int frameCount = integerField(env, request, "frameCount", "run", 1);
  int height = integerField(env, request, "height", "run", 1);
  int width = integerField(env, request, "width", "run", 1);
  int batchSize = integerField(env, request, "batchSize", "run", 0);
  size_t pixels = static_cast<size_t>(frameCount) * height * width;
  if (frames.ElementLength() < pixels) {
    throwCodedError(env, "E_BAD_OPTIONS", "run: frames holds " + std::to_string(frames.ElementLength()) + " pixels, fewer than " +
                                              std::to_string(frameCount) + "x" + std::to_string(height) + "x" + std::to_string(width));
  }
  Napi::Float32Array image;
  size_t outPixels = 0;
  if (session) {
    const Session& s = *session->session;
    if (height != s.sourceHeight() || width != s.sourceWidth()) {
      throwCodedError(env, "E_BAD_OPTIONS", "push: frames of " + std::to_string(width) + "x" + std::to_string(height) + " px in a session of " +
                                                std::to_string(s.sourceWidth()) + "x" + std::to_string(s.sourceHeight()) + " px frames");
    }
    outPixels = s.imagePixels();
  } else {
    image = float32Field(env, request, "image", "run");
    // The engine writes outH*outW floats; the upsampling factor is the plan's, so the JS side checks the exact size and
    // here only the ratio must be a whole square (out = in * u^2).
    size_t framePixels = static_cast<size_t>(height) * width;
    if (image.ElementLength() % framePixels != 0) {
      throwCodedError(env, "E_BAD_OPTIONS", "run: image length is not a multiple of the frame size");
    }
    outPixels = image.ElementLength();
  }
  Napi::Value mapsValue = request.Get("frameMaps");
  bool hasMaps = !mapsValue.IsUndefined() && !mapsValue.IsNull();
  Napi::Float32Array frameMaps;
  if (hasMaps) {
    frameMaps = float32Field(env, request, "frameMaps", "run");
    if (frameMaps.ElementLength() != outPixels * frameCount) {
      throwCodedError(env, "E_BAD_OPTIONS", "run: frameMaps must hold frameCount x image length values");
    }
  }
  Napi::Value onProgress = request.Get("onProgress");
  if (!onProgress.IsUndefined() && !onProgress.IsNull() && !onProgress.IsFunction()) {
    throwCodedError(env, "E_BAD_OPTIONS", "run: onProgress must be a function");
  }

  auto* worker = new RunWorker(env, std::move(state), std::move(session));
  worker->frames_ = Napi::Persistent(frames.As<Napi::Object>());
  if (!worker->session_) worker->image_ = Napi::Persistent(image.As<Napi::Object>());
  if (hasMaps) worker->frameMaps_ = Napi::Persistent(frameMaps.As<Napi::Object>());
  worker->engineObject_ = Napi::Persistent(owner);  // keeps the JS engine or session (and its finalizer) alive meanwhile

  RunRequest& run = worker->request_;
  run.frames = static_cast<const uint8_t*>(frames.ArrayBuffer().Data()) + frames.ByteOffset();
  run.pixelType = pixelType;
  run.frameCount = frameCount;
  run.height = height;
  run.width = width;
  run.image = worker->session_ ? nullptr : image.Data();
  run.addIntoImage = true;  // the InferenceBackend contract: the sum is added into the caller's image
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
    stats_ = session_ ? session_->session->push(request_) : state_->engine->run(request_);
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, gpuWording(""));
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
  if (session_) session_->settled();
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(env, errorCode_, errorMessage_).Value());
  } else {
    deliverProgress(request_.frameCount, request_.frameCount);
    Napi::Object result = Napi::Object::New(env);
    result.Set("totalMs", Napi::Number::New(env, stats_.totalMs));
    result.Set("deviceMs", Napi::Number::New(env, stats_.deviceMs));
    result.Set("batchSize", Napi::Number::New(env, stats_.batchSize));
    result.Set("tiles", Napi::Number::New(env, stats_.tiles));
    if (stats_.tiles > 1) {
      result.Set("tileHeight", Napi::Number::New(env, stats_.tileHeight));
      result.Set("tileWidth", Napi::Number::New(env, stats_.tileWidth));
    }
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
  if (session_) session_->settled();
  deferred_.Reject(error.Value());
}

}  // namespace smlmrt::addon
