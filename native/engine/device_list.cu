// listDevices(): what CUDA devices exist, without ever throwing (no driver, no GPU, a broken install: an empty list
// and the reason).
#include <cuda_runtime.h>

#include "engine.h"

namespace smlmrt {

std::vector<DeviceInfo> listDevices(std::string* reasonIfNone) {
  std::vector<DeviceInfo> devices;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reasonIfNone) *reasonIfNone = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
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
