#include "CpuRunWorker.h"

#include <chrono>

#include "JsErrors.h"
#include "RequestFields.h"

namespace smlmrt::addon {

CpuRunWorker::CpuRunWorker(Napi::Env env, std::shared_ptr<cpu::CpuExecutor> executor)
    : Napi::AsyncWorker(env, "smlm-rt:cpuRun"), executor_(std::move(executor)), deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise CpuRunWorker::Start(Napi::Env env, Napi::Object owner, std::shared_ptr<cpu::CpuExecutor> executor, const Napi::Value& value) {
  if (!value.IsObject()) throwCodedError(env, "E_BAD_OPTIONS", "cpu executor run(request) takes one object");
  Napi::Object request = value.As<Napi::Object>();
  Napi::Float32Array input = float32Field(env, request, "input", "cpu executor run");
  Napi::Float32Array output = float32Field(env, request, "output", "cpu executor run");
  const int frameCount = integerField(env, request, "frameCount", "cpu executor run", 1);
  const int height = integerField(env, request, "height", "cpu executor run", 1);
  const int width = integerField(env, request, "width", "cpu executor run", 1);
  const double inValues = static_cast<double>(frameCount) * height * width;
  if (static_cast<double>(input.ElementLength()) < inValues) {
    throwCodedError(env, "E_BAD_OPTIONS", "cpu executor run: input holds " + std::to_string(input.ElementLength()) + " values, fewer than " +
                                              std::to_string(frameCount) + "x" + std::to_string(height) + "x" + std::to_string(width));
  }
  const double outValues = static_cast<double>(frameCount) * static_cast<double>(executor->outputValuesPerFrame(height, width));
  if (static_cast<double>(output.ElementLength()) < outValues) {
    throwCodedError(env, "E_BAD_OPTIONS", "cpu executor run: output holds " + std::to_string(output.ElementLength()) + " values, fewer than " +
                                              std::to_string(static_cast<long long>(outValues)));
  }
  auto* worker = new CpuRunWorker(env, std::move(executor));
  worker->input_ = Napi::Persistent(input.As<Napi::Object>());
  worker->output_ = Napi::Persistent(output.As<Napi::Object>());
  worker->owner_ = Napi::Persistent(owner);
  cpu::CpuRunRequest& run = worker->request_;
  run.input = input.Data();
  run.inputLength = input.ElementLength();
  run.output = output.Data();
  run.outputLength = output.ElementLength();
  run.frameCount = frameCount;
  run.height = height;
  run.width = width;
  Napi::Promise promise = worker->deferred_.Promise();
  worker->Queue();
  return promise;
}

void CpuRunWorker::Execute() {
  const auto start = std::chrono::steady_clock::now();
  try {
    executor_->run(request_);
  } catch (...) {
    describeCurrentException(errorCode_, errorMessage_, cpuWording());
  }
  totalMs_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  executor_.reset();  // after close(), the executor is freed here, on the worker thread
}

void CpuRunWorker::OnOK() {
  Napi::Env env = Env();
  if (!errorCode_.empty()) {
    deferred_.Reject(makeCodedError(env, errorCode_, errorMessage_).Value());
    return;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("totalMs", Napi::Number::New(env, totalMs_));
  deferred_.Resolve(result);
}

void CpuRunWorker::OnError(const Napi::Error& error) { deferred_.Reject(error.Value()); }

}  // namespace smlmrt::addon
