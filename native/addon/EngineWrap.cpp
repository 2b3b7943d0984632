#include "EngineWrap.h"

#include "AddonData.h"
#include "JsErrors.h"
#include "RunWorker.h"
#include "SessionWrap.h"

namespace smlmrt::addon {

Napi::Function EngineWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<EngineWrap>::DefineClass(env, "NativeEngine",
                                             {
                                                 InstanceMethod<&EngineWrap::Run>("run"),
                                                 InstanceMethod<&EngineWrap::OpenSession>("openSession"),
                                                 InstanceMethod<&EngineWrap::Cancel>("cancel"),
                                                 InstanceMethod<&EngineWrap::Close>("close"),
                                                 InstanceMethod<&EngineWrap::Describe>("describe"),
                                             });
}

Napi::Object EngineWrap::NewInstance(Napi::Env env, std::unique_ptr<Engine> engine) {
  // The engine travels through an External so that JS code cannot construct an engine-less object.
  auto* raw = engine.release();
  Napi::External<Engine> handle = Napi::External<Engine>::New(env, raw);
  Napi::Object object = env.GetInstanceData<AddonData>()->engineConstructor.New({handle});
  return object;
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : ObjectWrap<EngineWrap>(info), state_(std::make_shared<EngineState>()) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throwCodedError(info.Env(), "E_BAD_OPTIONS", "NativeEngine cannot be constructed directly: use createCudaEngine() or createTensorRtEngine()");
  }
  state_->engine.reset(info[0].As<Napi::External<Engine>>().Data());
}

Napi::Value EngineWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state_->engine) throwCodedError(env, "E_CLOSED", "the engine was closed");
  if (info.Length() != 1 || !info[0].IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "run(request) takes one object");
  if (state_->busy.exchange(true)) throwCodedError(env, "E_GPU", "a run is already in flight on this engine (runs must be queued)");
  try {
    return RunWorker::Start(env, info.This().As<Napi::Object>(), state_, info[0].As<Napi::Object>());
  } catch (...) {
    state_->busy = false;  // the request was refused before a worker took it
    throw;
  }
}

Napi::Value EngineWrap::OpenSession(const Napi::CallbackInfo& info) {
  return smlmrt::addon::OpenSession(info.Env(), state_, info.Length() > 0 ? info[0] : info.Env().Undefined());
}

void EngineWrap::Cancel(const Napi::CallbackInfo&) { state_->cancel = true; }

void EngineWrap::Close(const Napi::CallbackInfo&) {
  // A run in flight holds its own reference to the state: it stops at the next batch and frees the engine on return.
  state_->cancel = true;
  auto state = std::make_shared<EngineState>();
  std::swap(state, state_);
  if (!state->busy) state->engine.reset();
}

Napi::Value EngineWrap::Describe(const Napi::CallbackInfo& info) {
  if (!state_->engine) return Napi::String::New(info.Env(), "closed");
  return Napi::String::New(info.Env(), state_->engine->describe());
}

}  // namespace smlmrt::addon
