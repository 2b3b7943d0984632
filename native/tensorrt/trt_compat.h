// The few places where the TensorRT 10.x and 11.x public APIs differ, in one file, so that the rest of the backend
// is written once. Everything is selected at compile time from NvInferVersion.h (NV_TENSORRT_MAJOR/MINOR).
#pragma once

#include <NvInfer.h>
#include <NvInferVersion.h>

#include <cstdint>

#if NV_TENSORRT_MAJOR < 10
#error "smlm-rt's TensorRT backend needs TensorRT 10 or newer (enqueueV3, user-managed scratch memory, parser node names)"
#endif

// True when the headers are TensorRT major.minor or newer.
#define SMLMRT_TRT_AT_LEAST(major, minor) \
  (NV_TENSORRT_MAJOR > (major) || (NV_TENSORRT_MAJOR == (major) && NV_TENSORRT_MINOR >= (minor)))

namespace smlmrt::trt {

// TensorRT 11 networks are always strongly typed: there is no FP16 builder flag any more, so FP16 comes from the
// model itself (smlm-rt's FP16 ONNX conversion). TensorRT 10 takes the FP32 model and the kFP16 builder flag.
constexpr bool kStronglyTypedOnly = NV_TENSORRT_MAJOR >= 11;

// Network creation flags. TensorRT 10: explicit batch is the default (its flag is deprecated) and the network is
// weakly typed so that BuilderFlag::kFP16 applies. TensorRT 11: strongly typed always; its kSTRONGLY_TYPED flag is
// deprecated and ignored (NvInfer.h, NetworkDefinitionCreationFlag), so nothing is passed.
constexpr nvinfer1::NetworkDefinitionCreationFlags kNetworkFlags = 0U;

// Lets the builder pick FP16 kernels (TensorRT 10 only). kFP16 is marked deprecated from 10.12 on in favour of
// strongly typed networks, but it is the documented weak-typing switch for the whole 10.x line; the warning is
// silenced here, and only here, on purpose.
inline void allowFp16Kernels(nvinfer1::IBuilderConfig& config) {
#if !SMLMRT_TRT_AT_LEAST(11, 0)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  config.setFlag(nvinfer1::BuilderFlag::kFP16);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#else
  (void)config;
#endif
}

// Hands user-managed scratch memory to a context. setDeviceMemoryV2 (with a size TensorRT can check) exists from
// 10.1; 10.0 only has setDeviceMemory.
inline void setScratchMemory(nvinfer1::IExecutionContext& context, void* memory, int64_t bytes) {
#if SMLMRT_TRT_AT_LEAST(10, 1)
  context.setDeviceMemoryV2(memory, bytes);
#else
  (void)bytes;
  context.setDeviceMemory(memory);
#endif
}

}  // namespace smlmrt::trt
