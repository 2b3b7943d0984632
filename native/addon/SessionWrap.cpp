#include "SessionWrap.h"

#include <cmath>
#include <string>

#include "AddonData.h"
#include "JsErrors.h"
#include "RequestFields.h"
#include "RunWorker.h"
#include "SnapshotWorker.h"

namespace smlmrt::addon {
namespace {

Napi::Object objectField(Napi::Env env, const Napi::Object& from, const char* name, const char* where) {
  Napi::Value value = from.Get(name);
  if (!value.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", std::string(where) + ": " + name + " must be an object");
  return value.As<Napi::Object>();
}

double numberField(Napi::Env env, const Napi::Object& from, const char* name, const char* where) {
  Napi::Value value = from.Get(name);
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!std::isfinite(number)) throwCodedError(env, "E_BAD_OPTIONS", std::string(where) + ": " + name + " must be a finite number");
  return number;
}

void readSize(Napi::Env env, const Napi::Object& from, const char* name, const char* where, int* height, int* width) {
  Napi::Object size = objectField(env, from, name, where);
  *height = integerField(env, size, "height", where, 1);
  *width = integerField(env, size, "width", where, 1);
}

bool present(const Napi::Value& v) { return !v.IsUndefined() && !v.IsNull(); }

}  // namespace

Napi::Value OpenSession(Napi::Env env, const std::shared_ptr<EngineState>& engineState, const Napi::Value& value) {
  if (!engineState->engine) throwCodedError(env, "E_CLOSED", "the engine was closed");
  if (!value.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "openSession(geometry) takes one object");
  const Napi::Object geometry = value.As<Napi::Object>();
  const char* where = "openSession";
  SessionOptions options;
  options.height = integerField(env, geometry, "height", where, 1);
  options.width = integerField(env, geometry, "width", where, 1);
  options.scale = static_cast<float>(numberField(env, geometry, "scale", where));
  if (!(options.scale >= 0)) throwCodedError(env, "E_BAD_OPTIONS", "openSession: scale must be >= 0");
  options.batchSize = present(geometry.Get("batchSize")) ? integerField(env, geometry, "batchSize", where, 0) : 0;
  const Napi::Value prep = geometry.Get("preparation");
  if (present(prep)) {
    if (!prep.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation must be an object");
    const Napi::Object plan = prep.As<Napi::Object>();
    FramePreparation& p = options.preparation;
    const Napi::Value resampled = plan.Get("resampled"), padded = plan.Get("padded");
    int toH = options.height, toW = options.width;
    if (present(padded)) {
      if (!padded.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation.padded must be an object");
      const Napi::Object pad = padded.As<Napi::Object>();
      const Napi::Value mode = pad.Get("mode");
      if (!mode.IsString() || mode.As<Napi::String>().Utf8Value() != "reflect")
        throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation.padded.mode must be 'reflect'");
      int padToH = 0, padToW = 0;
      readSize(env, pad, "from", "openSession: preparation.padded", &toH, &toW);
      readSize(env, pad, "to", "openSession: preparation.padded", &padToH, &padToW);
      if (padToH != options.height || padToW != options.width)
        throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation.padded.to must be the session's frame size");
      p.pad = true;
    }
    p.sourceHeight = toH;
    p.sourceWidth = toW;
    if (present(resampled)) {
      if (!resampled.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation.resampled must be an object");
      const Napi::Object r = resampled.As<Napi::Object>();
      const char* rw = "openSession: preparation.resampled";
      p.resample = true;
      p.fromNm = numberField(env, r, "fromNm", rw);
      p.toNm = numberField(env, r, "toNm", rw);
      readSize(env, r, "from", rw, &p.sourceHeight, &p.sourceWidth);
      readSize(env, r, "to", rw, &p.resampledHeight, &p.resampledWidth);
      if (p.resampledHeight != toH || p.resampledWidth != toW)
        throwCodedError(env, "E_BAD_OPTIONS", "openSession: preparation.resampled.to must be the padded frames' size (or the session's)");
    }
    options.prepare = p.resample || p.pad;
  }
  auto state = std::make_shared<SessionState>();
  state->engine = engineState->engine;
  state->flags = engineState;
  try {
    state->session = engineState->engine->openSession(options);
  } catch (...) {
    std::string code, message;
    describeCurrentException(code, message, gpuWording(" while opening a session"));
    throwCodedError(env, code, message);
  }
  return SessionWrap::NewInstance(env, state);
}

Napi::Function SessionWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<SessionWrap>::DefineClass(env, "NativeSession",
                                              {
                                                  InstanceMethod<&SessionWrap::Push>("push"),
                                                  InstanceMethod<&SessionWrap::Snapshot>("snapshot"),
                                                  InstanceMethod<&SessionWrap::Finish>("finish"),
                                                  InstanceMethod<&SessionWrap::Close>("close"),
                                              });
}

Napi::Object SessionWrap::NewInstance(Napi::Env env, std::shared_ptr<SessionState> state) {
  auto* holder = new std::shared_ptr<SessionState>(std::move(state));
  Napi::External<std::shared_ptr<SessionState>> handle =
      Napi::External<std::shared_ptr<SessionState>>::New(env, holder, [](Napi::Env, std::shared_ptr<SessionState>* p) { delete p; });
  return env.GetInstanceData<AddonData>()->sessionConstructor.New({handle});
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : ObjectWrap<SessionWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throwCodedError(info.Env(), "E_BAD_OPTIONS", "NativeSession cannot be constructed directly: use engine.openSession()");
  }
  state_ = *info[0].As<Napi::External<std::shared_ptr<SessionState>>>().Data();
}

std::shared_ptr<SessionState> SessionWrap::claim(Napi::Env env, const char* what) {
  if (!state_ || !state_->session || state_->closeRequested) throwCodedError(env, "E_CLOSED", std::string(what) + ": the session was closed or finished");
  if (state_->busy.exchange(true)) throwCodedError(env, "E_GPU", std::string(what) + ": a call is already in flight on this session (calls must be queued)");
  if (state_->flags->busy.exchange(true)) {
    state_->busy = false;
    throwCodedError(env, "E_GPU", std::string(what) + ": a call is already in flight on this engine (calls must be queued)");
  }
  return state_;
}

Napi::Value SessionWrap::Push(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "push(request) takes one object");
  std::shared_ptr<SessionState> state = claim(env, "push");
  try {
    return RunWorker::Start(env, info.This().As<Napi::Object>(), state->flags, info[0].As<Napi::Object>(), state);
  } catch (...) {
    state->flags->busy = false;
    state->settled();
    throw;
  }
}

Napi::Value SessionWrap::Snapshot(const Napi::CallbackInfo& info) {
  std::shared_ptr<SessionState> state = claim(info.Env(), "snapshot");
  return SnapshotWorker::Start(info.Env(), info.This().As<Napi::Object>(), state, false);
}

Napi::Value SessionWrap::Finish(const Napi::CallbackInfo& info) {
  std::shared_ptr<SessionState> state = claim(info.Env(), "finish");
  return SnapshotWorker::Start(info.Env(), info.This().As<Napi::Object>(), state, true);
}

void SessionWrap::Close(const Napi::CallbackInfo&) {
  if (!state_) return;
  if (state_->busy) {
    // A push in flight stops at its next batch (the engine's cancel flag) and frees the session when it settles.
    state_->closeRequested = true;
    state_->flags->cancel = true;
  } else {
    state_->closeRequested = true;
    state_->session.reset();
  }
}

}  // namespace smlmrt::addon
