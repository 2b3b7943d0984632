#include "CpuExecutorWrap.h"

#include <cmath>

#include "AddonData.h"
#include "CpuRunWorker.h"
#include "JsErrors.h"

namespace smlmrt::addon {

Napi::Function CpuExecutorWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<CpuExecutorWrap>::DefineClass(env, "NativeCpuExecutor",
                                                  {
                                                      InstanceMethod<&CpuExecutorWrap::Run>("run"),
                                                      InstanceMethod<&CpuExecutorWrap::OutputValuesPerFrame>("outputValuesPerFrame"),
                                                      InstanceMethod<&CpuExecutorWrap::Close>("close"),
                                                      InstanceMethod<&CpuExecutorWrap::Describe>("describe"),
                                                      InstanceAccessor<&CpuExecutorWrap::Threads>("threads"),
                                                      InstanceAccessor<&CpuExecutorWrap::Kernel>("kernel"),
                                                  });
}

Napi::Object CpuExecutorWrap::NewInstance(Napi::Env env, std::unique_ptr<cpu::CpuExecutor> executor) {
  Napi::External<cpu::CpuExecutor> handle = Napi::External<cpu::CpuExecutor>::New(env, executor.release());
  return env.GetInstanceData<AddonData>()->cpuExecutorConstructor.New({handle});
}

CpuExecutorWrap::CpuExecutorWrap(const Napi::CallbackInfo& info) : ObjectWrap<CpuExecutorWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throwCodedError(info.Env(), "E_BAD_OPTIONS", "NativeCpuExecutor cannot be constructed directly: use createCpuExecutor()");
  }
  executor_.reset(info[0].As<Napi::External<cpu::CpuExecutor>>().Data());
}

Napi::Value CpuExecutorWrap::Run(const Napi::CallbackInfo& info) {
  if (!executor_) throwCodedError(info.Env(), "E_CLOSED", "the cpu plan executor was closed");
  return CpuRunWorker::Start(info.Env(), info.This().As<Napi::Object>(), executor_, info.Length() > 0 ? info[0] : info.Env().Undefined());
}

Napi::Value CpuExecutorWrap::OutputValuesPerFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!executor_) throwCodedError(env, "E_CLOSED", "the cpu plan executor was closed");
  auto side = [&](size_t i) {
    const double v = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(std::floor(v) == v) || v < 1 || v > 1 << 20) throwCodedError(env, "E_BAD_OPTIONS", "outputValuesPerFrame(height, width) takes two positive integers");
    return static_cast<int>(v);
  };
  const int height = side(0), width = side(1);
  return Napi::Number::New(env, static_cast<double>(executor_->outputValuesPerFrame(height, width)));
}

void CpuExecutorWrap::Close(const Napi::CallbackInfo&) { executor_.reset(); }

Napi::Value CpuExecutorWrap::Describe(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), executor_ ? executor_->describe() : std::string("closed"));
}

Napi::Value CpuExecutorWrap::Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), executor_ ? executor_->threads() : 0);
}

Napi::Value CpuExecutorWrap::Kernel(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), executor_ ? executor_->kernelName() : "closed");
}

}  // namespace smlmrt::addon
