// The optimization profile a TensorRT engine is built for: which batch sizes and frame sizes it accepts. Pure logic
// (no TensorRT, no CUDA) so that it can be reasoned about, and tested, on its own.
#pragma once

#include <string>

#include "../engine/engine.h"

namespace smlmrt::trt {

// What the profile needs to know about the model, taken from the Plan.
struct ModelGeometry {
  int upsampling = 1;    // output grid = frame * upsampling
  int sizeMultiple = 1;  // frame height/width must be a multiple of this...
  int minSize = 1;       // ...and at least this
  // Elements of the largest activation per camera pixel of one frame (channels * scale^2 over the plan's buffers and
  // the output map). Bounds the batch: see chooseProfile.
  double largestElementsPerPixel = 1;
};

ModelGeometry modelGeometryFromPlan(const Plan& plan);

// The smallest frame side the model accepts: the first multiple of sizeMultiple that is >= minSize.
int smallestFrameSide(const ModelGeometry& model);

// "" when a frame of this size can be run by the model, else why not (for E_FRAME_SIZE_UNSUPPORTED).
std::string frameSizeProblem(const ModelGeometry& model, int height, int width);

struct ShapeProfile {
  int maxBatch = 1;  // the batch range is always 1..maxBatch
  int minHeight = 1, optHeight = 1, maxHeight = 1;
  int minWidth = 1, optWidth = 1, maxWidth = 1;

  bool covers(int height, int width) const {
    return height >= minHeight && height <= maxHeight && width >= minWidth && width <= maxWidth;
  }
  // Stable text for cache file names, e.g. "b1-64_h16-64-64_w16-64-64".
  std::string key() const;
};

// TensorRT kernels index most tensors with 32-bit integers; the batch is capped so that no activation of the
// largest frame in the profile exceeds this many elements.
constexpr double kMaxTensorElements = 2147483647.0;

// The profile for a run of height x width frames: batch 1..min(requestedMaxBatch, cap), frame sizes from the
// smallest the model accepts up to the larger of this size and `previous`'s maximum (so that alternating sizes do
// not rebuild forever), optimized (kOPT) for exactly this size and the largest batch. `previous` may be null.
ShapeProfile chooseProfile(const ModelGeometry& model, int requestedMaxBatch, int height, int width, const ShapeProfile* previous);

}  // namespace smlmrt::trt
