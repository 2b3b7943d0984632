// The JS object behind lib/native/binding.ts's NativeCpuExecutor: owns one smlmrt::cpu::CpuExecutor (the CPU executor
// of a compiled plan, native/cpu/). Not constructible from JS: createCpuExecutor(plan, options) packs the weights on a
// worker thread and wraps the result with CpuExecutorWrap::NewInstance. Nothing here touches CUDA.
#pragma once

#include <napi.h>

#include <memory>

#include "../cpu/cpu_executor.h"

namespace smlmrt::addon {

class CpuExecutorWrap : public Napi::ObjectWrap<CpuExecutorWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::unique_ptr<cpu::CpuExecutor> executor);

  explicit CpuExecutorWrap(const Napi::CallbackInfo& info);

 private:
  // run({input, frameCount, height, width, output}) -> Promise<{totalMs}>
  Napi::Value Run(const Napi::CallbackInfo& info);
  Napi::Value OutputValuesPerFrame(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Threads(const Napi::CallbackInfo& info);
  Napi::Value Kernel(const Napi::CallbackInfo& info);

  // A run in flight holds its own reference: close() while it runs frees the executor when the run returns.
  std::shared_ptr<cpu::CpuExecutor> executor_;
};

}  // namespace smlmrt::addon
