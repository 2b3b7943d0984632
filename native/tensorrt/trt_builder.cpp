#include "trt_builder.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>

#include <memory>

#include "../engine/engine.h"
#include "file_cache.h"
#include "trt_compat.h"

namespace smlmrt::trt {

namespace {

// What TensorRT said, or a fallback when it said nothing.
std::string reason(ErrorCollectingLogger& logger, const char* fallback) {
  std::string errors = logger.takeErrors();
  return errors.empty() ? std::string(fallback) : errors;
}

[[noreturn]] void fail(const std::string& what, ErrorCollectingLogger& logger, const char* fallback) {
  throw EngineError("E_GPU", "TensorRT: " + what + ": " + reason(logger, fallback));
}

// The parser keeps the ONNX weights that the network points at, so it must live as long as the network is used;
// it is declared last so that it is destroyed first, as in NVIDIA's samples.
struct ParsedNetwork {
  std::unique_ptr<nvinfer1::IBuilder> builder;
  std::unique_ptr<nvinfer1::INetworkDefinition> network;
  std::unique_ptr<nvonnxparser::IParser> parser;
};

std::string parserErrors(const nvonnxparser::IParser& parser) {
  std::string text;
  for (int i = 0; i < parser.getNbErrors(); ++i) {
    const nvonnxparser::IParserError* error = parser.getError(i);
    if (error == nullptr) continue;
    if (!text.empty()) text += "; ";
    if (error->node() >= 0) {
      text += "node " + std::to_string(error->node());
      const char* op = error->nodeOperator();
      const char* name = error->nodeName();
      if (op != nullptr && *op != '\0') text += std::string(" (") + op + (name != nullptr && *name != '\0' ? std::string(" '") + name + "'" : "") + ")";
      text += ": ";
    }
    text += error->desc() != nullptr ? error->desc() : "unknown parser error";
  }
  return text;
}

ParsedNetwork parseOnnx(const std::vector<uint8_t>& onnx, ErrorCollectingLogger& logger) {
  if (onnx.empty()) throw EngineError("E_GPU", "TensorRT: no ONNX model bytes were given");
  ParsedNetwork parsed;
  parsed.builder.reset(nvinfer1::createInferBuilder(logger));
  if (!parsed.builder) fail("createInferBuilder failed", logger, "is libnvinfer usable with this driver and GPU?");
  parsed.network.reset(parsed.builder->createNetworkV2(kNetworkFlags));
  if (!parsed.network) fail("createNetworkV2 failed", logger, "no message");
  parsed.parser.reset(nvonnxparser::createParser(*parsed.network, logger));
  if (!parsed.parser) fail("createParser failed", logger, "is libnvonnxparser installed?");
  if (!parsed.parser->parse(onnx.data(), onnx.size())) {
    std::string errors = parserErrors(*parsed.parser);
    if (errors.empty()) errors = reason(logger, "no message");
    logger.takeErrors();
    throw EngineError("E_GPU", "TensorRT could not parse the ONNX model: " + errors);
  }
  return parsed;
}

OnnxInterface describeInterface(nvinfer1::INetworkDefinition& network) {
  if (network.getNbInputs() != 1 || network.getNbOutputs() != 1) {
    throw EngineError("E_GPU", "TensorRT: the model must have exactly one input and one output, it has " +
                                   std::to_string(network.getNbInputs()) + " and " + std::to_string(network.getNbOutputs()));
  }
  nvinfer1::ITensor* input = network.getInput(0);
  nvinfer1::ITensor* output = network.getOutput(0);
  const nvinfer1::Dims dims = input->getDimensions();
  if (dims.nbDims != 4) {
    throw EngineError("E_GPU", std::string("TensorRT: the model input '") + input->getName() + "' must be [N,C,H,W], it has rank " +
                                   std::to_string(dims.nbDims));
  }
  OnnxInterface io;
  io.inputName = input->getName();
  io.outputName = output->getName();
  io.inputChannels = dims.d[1] > 0 ? static_cast<int>(dims.d[1]) : 1;
  const nvinfer1::DataType type = input->getType();
  if (type != nvinfer1::DataType::kFLOAT && type != nvinfer1::DataType::kHALF) {
    throw EngineError("E_GPU", "TensorRT: the model input must be float32 or float16");
  }
  io.halfInput = type == nvinfer1::DataType::kHALF;
  return io;
}

nvinfer1::Dims4 inputDims(const OnnxInterface& io, int batch, int height, int width) {
  return nvinfer1::Dims4(batch, io.inputChannels, height, width);
}

}  // namespace

OnnxInterface inspectOnnx(const std::vector<uint8_t>& onnx, ErrorCollectingLogger& logger) {
  ParsedNetwork parsed = parseOnnx(onnx, logger);
  return describeInterface(*parsed.network);
}

std::vector<char> buildSerializedEngine(const BuildRequest& request, ErrorCollectingLogger& logger) {
  ParsedNetwork parsed = parseOnnx(*request.onnx, logger);
  const OnnxInterface io = describeInterface(*parsed.network);

  std::unique_ptr<nvinfer1::IBuilderConfig> config(parsed.builder->createBuilderConfig());
  if (!config) fail("createBuilderConfig failed", logger, "no message");
  if (request.fp16 && !kStronglyTypedOnly) allowFp16Kernels(*config);
  if (request.stream != nullptr) config->setProfileStream(request.stream);

  // Owned by the builder (NvInfer.h: "users must not attempt to delete the returned pointer").
  nvinfer1::IOptimizationProfile* profile = parsed.builder->createOptimizationProfile();
  const ShapeProfile& shapes = request.profile;
  const char* input = io.inputName.c_str();
  const bool dimensionsSet =
      profile != nullptr &&
      profile->setDimensions(input, nvinfer1::OptProfileSelector::kMIN, inputDims(io, 1, shapes.minHeight, shapes.minWidth)) &&
      profile->setDimensions(input, nvinfer1::OptProfileSelector::kOPT, inputDims(io, shapes.maxBatch, shapes.optHeight, shapes.optWidth)) &&
      profile->setDimensions(input, nvinfer1::OptProfileSelector::kMAX, inputDims(io, shapes.maxBatch, shapes.maxHeight, shapes.maxWidth));
  if (!dimensionsSet || config->addOptimizationProfile(profile) < 0) {
    fail("the optimization profile " + shapes.key() + " was refused", logger, "no message");
  }

  // The timing cache makes rebuilds (new frame size, new model of the same shapes) fast: TensorRT skips timing the
  // layers it has timed before on this GPU. A cache from another GPU or TensorRT version is refused by TensorRT's
  // own header check (ignoreMismatch = false); then an empty cache is used and overwritten.
  std::unique_ptr<nvinfer1::ITimingCache> timingCache;
  if (!request.timingCachePath.empty()) {
    const auto blob = readWholeFile(request.timingCachePath);
    timingCache.reset(blob ? config->createTimingCache(blob->data(), blob->size()) : nullptr);
    if (!timingCache || !config->setTimingCache(*timingCache, false)) {
      logger.takeErrors();
      timingCache.reset(config->createTimingCache(nullptr, 0));
      if (!timingCache || !config->setTimingCache(*timingCache, false)) fail("the timing cache could not be set", logger, "no message");
    }
  }

  std::unique_ptr<nvinfer1::IHostMemory> serialized(parsed.builder->buildSerializedNetwork(*parsed.network, *config));
  if (!serialized || serialized->size() == 0) fail("building the engine failed", logger, "buildSerializedNetwork returned nothing");

  if (timingCache) {
    const nvinfer1::ITimingCache* updated = config->getTimingCache();
    std::unique_ptr<nvinfer1::IHostMemory> blob(updated != nullptr ? updated->serialize() : nullptr);
    if (blob) writeFileAtomically(request.timingCachePath, blob->data(), blob->size());
  }
  const char* bytes = static_cast<const char*>(serialized->data());
  return std::vector<char>(bytes, bytes + serialized->size());
}

}  // namespace smlmrt::trt
