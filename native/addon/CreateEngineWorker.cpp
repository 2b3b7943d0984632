#include "CreateEngineWorker.h"

#include <cmath>

#include "EngineWrap.h"
#include "JsErrors.h"

namespace smlmrt::addon {

CreateEngineWorker::CreateEngineWorker(Napi::Env env, const char* name, Factory factory)
    : Napi::AsyncWorker(env, name), factory_(std::move(factory)), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise CreateEngineWorker::Start(Napi::Env env, const char* name, Factory factory) {
  auto* worker = new CreateEngineWorker(env, name, std::move(factory));
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

void CreateEngineWorker::Execute() {
  try {
    engine_ = factory_();
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, gpuWording(" while building the engine"));
  }
  factory_ = nullptr;  // drops the plan copy held by the factory as early as possible
}

void CreateEngineWorker::OnOK() {
  Napi::Env env = Env();
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(env, errorCode_, errorMessage_).Value());
  } else if (!engine_) {
    deferred_.Reject(makeCodedError(env, "E_GPU", "the engine factory returned nothing").Value());
  } else {
    deferred_.Resolve(EngineWrap::NewInstance(env, std::move(engine_)));
  }
}

EngineOptions engineOptionsFromJs(Napi::Env env, const Napi::Value& value) {
  EngineOptions options;
  if (value.IsUndefined() || value.IsNull()) return options;
  if (!value.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "engine options must be an object");
  Napi::Object object = value.As<Napi::Object>();
  auto integer = [&](const char* name, int min, int& out) {
    Napi::Value field = object.Get(name);
    if (field.IsUndefined()) return;
    double number = field.IsNumber() ? field.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(std::floor(number) == number) || number < min || number > 1 << 20) {
      throwCodedError(env, "E_BAD_OPTIONS", std::string("engine option ") + name + " must be an integer >= " + std::to_string(min));
    }
    out = static_cast<int>(number);
  };
  integer("device", 0, options.device);
  integer("maxBatch", 1, options.maxBatch);
  Napi::Value fp16 = object.Get("fp16");
  if (!fp16.IsUndefined()) options.fp16 = fp16.ToBoolean().Value();
  Napi::Value cacheDir = object.Get("cacheDir");
  if (cacheDir.IsString()) options.cacheDir = cacheDir.As<Napi::String>().Utf8Value();
  return options;
}

}  // namespace smlmrt::addon
