// The TensorRT backend uses the engines' shared CUDA runtime (native/engine/cuda_resources.h): one checkCuda, one
// set of RAII types. These aliases keep the backend's code in its own namespace.
#pragma once

#include "../engine/cuda_resources.h"

namespace smlmrt::trt {

using smlmrt::checkCuda;
using smlmrt::CudaEvent;
using smlmrt::CudaStream;
using smlmrt::DeviceBuffer;
using smlmrt::PinnedBuffer;

}  // namespace smlmrt::trt
