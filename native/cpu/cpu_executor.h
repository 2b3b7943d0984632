// The CPU executor of a compiled Plan (lib/engine/plan.ts), in fp32: smlm-rt's third CPU runtime next to
// onnxruntime-node and onnxruntime-web (lib/backends/cpu.ts). It computes what the ONNX model outputs, so that the cpu
// backend keeps its own clamp-and-sum, rendering and localization:
//  - a maps head: the raw maps [n, 1, H*u, W*u] (before the clamp);
//  - a localization head: the raw `detections` [n, 5g^2, H, W] (NCHW); the rows the plan does not hold (sx, sy when
//    it was compiled for rendering with a fixed width) are zero, so the cpu backend compiles with every row kept
//    (CpuExecutorOptions::localizationRows = 5g^2, the TS compile option `localizationRows: 'all'`).
// Input: the normalized frames [n, 1, H, W] (the cpu backend normalizes them, as for onnxruntime).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../engine/engine.h"
#include "conv.h"
#include "micro_kernel.h"
#include "thread_pool.h"

namespace smlmrt::cpu {

struct CpuExecutorOptions {
  int threads = 0;           // 0: the cores this process may use
  int localizationRows = 0;  // rows the plan's localization head holds (3g^2 or 5g^2); 0: as its sigma mode says
};

struct CpuRunRequest {
  const float* input = nullptr;  // frameCount x height x width, normalized
  size_t inputLength = 0;
  int frameCount = 0, height = 0, width = 0;
  float* output = nullptr;  // frameCount x outputValuesPerFrame(height, width)
  size_t outputLength = 0;
};

class CpuExecutor {
 public:
  // Throws EngineError E_MODEL_INVALID for a plan it cannot execute (checked here, not at run time).
  CpuExecutor(const Plan& plan, const CpuExecutorOptions& options);
  // Blocking (a worker thread); one run at a time (serialized). Throws EngineError: E_FRAME_SIZE_UNSUPPORTED,
  // E_BAD_OPTIONS (buffer sizes), E_MODEL_INVALID (a plan whose shapes do not fit this frame size).
  void run(const CpuRunRequest& request);
  // Floats of output per frame of height x width: H*W*u^2 (maps) or 5g^2*H*W (detections).
  size_t outputValuesPerFrame(int height, int width) const;
  std::string describe() const;
  int threads() const { return pool_.threads(); }
  const char* kernelName() const { return kernelName_; }

 private:
  void checkFrameSize(int height, int width) const;

  Plan plan_;
  int headRows_ = 0;  // rows of the head's 1x1 conv
  std::vector<PackedConv> convs_;
  PackedConv head_;
  MicroKernel kernel_;
  const char* kernelName_ = "";
  bool profile_ = false;  // SMLM_RT_CPU_PROFILE=1: each conv's time and GFLOP/s on stderr
  ThreadPool pool_;
  std::mutex runMutex_;
  // Per-run storage, kept between runs of the same shape.
  std::vector<AlignedFloats> buffers_;  // index = position in plan_.buffers
  AlignedFloats scratch_, headOut_, zeros_;
};

}  // namespace smlmrt::cpu
