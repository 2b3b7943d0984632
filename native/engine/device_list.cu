// listDevices(): what CUDA devices exist, without ever throwing (no driver, no GPU, a broken install: an empty list
// and the reason).
#include <cuda_runtime.h>

#include "engine.h"

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace smlmrt {

namespace {

// The CUDA runtime answers "driver version is insufficient" both when the driver is too old and when there is no
// driver at all; a user needs to know which of the two it is.
std::string explainInsufficientDriver() {
#if defined(__linux__)
  void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!driver) return "no NVIDIA driver is installed (libcuda.so.1 cannot be loaded)";
  dlclose(driver);
#endif
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  return "the NVIDIA driver is too old for this build's CUDA runtime " + std::to_string(runtime / 1000) + "." +
         std::to_string((runtime % 1000) / 10) + ": update the driver";
}

}  // namespace

std::vector<DeviceInfo> listDevices(std::string* reasonIfNone) {
  std::vector<DeviceInfo> devices;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reasonIfNone) {
      *reasonIfNone = status == cudaErrorInsufficientDriver
                          ? explainInsufficientDriver()
                          : std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    }
    return devices;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    DeviceInfo info;
    info.ordinal = i;
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.totalMemory = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
    devices.push_back(info);
  }
  if (devices.empty() && reasonIfNone) *reasonIfNone = "no CUDA device found";
  return devices;
}

}  // namespace smlmrt
