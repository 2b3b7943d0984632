// session.snapshot() / session.finish(): scales the device image into pinned memory on a worker thread (pipeline.h)
// and resolves with a Float32Array (runHeight*u x runWidth*u) allocated on the JS thread beforehand, which the worker
// fills in place.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "SessionWrap.h"

namespace smlmrt::addon {

class SnapshotWorker : public Napi::AsyncWorker {
 public:
  // finish: the session ends (its device memory is released) once the image is read.
  static Napi::Promise Start(Napi::Env env, Napi::Object sessionObject, std::shared_ptr<SessionState> state, bool finish);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  SnapshotWorker(Napi::Env env, std::shared_ptr<SessionState> state, bool finish);
  void release();

  std::shared_ptr<SessionState> state_;
  bool finish_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference image_, sessionObject_;
  float* data_ = nullptr;
  std::string errorCode_, errorMessage_;
};

}  // namespace smlmrt::addon
