#include "shape_profile.h"

#include <algorithm>
#include <cmath>

namespace smlmrt::trt {

ModelGeometry modelGeometryFromPlan(const Plan& plan) {
  ModelGeometry model;
  model.upsampling = std::max(1, plan.upsampling);
  model.sizeMultiple = std::max(1, plan.sizeMultiple);
  model.minSize = std::max(1, plan.minSize);
  // The output map: one channel on the upsampled grid. (The head's 1x1-conv output before depth-to-space has the
  // same count: upscale^2 channels at 1/upscale of the output grid.)
  double largest = static_cast<double>(model.upsampling) * model.upsampling;
  for (const PlanBuffer& buffer : plan.buffers) {
    const double scale = static_cast<double>(buffer.scaleNum) / std::max(1, buffer.scaleDen);
    largest = std::max(largest, buffer.channels * scale * scale);
  }
  // A phased conv stands for "nearest upsample, then conv" in the original graph that TensorRT runs, whose
  // upsampled input (cin channels at the input's scale times `upsample`) may be the largest tensor of all
  // (Deep-STORM: 64 channels at 8x before its last conv, 4096 elements per camera pixel).
  for (const ConvOp& conv : plan.convs) {
    if (conv.upsample <= 1) continue;
    double inputScale = 1;  // InputTransform::Frame reads the camera frame itself
    for (const PlanBuffer& buffer : plan.buffers) {
      if (conv.transform != InputTransform::Frame && buffer.id == conv.input.buffer) {
        inputScale = static_cast<double>(buffer.scaleNum) / std::max(1, buffer.scaleDen);
        if (conv.transform == InputTransform::MaxPool2) inputScale /= 2;
      }
    }
    const double scale = inputScale * conv.upsample;
    largest = std::max(largest, conv.cin * scale * scale);
  }
  model.largestElementsPerPixel = largest;
  return model;
}

int smallestFrameSide(const ModelGeometry& model) {
  const int multiple = std::max(1, model.sizeMultiple);
  return ((std::max(1, model.minSize) + multiple - 1) / multiple) * multiple;
}

std::string frameSizeProblem(const ModelGeometry& model, int height, int width) {
  if (height <= 0 || width <= 0) return "frame size " + std::to_string(height) + "x" + std::to_string(width) + " is empty";
  if (height < model.minSize || width < model.minSize) {
    return "frames of " + std::to_string(height) + "x" + std::to_string(width) + " px are smaller than the model's minimum of " +
           std::to_string(model.minSize) + " px";
  }
  if (height % model.sizeMultiple != 0 || width % model.sizeMultiple != 0) {
    return "frames of " + std::to_string(height) + "x" + std::to_string(width) + " px are not a multiple of " +
           std::to_string(model.sizeMultiple) + " px, which the model requires";
  }
  return "";
}

std::string ShapeProfile::key() const {
  return "b1-" + std::to_string(maxBatch) + "_h" + std::to_string(minHeight) + "-" + std::to_string(optHeight) + "-" +
         std::to_string(maxHeight) + "_w" + std::to_string(minWidth) + "-" + std::to_string(optWidth) + "-" + std::to_string(maxWidth);
}

ShapeProfile chooseProfile(const ModelGeometry& model, int requestedMaxBatch, int height, int width, const ShapeProfile* previous) {
  ShapeProfile profile;
  const int smallest = smallestFrameSide(model);
  profile.minHeight = std::min(smallest, height);
  profile.minWidth = std::min(smallest, width);
  profile.optHeight = height;
  profile.optWidth = width;
  profile.maxHeight = previous != nullptr ? std::max(height, previous->maxHeight) : height;
  profile.maxWidth = previous != nullptr ? std::max(width, previous->maxWidth) : width;

  const double elementsPerFrame = static_cast<double>(profile.maxHeight) * profile.maxWidth * model.largestElementsPerPixel;
  const double cap = std::floor(kMaxTensorElements / std::max(1.0, elementsPerFrame));
  const int requested = requestedMaxBatch > 0 ? requestedMaxBatch : 64;
  profile.maxBatch = static_cast<int>(std::max(1.0, std::min(static_cast<double>(requested), cap)));
  return profile;
}

}  // namespace smlmrt::trt
