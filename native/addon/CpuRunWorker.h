// One NativeCpuExecutor.run(request): checks the request on the JS thread, runs the executor on a libuv worker thread
// (the executor's own thread pool does the work) and settles a Promise with {totalMs}.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "../cpu/cpu_executor.h"

namespace smlmrt::addon {

class CpuRunWorker : public Napi::AsyncWorker {
 public:
  // Returns the Promise. Throws a coded JS error (E_BAD_OPTIONS) for a malformed request (nothing has started then).
  static Napi::Promise Start(Napi::Env env, Napi::Object owner, std::shared_ptr<cpu::CpuExecutor> executor, const Napi::Value& request);

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  CpuRunWorker(Napi::Env env, std::shared_ptr<cpu::CpuExecutor> executor);

  std::shared_ptr<cpu::CpuExecutor> executor_;
  Napi::Promise::Deferred deferred_;
  cpu::CpuRunRequest request_;
  // The caller's typed arrays (and the executor object) stay referenced while the run reads and writes them in place.
  Napi::ObjectReference input_, output_, owner_;
  double totalMs_ = 0;
  std::string errorCode_, errorMessage_;
};

}  // namespace smlmrt::addon
