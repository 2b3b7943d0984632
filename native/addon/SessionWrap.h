// The JS object behind lib/native/binding.ts's NativeSession: one smlmrt::Session (the image on the device) opened by
// engine.openSession(geometry). push() runs on a worker thread (RunWorker), snapshot()/finish() too (SnapshotWorker);
// close() ends it without a result.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "../engine/engine.h"
#include "EngineWrap.h"

namespace smlmrt::addon {

// Shared between the JS object and a call in flight. Member order is destruction order reversed: the session goes
// before the engine it runs on.
struct SessionState {
  std::shared_ptr<Engine> engine;        // keeps the engine alive while the session exists, even after engine.close()
  std::shared_ptr<EngineState> flags;    // the engine's cancel and busy flags (one call at a time per engine)
  std::unique_ptr<Session> session;
  std::atomic<bool> busy{false};
  bool closeRequested = false;           // JS thread only: close() while a call was in flight
  // Called on the JS thread when a call settles: frees the session if close() came meanwhile.
  void settled() {
    busy = false;
    if (closeRequested) session.reset();
  }
};

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<SessionState> state);

  explicit SessionWrap(const Napi::CallbackInfo& info);
  ~SessionWrap() override = default;

 private:
  Napi::Value Push(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  // Takes both busy flags (session and engine) or throws a coded error; returns the state.
  std::shared_ptr<SessionState> claim(Napi::Env env, const char* what);

  std::shared_ptr<SessionState> state_;
};

// engine.openSession(geometry): reads {height, width, scale, batchSize, preparation?} and opens the session on the JS
// thread (it allocates the image; nothing runs yet).
Napi::Value OpenSession(Napi::Env env, const std::shared_ptr<EngineState>& engine, const Napi::Value& geometry);

}  // namespace smlmrt::addon
