#include "SnapshotWorker.h"

#include "JsErrors.h"

namespace smlmrt::addon {

SnapshotWorker::SnapshotWorker(Napi::Env env, std::shared_ptr<SessionState> state, bool finish)
    : Napi::AsyncWorker(env, finish ? "smlm-rt:finish" : "smlm-rt:snapshot"),
      state_(std::move(state)),
      finish_(finish),
      deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise SnapshotWorker::Start(Napi::Env env, Napi::Object sessionObject, std::shared_ptr<SessionState> state, bool finish) {
  auto* worker = new SnapshotWorker(env, std::move(state), finish);
  Napi::Float32Array image;
  try {
    image = Napi::Float32Array::New(env, worker->state_->session->imagePixels());
  } catch (...) {
    worker->release();
    delete worker;
    throw;
  }
  worker->image_ = Napi::Persistent(image.As<Napi::Object>());
  worker->sessionObject_ = Napi::Persistent(sessionObject);
  worker->data_ = image.Data();
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

void SnapshotWorker::Execute() {
  try {
    if (finish_) {
      state_->session->finish(data_);
    } else {
      state_->session->snapshot(data_);
    }
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, gpuWording(finish_ ? " while finishing" : " while taking a snapshot"));
  }
}

void SnapshotWorker::release() {
  state_->flags->busy = false;
  if (finish_) state_->closeRequested = true;  // finished: no further calls; the session's memory is already freed
  state_->settled();
}

void SnapshotWorker::OnOK() {
  release();
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(Env(), errorCode_, errorMessage_).Value());
  } else {
    deferred_.Resolve(image_.Value());
  }
}

void SnapshotWorker::OnError(const Napi::Error& error) {
  release();
  deferred_.Reject(error.Value());
}

}  // namespace smlmrt::addon
