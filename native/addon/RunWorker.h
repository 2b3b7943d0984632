// One engine.run(request) or session.push(request) call: validates the request on the JS thread, runs it on a libuv
// worker thread, reports progress through a ThreadSafeFunction and settles a Promise with the statistics. run() is a
// session of one push (Engine::run), so both go through the same pipeline.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "EngineWrap.h"
#include "SessionWrap.h"

namespace smlmrt::addon {

// What the progress callback needs on the JS thread; shared with queued progress calls, which may outlive the worker.
struct ProgressState {
  Napi::FunctionReference callback;
  int delivered = -1;  // last framesDone passed to JS (JS thread only): keeps reports monotonic
};

class RunWorker : public Napi::AsyncWorker {
 public:
  // Returns the Promise. Throws a coded JS error for a malformed request (nothing has started then).
  // session: push into it (request.image is not used); null: engine.run (request.image is added into).
  static Napi::Promise Start(Napi::Env env, Napi::Object owner, std::shared_ptr<EngineState> state, Napi::Object request,
                             std::shared_ptr<SessionState> session = nullptr);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  RunWorker(Napi::Env env, std::shared_ptr<EngineState> state, std::shared_ptr<SessionState> session);
  void settle();
  void deliverProgress(int framesDone, int framesTotal);

  std::shared_ptr<EngineState> state_;
  std::shared_ptr<SessionState> session_;
  Napi::Promise::Deferred deferred_;
  RunRequest request_;
  // The caller's typed arrays stay referenced while the engine reads and writes their memory in place.
  Napi::ObjectReference frames_, image_, frameMaps_, engineObject_;
  std::shared_ptr<ProgressState> progress_;
  Napi::ThreadSafeFunction progressTsfn_;
  bool hasProgressTsfn_ = false;
  RunStats stats_;
  std::string errorCode_, errorMessage_;
};

}  // namespace smlmrt::addon
