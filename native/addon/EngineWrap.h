// The JS object behind lib/native/binding.ts's NativeEngine: owns one smlmrt::Engine (CUDA or TensorRT).
// Not constructible from JS: createCudaEngine()/createTensorRtEngine() build the engine on a worker thread (kernel
// tuning and TensorRT builds take seconds) and then wrap it with EngineWrap::NewInstance.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "../engine/engine.h"

namespace smlmrt::addon {

// State shared between the JS object and a run in flight: a run keeps it alive even if the object is closed or
// collected meanwhile, so the engine is destroyed only after its last run has returned.
struct EngineState {
  std::shared_ptr<Engine> engine;
  std::atomic<bool> cancel{false};
  std::atomic<bool> busy{false};
};

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  // Defines the class once per environment (stored in the addon's instance data).
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::unique_ptr<Engine> engine);

  explicit EngineWrap(const Napi::CallbackInfo& info);
  // GC finalization: dropping the state frees device memory unless a run still holds it (then it frees on return).
  ~EngineWrap() override = default;

 private:
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value OpenSession(const Napi::CallbackInfo& info);
  void Cancel(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);

  std::shared_ptr<EngineState> state_;
};

}  // namespace smlmrt::addon
