// Turning CUDA status codes into EngineError, so that every failure reaches JS with the code and the driver's text.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "engine.h"

namespace smlmrt {

// Thrown (as an EngineError with code E_GPU_OUT_OF_MEMORY) when a device allocation fails; the runtime catches it to
// retry with a smaller batch before letting it reach the caller.
class DeviceOutOfMemory : public EngineError {
 public:
  explicit DeviceOutOfMemory(const std::string& where)
      : EngineError("E_GPU_OUT_OF_MEMORY", where + ": out of device memory") {}
};

// Any CUDA error other than an allocation failure is E_GPU with "<where>: <cudaGetErrorString>".
inline void checkCuda(cudaError_t status, const char* where) {
  if (status == cudaSuccess) return;
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // allocation failures are not sticky; clear them so that a retry starts clean
    throw DeviceOutOfMemory(where);
  }
  throw EngineError("E_GPU", std::string(where) + ": " + cudaGetErrorString(status));
}

// After a kernel launch: launch-configuration errors surface here, asynchronous faults at the next synchronization.
inline void checkLaunch(const char* where) { checkCuda(cudaGetLastError(), where); }

}  // namespace smlmrt
