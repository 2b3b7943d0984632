// TensorRT reports what went wrong only through its ILogger; this one keeps the errors so that a failed call can be
// turned into an EngineError carrying TensorRT's own words.
#pragma once

#include <NvInferRuntime.h>

#include <mutex>
#include <string>

namespace smlmrt::trt {

class ErrorCollectingLogger final : public nvinfer1::ILogger {
 public:
  // Errors are always kept. Warnings and info go to stderr only when SMLM_RT_TRT_LOG is set in the environment
  // (SMLM_RT_TRT_LOG=verbose for everything), because a library must not print on its own.
  ErrorCollectingLogger();

  void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override;

  // The errors logged since the last call, joined with "; ", and forgets them.
  std::string takeErrors();

  // The errors logged since the last call to takeErrors, without forgetting them.
  std::string peekErrors() const;

 private:
  mutable std::mutex mutex_;
  std::string errors_;
  bool echo_ = false;
  Severity echoUpTo_ = Severity::kWARNING;
};

}  // namespace smlmrt::trt
