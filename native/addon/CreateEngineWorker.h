// createCudaEngine(plan, options) / createTensorRtEngine(plan, onnxBytes, options): builds the engine on a worker
// thread (kernel tuning and TensorRT engine builds take seconds to minutes) and resolves with a NativeEngine object.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <string>

#include "../engine/engine.h"

namespace smlmrt::addon {

class CreateEngineWorker : public Napi::AsyncWorker {
 public:
  using Factory = std::function<std::unique_ptr<Engine>()>;
  static Napi::Promise Start(Napi::Env env, const char* name, Factory factory);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  CreateEngineWorker(Napi::Env env, const char* name, Factory factory);

  Factory factory_;
  std::unique_ptr<Engine> engine_;
  Napi::Promise::Deferred deferred_;
  std::string errorCode_, errorMessage_;
};

// Reads {device, maxBatch, fp16, cacheDir} (all optional) on the JS thread; E_BAD_OPTIONS on a wrong type.
EngineOptions engineOptionsFromJs(Napi::Env env, const Napi::Value& value);

}  // namespace smlmrt::addon
