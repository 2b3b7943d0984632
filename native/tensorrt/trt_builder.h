// ONNX bytes -> serialized TensorRT engine, with nvonnxparser, one optimization profile and a persisted timing cache.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shape_profile.h"
#include "trt_logger.h"

namespace smlmrt::trt {

// The model's input and output as TensorRT's ONNX parser sees them.
struct OnnxInterface {
  std::string inputName;   // "frames" by the metadata contract
  std::string outputName;  // "maps"
  int inputChannels = 1;   // [N, C, H, W]; C is 1 for smlm-rt models
  bool halfInput = false;  // true for smlm-rt's FP16 ONNX (TensorRT 11 path)
};

// Parses the ONNX once to check that TensorRT accepts it and that it has one [N,C,H,W] input and one output.
// Throws EngineError("E_GPU", ...) with the parser's messages otherwise.
OnnxInterface inspectOnnx(const std::vector<uint8_t>& onnx, ErrorCollectingLogger& logger);

struct BuildRequest {
  const std::vector<uint8_t>* onnx = nullptr;
  ShapeProfile profile;
  // TensorRT 10: set BuilderFlag::kFP16 (weak typing). TensorRT 11: ignored; the precision is the ONNX's own.
  bool fp16 = true;
  // Where the timing cache lives ("" = none). Loaded before the build when present, saved after it.
  std::string timingCachePath;
  // The stream the builder uses for its timing runs.
  cudaStream_t stream = nullptr;
};

// Builds the engine (this is the slow part: TensorRT times its kernel candidates on the GPU) and returns the plan
// bytes. Throws EngineError("E_GPU", ...) with TensorRT's messages on failure.
std::vector<char> buildSerializedEngine(const BuildRequest& request, ErrorCollectingLogger& logger);

}  // namespace smlmrt::trt
