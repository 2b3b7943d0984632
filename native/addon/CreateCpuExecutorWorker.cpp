#include "CreateCpuExecutorWorker.h"

#include <cmath>

#include "CpuExecutorWrap.h"
#include "JsErrors.h"
#include "PlanFromJs.h"

namespace smlmrt::addon {

CreateCpuExecutorWorker::CreateCpuExecutorWorker(Napi::Env env, std::shared_ptr<Plan> plan, const cpu::CpuExecutorOptions& options)
    : Napi::AsyncWorker(env, "smlm-rt:createCpuExecutor"), plan_(std::move(plan)), options_(options), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise CreateCpuExecutorWorker::Start(Napi::Env env, std::shared_ptr<Plan> plan, const cpu::CpuExecutorOptions& options) {
  auto* worker = new CreateCpuExecutorWorker(env, std::move(plan), options);
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

void CreateCpuExecutorWorker::Execute() {
  try {
    executor_ = std::make_unique<cpu::CpuExecutor>(*plan_, options_);
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, cpuWording());
  }
  plan_.reset();
}

void CreateCpuExecutorWorker::OnOK() {
  Napi::Env env = Env();
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(env, errorCode_, errorMessage_).Value());
  } else {
    deferred_.Resolve(CpuExecutorWrap::NewInstance(env, std::move(executor_)));
  }
}

cpu::CpuExecutorOptions cpuExecutorOptionsFromJs(Napi::Env env, const Napi::Value& value) {
  cpu::CpuExecutorOptions options;
  if (value.IsUndefined() || value.IsNull()) return options;
  if (!value.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "createCpuExecutor: options must be an object");
  Napi::Object object = value.As<Napi::Object>();
  auto integer = [&](const char* name, int max) {
    Napi::Value v = object.Get(name);
    if (v.IsUndefined()) return 0;
    const double number = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(std::floor(number) == number) || number < 1 || number > max) {
      throwCodedError(env, "E_BAD_OPTIONS", std::string("createCpuExecutor: ") + name + " must be an integer in 1.." + std::to_string(max));
    }
    return static_cast<int>(number);
  };
  options.threads = integer("threads", 1024);
  options.localizationRows = integer("localizationRows", 5 * 64);
  return options;
}

Napi::Value CreateCpuExecutor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "createCpuExecutor: the first argument must be an execution plan");
  auto plan = std::make_shared<Plan>(planFromJs(info[0].As<Napi::Object>()));
  cpu::CpuExecutorOptions options = cpuExecutorOptionsFromJs(env, info.Length() > 1 ? info[1] : env.Undefined());
  return CreateCpuExecutorWorker::Start(env, plan, options);
}

}  // namespace smlmrt::addon
