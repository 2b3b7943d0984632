// Tests of the TensorRT backend's parts that need neither TensorRT nor a GPU: the optimization-profile choice and
// the cache-file helpers. Built and run by scripts/check-tensorrt.sh; prints PASS/FAIL per check, exits 1 on failure.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "../../tests/check.h"
#include "../file_cache.h"
#include "../shape_profile.h"

using namespace smlmrt;
using namespace smlmrt::trt;
using smlmrt::test::check;
using smlmrt::test::failures;

namespace {

PlanBuffer buffer(int id, int channels, int num, int den) {
  PlanBuffer b;
  b.id = id;
  b.channels = channels;
  b.scaleNum = num;
  b.scaleDen = den;
  return b;
}

ConvOp conv(int inputBuffer, InputTransform transform, int cin, int upsample) {
  ConvOp c;
  c.input.buffer = inputBuffer;
  c.transform = transform;
  c.cin = cin;
  c.upsample = upsample;
  return c;
}

// Deep-STORM as the graph compiler describes it: encoder at 8x, 4x, 2x, 1x; decoder convs phased (upsample 2)
// reading the coarser buffer; head at 8x.
Plan deepStormPlan() {
  Plan plan;
  plan.upsampling = 8;
  plan.sizeMultiple = 1;
  plan.minSize = 8;
  plan.buffers = {buffer(1, 32, 8, 1), buffer(2, 64, 4, 1), buffer(3, 128, 2, 1), buffer(4, 512, 1, 1),
                  buffer(5, 128, 2, 1), buffer(6, 64, 4, 1),  buffer(7, 32, 8, 1)};
  plan.convs = {conv(0, InputTransform::Frame, 1, 8),     conv(1, InputTransform::MaxPool2, 32, 1),
                conv(2, InputTransform::MaxPool2, 64, 1), conv(3, InputTransform::MaxPool2, 128, 1),
                conv(4, InputTransform::Direct, 512, 2),  conv(5, InputTransform::Direct, 128, 2),
                conv(6, InputTransform::Direct, 64, 2)};
  return plan;
}

void testGeometry() {
  const ModelGeometry model = modelGeometryFromPlan(deepStormPlan());
  // Largest tensor of the ONNX graph: the Resize before the last conv, 64 channels at 8x = 64 * 64 per pixel.
  check(model.largestElementsPerPixel == 4096.0, "Deep-STORM's largest activation is 4096 elements per camera pixel (got " +
                                                     std::to_string(model.largestElementsPerPixel) + ")");
  check(model.upsampling == 8 && model.minSize == 8 && model.sizeMultiple == 1, "geometry copies upsampling and size rules");

  Plan unet;
  unet.upsampling = 8;
  unet.sizeMultiple = 4;
  unet.minSize = 10;
  unet.buffers = {buffer(1, 16, 1, 1), buffer(2, 32, 1, 2)};
  const ModelGeometry small = modelGeometryFromPlan(unet);
  check(small.largestElementsPerPixel == 64.0, "a camera-resolution U-Net is bounded by its 8x8 output map (64)");
  check(smallestFrameSide(small) == 12, "smallest side = first multiple of 4 that is >= 10 (12)");
  check(frameSizeProblem(small, 64, 64).empty(), "64x64 accepted");
  check(!frameSizeProblem(small, 64, 66).empty(), "66 px wide refused (not a multiple of 4)");
  check(!frameSizeProblem(small, 8, 8).empty(), "8x8 refused (below minSize 10)");
  check(!frameSizeProblem(small, 0, 64).empty(), "empty frame refused");
}

void testProfiles() {
  const ModelGeometry model = modelGeometryFromPlan(deepStormPlan());
  const ShapeProfile first = chooseProfile(model, 64, 64, 64, nullptr);
  check(first.maxBatch == 64, "64x64 Deep-STORM keeps the requested batch of 64 (got " + std::to_string(first.maxBatch) + ")");
  check(first.minHeight == 8 && first.optHeight == 64 && first.maxHeight == 64 && first.minWidth == 8 && first.maxWidth == 64,
        "profile spans the smallest accepted frame to the requested one");
  check(first.key() == "b1-64_h8-64-64_w8-64-64", "profile key is stable (" + first.key() + ")");
  check(first.covers(32, 48) && !first.covers(128, 64) && !first.covers(4, 64), "covers() is the [min, max] box");

  const ShapeProfile large = chooseProfile(model, 64, 256, 256, &first);
  // 256*256*4096 = 2^28 elements per frame: at most 7 frames stay below 2^31 - 1.
  check(large.maxBatch == 7, "256x256 Deep-STORM batch capped at 7 by the 2^31-element limit (got " + std::to_string(large.maxBatch) + ")");
  check(large.maxHeight == 256 && large.optHeight == 256 && large.covers(64, 64), "a grown profile still covers the earlier size");

  const ShapeProfile back = chooseProfile(model, 64, 64, 128, &large);
  check(back.maxHeight == 256 && back.maxWidth == 256 && back.optWidth == 128, "a later, smaller size keeps the maximum (no rebuild ping-pong)");
  check(chooseProfile(model, 0, 64, 64, nullptr).maxBatch == 64, "maxBatch 0 means the default of 64");
  check(chooseProfile(model, 64, 4096, 4096, nullptr).maxBatch == 1, "a frame too large for any batch still gets batch 1");
}

void testFileCache() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("smlmrt-trt-test-" + std::to_string(std::rand()));
  const std::string path = (dir / "nested" / "engine.bin").string();
  check(!readWholeFile(path).has_value(), "a missing cache file is a miss, not an error");
  const std::vector<char> bytes = {'s', 'm', 'l', 'm', '\0', '\x7f'};
  check(writeFileAtomically(path, bytes.data(), bytes.size()), "atomic write creates the folders and the file");
  const auto back = readWholeFile(path);
  check(back.has_value() && *back == bytes, "the file reads back byte for byte");
  bool leftovers = false;
  for (const auto& entry : fs::directory_iterator(dir / "nested")) leftovers |= entry.path().filename() != "engine.bin";
  check(!leftovers, "no temporary file is left behind");
  const std::vector<char> shorter = {'x'};
  check(writeFileAtomically(path, shorter.data(), shorter.size()) && readWholeFile(path) == shorter, "rewriting replaces the content");
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  // FNV-1a 64 reference values: "" -> offset basis, "a" -> af63dc4c8601ec8c.
  check(fingerprint64("", 0) == "cbf29ce484222325", "fingerprint of the empty string is the FNV offset basis");
  check(fingerprint64("a", 1) == "af63dc4c8601ec8c", "fingerprint of \"a\" matches FNV-1a 64");
  check(fileNameSafe("sha256:ab/../cd ef", 64) == "sha256_ab_.._cd_ef", "file names keep only [0-9A-Za-z._-]");
  check(fileNameSafe("0123456789abcdef0123", 16) == "0123456789abcdef", "file names are truncated");
}

}  // namespace

int main() {
  testGeometry();
  testProfiles();
  testFileCache();
  std::printf("%s: %d failure(s)\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
