// Module init of smlm_rt.node: listDevices(), deviceMemory(), features, createCudaEngine(), createCpuExecutor(),
// createTensorRtEngine() when compiled in.
// Loading never touches the GPU: a machine without a driver can load the addon and is told why there is no device.
#include <napi.h>

#include <cuda_runtime_api.h>

#include <memory>
#include <vector>

#include "AddonData.h"
#include "CpuExecutorWrap.h"
#include "CreateCpuExecutorWorker.h"
#include "CreateEngineWorker.h"
#include "EngineWrap.h"
#include "JsErrors.h"
#include "PlanFromJs.h"
#include "SessionWrap.h"
#include "../cpu/micro_kernel.h"

#ifndef SMLMRT_VERSION
#define SMLMRT_VERSION "unknown"
#endif
#ifndef SMLMRT_CUDA_ARCHITECTURES
#define SMLMRT_CUDA_ARCHITECTURES "unknown"
#endif

namespace smlmrt::addon {
namespace {

Napi::Value ListDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string reason;
  std::vector<DeviceInfo> devices = listDevices(&reason);
  Napi::Array list = Napi::Array::New(env, devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    const DeviceInfo& device = devices[i];
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("ordinal", device.ordinal);
    entry.Set("name", device.name);
    entry.Set("major", device.major);
    entry.Set("minor", device.minor);
    entry.Set("totalMemoryBytes", static_cast<double>(device.totalMemory));
    entry.Set("multiprocessors", device.multiprocessors);
    list.Set(static_cast<uint32_t>(i), entry);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("devices", list);
  if (devices.empty()) result.Set("reason", reason.empty() ? std::string("no CUDA device is visible") : reason);
  return result;
}

// {freeBytes, totalBytes} of a device (cudaMemGetInfo): how tests and benchmarks see that device memory stays flat.
Napi::Value DeviceMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int ordinal = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  int previous = 0;
  cudaError_t status = cudaGetDevice(&previous);
  if (status == cudaSuccess) status = cudaSetDevice(ordinal);
  size_t freeBytes = 0, totalBytes = 0;
  if (status == cudaSuccess) status = cudaMemGetInfo(&freeBytes, &totalBytes);
  if (status == cudaSuccess) status = cudaSetDevice(previous);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throwCodedError(env, "E_GPU", std::string("deviceMemory: ") + cudaGetErrorString(status));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("freeBytes", static_cast<double>(freeBytes));
  result.Set("totalBytes", static_cast<double>(totalBytes));
  return result;
}

Napi::Object Features(Napi::Env env) {
  Napi::Object features = Napi::Object::New(env);
  features.Set("cuda", true);
#ifdef SMLMRT_WITH_TENSORRT
  features.Set("tensorrt", true);
#ifdef SMLMRT_TENSORRT_VERSION
  features.Set("tensorrtVersion", SMLMRT_TENSORRT_VERSION);
#endif
#else
  features.Set("tensorrt", false);
#endif
#ifdef SMLMRT_CUDNN_VERSION
  features.Set("cudnn", true);
  features.Set("cudnnVersion", SMLMRT_CUDNN_VERSION);
#else
  features.Set("cudnn", false);
#endif
  features.Set("cudaRuntimeVersion", CUDART_VERSION);
  features.Set("cudaArchitectures", SMLMRT_CUDA_ARCHITECTURES);
  features.Set("version", SMLMRT_VERSION);
  return features;
}

Napi::Object planArgument(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throwCodedError(info.Env(), "E_BAD_OPTIONS", "the first argument must be an execution plan");
  return info[0].As<Napi::Object>();
}

Napi::Value CreateCudaEngine(const Napi::CallbackInfo& info) {
  auto plan = std::make_shared<Plan>(planFromJs(planArgument(info)));
  EngineOptions options = engineOptionsFromJs(info.Env(), info[1]);
  return CreateEngineWorker::Start(info.Env(), "smlm-rt:createCudaEngine", [plan, options] { return createCudaEngine(*plan, options); });
}

#ifdef SMLMRT_WITH_TENSORRT
Napi::Value CreateTensorRtEngine(const Napi::CallbackInfo& info) {
  auto plan = std::make_shared<Plan>(planFromJs(planArgument(info)));
  // The TensorRT network ends in the ONNX output; rendering a localization head's detections is not wired into it.
  // Refused rather than run as a maps model (which would clamp and sum raw detections: silently wrong).
  if (plan->head.kind != HeadKind::Maps) {
    throwCodedError(info.Env(), "E_BACKEND_UNAVAILABLE",
                    "the tensorrt backend does not run localization-head models; use the cuda or cpu backend");
  }
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throwCodedError(info.Env(), "E_BAD_OPTIONS", "createTensorRtEngine: the second argument must be the ONNX bytes (Uint8Array)");
  }
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  auto onnx = std::make_shared<std::vector<uint8_t>>(bytes.Data(), bytes.Data() + bytes.ElementLength());
  EngineOptions options = engineOptionsFromJs(info.Env(), info[2]);
  return CreateEngineWorker::Start(info.Env(), "smlm-rt:createTensorRtEngine",
                                   [plan, onnx, options] { return createTensorRtEngine(*plan, *onnx, options); });
}
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->engineConstructor = Napi::Persistent(EngineWrap::DefineClass(env));
  data->sessionConstructor = Napi::Persistent(SessionWrap::DefineClass(env));
  data->cpuExecutorConstructor = Napi::Persistent(CpuExecutorWrap::DefineClass(env));
  env.SetInstanceData(data);  // deleted by node-addon-api when the environment is torn down

  exports.Set("listDevices", Napi::Function::New(env, ListDevices, "listDevices"));
  exports.Set("features", Features(env));
  exports.Set("deviceMemory", Napi::Function::New(env, DeviceMemory, "deviceMemory"));
  exports.Set("createCudaEngine", Napi::Function::New(env, CreateCudaEngine, "createCudaEngine"));
  // The CPU executor of the same plans (native/cpu/): no CUDA call, usable on any x86-64 without a driver.
  exports.Set("createCpuExecutor", Napi::Function::New(env, CreateCpuExecutor, "createCpuExecutor"));
  const char* cpuKernel = "";
  cpu::selectMicroKernel(&cpuKernel);  // a cpuid check only
  exports.Set("cpuKernel", cpuKernel);
#ifdef SMLMRT_WITH_TENSORRT
  exports.Set("createTensorRtEngine", Napi::Function::New(env, CreateTensorRtEngine, "createTensorRtEngine"));
#endif
  return exports;
}

}  // namespace
}  // namespace smlmrt::addon

// NODE_API_MODULE wants a plain identifier.
static Napi::Object InitSmlmRt(Napi::Env env, Napi::Object exports) { return smlmrt::addon::Init(env, exports); }
NODE_API_MODULE(smlm_rt, InitSmlmRt)
