#include "trt_logger.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace smlmrt::trt {

namespace {

// kINTERNAL_ERROR < kERROR < kWARNING < kINFO < kVERBOSE: a message is echoed when its severity <= the threshold.
// Returns false (echo nothing) when SMLM_RT_TRT_LOG is unset.
bool echoThresholdFromEnvironment(nvinfer1::ILogger::Severity* threshold) {
  const char* setting = std::getenv("SMLM_RT_TRT_LOG");
  if (setting == nullptr || *setting == '\0') return false;
  *threshold = nvinfer1::ILogger::Severity::kWARNING;
  if (std::strcmp(setting, "verbose") == 0) *threshold = nvinfer1::ILogger::Severity::kVERBOSE;
  if (std::strcmp(setting, "info") == 0) *threshold = nvinfer1::ILogger::Severity::kINFO;
  return true;
}

const char* severityName(nvinfer1::ILogger::Severity severity) {
  switch (severity) {
    case nvinfer1::ILogger::Severity::kINTERNAL_ERROR: return "internal error";
    case nvinfer1::ILogger::Severity::kERROR: return "error";
    case nvinfer1::ILogger::Severity::kWARNING: return "warning";
    case nvinfer1::ILogger::Severity::kINFO: return "info";
    case nvinfer1::ILogger::Severity::kVERBOSE: return "verbose";
  }
  return "?";
}

}  // namespace

ErrorCollectingLogger::ErrorCollectingLogger() { echo_ = echoThresholdFromEnvironment(&echoUpTo_); }

void ErrorCollectingLogger::log(Severity severity, nvinfer1::AsciiChar const* message) noexcept {
  if (message == nullptr) return;
  if (echo_ && static_cast<int>(severity) <= static_cast<int>(echoUpTo_)) {
    std::fprintf(stderr, "smlm-rt tensorrt %s: %s\n", severityName(severity), message);
  }
  if (severity != Severity::kERROR && severity != Severity::kINTERNAL_ERROR) return;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!errors_.empty()) errors_ += "; ";
    errors_ += message;
  } catch (...) {
    // log() must not throw (TensorRT calls it from noexcept code); losing one message is the lesser evil.
  }
}

std::string ErrorCollectingLogger::takeErrors() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string taken;
  taken.swap(errors_);
  return taken;
}

std::string ErrorCollectingLogger::peekErrors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

}  // namespace smlmrt::trt
