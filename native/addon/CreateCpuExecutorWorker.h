// createCpuExecutor(plan, options?): reads the plan on the JS thread (planFromJs, the same Plan the CUDA engine gets),
// packs its weights on a worker thread and resolves with a NativeCpuExecutor. Never touches CUDA.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "../cpu/cpu_executor.h"

namespace smlmrt::addon {

class CreateCpuExecutorWorker : public Napi::AsyncWorker {
 public:
  static Napi::Promise Start(Napi::Env env, std::shared_ptr<Plan> plan, const cpu::CpuExecutorOptions& options);

 protected:
  void Execute() override;
  void OnOK() override;

 private:
  CreateCpuExecutorWorker(Napi::Env env, std::shared_ptr<Plan> plan, const cpu::CpuExecutorOptions& options);

  std::shared_ptr<Plan> plan_;
  cpu::CpuExecutorOptions options_;
  std::unique_ptr<cpu::CpuExecutor> executor_;
  Napi::Promise::Deferred deferred_;
  std::string errorCode_, errorMessage_;
};

// {threads?, localizationRows?} (both optional integers); E_BAD_OPTIONS on a wrong type or range.
cpu::CpuExecutorOptions cpuExecutorOptionsFromJs(Napi::Env env, const Napi::Value& value);

// The addon's createCpuExecutor(plan, options?) function.
Napi::Value CreateCpuExecutor(const Napi::CallbackInfo& info);

}  // namespace smlmrt::addon
