// Standalone self-test and micro-benchmark of smlm-rt's CUDA engine (no Node).
//   selftest            correctness cases vs. a plain FP32 CPU execution of the same plans; PASS/FAIL per case,
//                       exit status 1 on any failure, 2 when no GPU is usable
//   selftest --bench    ms/frame (device-only and end to end), GMAC/frame and fraction of FP16 tensor peak,
//                       Deep-STORM- and U-Net-shaped plans, 64x64 and 256x256 frames, batch 1..256
//
// Tolerance: relative L2 error < 1e-2 for per-frame maps and the summed image. Activations and weights are stored in
// FP16 (unit roundoff 2^-11 ~ 4.9e-4) with FP32 accumulation; over ~8 layers the rounding errors add up to about
// 1e-3 relative, so 1e-2 leaves a 10x margin while any indexing, phase or slice mistake gives errors of order 1.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../engine/common_kernels.h"
#include "../engine/engine.h"
#include "../kernels/kernels.h"
#include "reference.h"
#include "test_plans.h"

using namespace smlmrt;
using namespace smlmrt::test;

namespace {

int failures = 0;
constexpr double kTolerance = 1e-2;

void report(bool ok, const std::string& name, const std::string& detail) {
  std::printf("%s  %-58s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

double relL2(const float* a, const float* ref, size_t n, bool* finite) {
  double num = 0, den = 0;
  *finite = true;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) *finite = false;
    const double d = static_cast<double>(a[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Random camera-like frames: background ~ 100..200 plus a few bright spots, different every call.
std::vector<float> randomFrames(std::mt19937& rng, int n, int h, int w, float maxValue) {
  std::vector<float> f(static_cast<size_t>(n) * h * w);
  std::uniform_real_distribution<float> bg(100.f, 200.f), spot(0.f, 1.f);
  for (float& v : f) v = std::floor(bg(rng) + (spot(rng) < 0.03f ? spot(rng) * (maxValue - 300.f) : 0.f));
  return f;
}

struct RawFrames {
  std::vector<uint8_t> bytes;
  PixelType type;
};
RawFrames toRaw(const std::vector<float>& f, PixelType type) {
  RawFrames r{std::vector<uint8_t>(f.size() * pixelBytes(type)), type};
  for (size_t i = 0; i < f.size(); ++i) {
    if (type == PixelType::U8) r.bytes[i] = static_cast<uint8_t>(std::min(255.f, f[i]));
    if (type == PixelType::U16) reinterpret_cast<uint16_t*>(r.bytes.data())[i] = static_cast<uint16_t>(f[i]);
    if (type == PixelType::F32) reinterpret_cast<float*>(r.bytes.data())[i] = f[i];
  }
  return r;
}
std::vector<float> fromRaw(const RawFrames& r, size_t count) {
  std::vector<float> f(count);
  for (size_t i = 0; i < count; ++i) {
    if (r.type == PixelType::U8) f[i] = r.bytes[i];
    if (r.type == PixelType::U16) f[i] = reinterpret_cast<const uint16_t*>(r.bytes.data())[i];
    if (r.type == PixelType::F32) f[i] = reinterpret_cast<const float*>(r.bytes.data())[i];
  }
  return f;
}

const char* typeName(PixelType t) { return t == PixelType::U8 ? "u8" : t == PixelType::U16 ? "u16" : "f32"; }

// One correctness case: engine vs CPU reference, with poisoned (NaN) host outputs.
void checkCase(Engine& engine, const Plan& plan, const std::string& label, int n, int h, int w, PixelType type, int batch,
               std::mt19937& rng, bool wantMaps = true) {
  const RawFrames raw = toRaw(randomFrames(rng, n, h, w, type == PixelType::U8 ? 255.f : 3000.f), type);
  const std::vector<float> frames = fromRaw(raw, static_cast<size_t>(n) * h * w);
  std::vector<float> refImage;
  const std::vector<float> refMaps = referenceRun(plan, frames, n, h, w, &refImage);
  const size_t outPixels = refImage.size();
  std::vector<float> image(outPixels, std::numeric_limits<float>::quiet_NaN());
  std::vector<float> maps(wantMaps ? refMaps.size() : 0, std::numeric_limits<float>::quiet_NaN());
  RunRequest req;
  req.frames = raw.bytes.data();
  req.pixelType = type;
  req.frameCount = n;
  req.height = h;
  req.width = w;
  req.image = image.data();
  req.frameMaps = wantMaps ? maps.data() : nullptr;
  req.batchSize = batch;
  int progressCalls = 0, lastDone = 0;
  req.progress = [&](int done, int total) {
    ++progressCalls;
    if (done <= lastDone || total != n) progressCalls = -1000;
    lastDone = done;
  };
  const std::string name = label + " " + std::to_string(w) + "x" + std::to_string(h) + " " + typeName(type) + " n=" +
                           std::to_string(n) + " batch=" + std::to_string(batch);
  try {
    const RunStats st = engine.run(req);
    bool finiteImage = true, finiteMaps = true;
    const double eImage = relL2(image.data(), refImage.data(), outPixels, &finiteImage);
    const double eMaps = wantMaps ? relL2(maps.data(), refMaps.data(), refMaps.size(), &finiteMaps) : 0;
    const int expectedBatches = (n + st.batchSize - 1) / st.batchSize;
    const bool ok = finiteImage && finiteMaps && eImage < kTolerance && eMaps < kTolerance && lastDone == n &&
                    progressCalls == expectedBatches;
    char detail[256];
    std::snprintf(detail, sizeof detail, "relL2 image %.2e maps %.2e%s progress %d/%d", eImage, eMaps,
                  finiteImage && finiteMaps ? "" : " NON-FINITE (unwritten output)", progressCalls, expectedBatches);
    report(ok, name, detail);
  } catch (const EngineError& e) {
    report(false, name, std::string("threw ") + e.code() + ": " + e.what());
  }
}

template <typename F>
void expectError(const std::string& name, const std::string& code, F&& body) {
  try {
    body();
    report(false, name, "no error thrown");
  } catch (const EngineError& e) {
    report(e.code() == code, name, std::string(e.code()) + ": " + e.what());
  }
}

RunRequest simpleRequest(const RawFrames& raw, int n, int h, int w, std::vector<float>& image) {
  RunRequest r;
  r.frames = raw.bytes.data();
  r.pixelType = raw.type;
  r.frameCount = n;
  r.height = h;
  r.width = w;
  r.image = image.data();
  return r;
}

void testCommonKernels(std::mt19937& rng) {
  const int n = 3, h = 20, w = 36;
  const RawFrames raw = toRaw(randomFrames(rng, n, h, w, 3000.f), PixelType::U16);
  const std::vector<float> f = fromRaw(raw, static_cast<size_t>(n) * h * w);
  const float mean = 0.19608f, stdv = 0.17764f;
  void* dRaw = nullptr;
  float* dOut = nullptr;
  __half* dHalf = nullptr;
  cudaMalloc(&dRaw, raw.bytes.size());
  cudaMalloc(&dOut, f.size() * 4);
  cudaMalloc(&dHalf, f.size() * 2);
  cudaMemcpy(dRaw, raw.bytes.data(), raw.bytes.size(), cudaMemcpyHostToDevice);
  launchNormalizeFrames(dRaw, PixelType::U16, n, h, w, mean, stdv, dOut, nullptr);
  launchNormalizeFramesHalf(dRaw, PixelType::U16, n, h, w, mean, stdv, dHalf, nullptr);
  std::vector<float> got(f.size()), ref(f.size());
  std::vector<__half> gotHalf(f.size());
  cudaMemcpy(got.data(), dOut, f.size() * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(gotHalf.data(), dHalf, f.size() * 2, cudaMemcpyDeviceToHost);
  for (int i = 0; i < n; ++i) {
    const float* fr = f.data() + static_cast<size_t>(i) * h * w;
    const float lo = *std::min_element(fr, fr + h * w), hi = *std::max_element(fr, fr + h * w);
    for (int k = 0; k < h * w; ++k) ref[static_cast<size_t>(i) * h * w + k] = ((fr[k] - lo) / (hi - lo) - mean) / stdv;
  }
  std::vector<float> halfAsFloat(f.size());
  for (size_t i = 0; i < f.size(); ++i) halfAsFloat[i] = __half2float(gotHalf[i]);
  bool fin1, fin2;
  const double e1 = relL2(got.data(), ref.data(), f.size(), &fin1), e2 = relL2(halfAsFloat.data(), ref.data(), f.size(), &fin2);
  char d[128];
  std::snprintf(d, sizeof d, "float relL2 %.2e, half relL2 %.2e", e1, e2);
  report(fin1 && fin2 && e1 < 1e-5 && e2 < 2e-3, "launchNormalizeFrames(+Half) u16 36x20 n=3", d);

  // clamp + sum, starting from a non-zero accumulator
  const int pixels = 1000, maps = 5;
  std::vector<float> m(static_cast<size_t>(maps) * pixels), acc0(pixels), accRef(pixels), clampedRef(m.size());
  std::normal_distribution<float> nd(0.f, 1.f);
  for (float& v : m) v = nd(rng);
  for (float& v : acc0) v = nd(rng);
  for (int p = 0; p < pixels; ++p) {
    accRef[p] = acc0[p];
    for (int i = 0; i < maps; ++i) {
      clampedRef[static_cast<size_t>(i) * pixels + p] = std::max(0.f, m[static_cast<size_t>(i) * pixels + p]);
      accRef[p] += clampedRef[static_cast<size_t>(i) * pixels + p];
    }
  }
  float *dm = nullptr, *dacc = nullptr, *dclamped = nullptr;
  __half* dmh = nullptr;
  cudaMalloc(&dm, m.size() * 4);
  cudaMalloc(&dmh, m.size() * 2);
  cudaMalloc(&dacc, pixels * 4);
  cudaMalloc(&dclamped, m.size() * 4);
  std::vector<__half> mh(m.size());
  for (size_t i = 0; i < m.size(); ++i) mh[i] = __float2half(m[i]);
  cudaMemcpy(dm, m.data(), m.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dmh, mh.data(), m.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dacc, acc0.data(), pixels * 4, cudaMemcpyHostToDevice);
  launchClampSumMaps(dm, maps, pixels, dacc, dclamped, nullptr);
  std::vector<float> acc(pixels), clamped(m.size());
  cudaMemcpy(acc.data(), dacc, pixels * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(clamped.data(), dclamped, m.size() * 4, cudaMemcpyDeviceToHost);
  const double e3 = relL2(acc.data(), accRef.data(), pixels, &fin1), e4 = relL2(clamped.data(), clampedRef.data(), m.size(), &fin2);
  cudaMemcpy(dacc, acc0.data(), pixels * 4, cudaMemcpyHostToDevice);
  launchClampSumMapsHalf(dmh, maps, pixels, dacc, nullptr, nullptr);
  cudaMemcpy(acc.data(), dacc, pixels * 4, cudaMemcpyDeviceToHost);
  bool fin3;
  const double e5 = relL2(acc.data(), accRef.data(), pixels, &fin3);
  const cudaError_t err = cudaDeviceSynchronize();
  std::snprintf(d, sizeof d, "sum %.2e clamped %.2e half-sum %.2e %s", e3, e4, e5, cudaGetErrorString(err));
  report(err == cudaSuccess && fin1 && fin2 && fin3 && e3 < 1e-6 && e4 == 0 && e5 < 2e-3, "launchClampSumMaps(+Half) n=5", d);
  cudaFree(dRaw);
  cudaFree(dOut);
  cudaFree(dHalf);
  cudaFree(dm);
  cudaFree(dmh);
  cudaFree(dacc);
  cudaFree(dclamped);
}

// The localization head's kernels on fp16 features that the CPU reference reads exactly (so only fp32 vs double
// arithmetic differs): sigma 0 (a detection moves whole pixels when its mu crosses a border, so it cannot be checked
// through the fp16 network) and thresholds that matter. A pixel may differ only where rounding moved a detection
// across a fine-pixel border or its p across minProbability (probability ~1e-6 per detection): at most 2 allowed.
// With grid g > 1 (g x g detection cells per camera pixel) the same checks run over the [gH, gW] cell grid; with
// predicted widths each detection's sx, sy rows set its widths (random weights: many clamp at either end of the range).
void testLocalizationKernels(std::mt19937& rng) {
  const int n = 3, h = 12, w = 20, cin = 8, inC = 12, inOff = 2, u = 8, maxGrid = 8;
  struct Settings {
    float maxOffset, sigma;
    int radius;
    float minProbability;
    int grid;
    bool predicted = false;
    float sigmaMin = 0.f, sigmaMax = 0.f;
  };
  const Settings settings[] = {{1.f, 0.f, 0, 0.3f, 1}, {1.f, 1.5f, 4, 0.5f, 1}, {2.f, 3.f, 2, 0.f, 1}, {0.5f, 2.f, 8, 0.2f, 1},
                               {1.f, 4.f, 0, 0.1f, 1}, {1.f, 0.f, 0, 0.3f, 2}, {1.f, 1.f, 4, 0.5f, 2},  {2.f, 3.f, 8, 0.2f, 2},
                               {1.f, 0.7f, 3, 0.4f, 4}, {1.f, 0.f, 0, 0.5f, 8}, {1.5f, 0.5f, 2, 0.6f, 8},
                               {1.f, 0.f, 4, 0.3f, 1, true, 0.5f, 2.5f}, {1.f, 0.f, 5, 0.2f, 2, true, 0.8f, 4.f},
                               {1.5f, 0.f, 2, 0.5f, 8, true, 0.3f, 1.2f}, {1.f, 0.f, 0, 0.4f, 2, true, 1.f, 1.f}};
  std::uniform_real_distribution<float> feature(0.f, 2.f), weight(-0.9f, 0.9f), bias(-0.5f, 0.5f);
  Tensor hin{n, h, w, inC, std::vector<float>(static_cast<size_t>(n) * h * w * inC)};
  std::vector<__half> halves(hin.data.size());
  for (size_t i = 0; i < halves.size(); ++i) {
    halves[i] = __float2half(feature(rng));
    hin.data[i] = __half2float(halves[i]);
  }
  __half* dIn = nullptr;
  float *dWeights = nullptr, *dDet = nullptr, *dAcc = nullptr, *dMaps = nullptr;
  const size_t outPixels = static_cast<size_t>(h) * u * w * u;
  cudaMalloc(&dIn, halves.size() * 2);
  cudaMalloc(&dWeights, localizationHeadRows(maxGrid, true) * (cin + 1) * 4);
  cudaMalloc(&dDet, static_cast<size_t>(n) * localizationDetectionPlanes(true) * maxGrid * maxGrid * h * w * 4);
  cudaMalloc(&dAcc, outPixels * 4);
  cudaMalloc(&dMaps, n * outPixels * 4);
  cudaMemcpy(dIn, halves.data(), halves.size() * 2, cudaMemcpyHostToDevice);
  for (const Settings& st : settings) {
    Plan p;
    p.upsampling = u;
    const int rows = localizationHeadRows(st.grid, st.predicted);
    for (int i = 0; i < rows * cin; ++i) p.weights.push_back(weight(rng));
    for (int i = 0; i < rows; ++i) p.weights.push_back(bias(rng));
    p.head.kind = HeadKind::Localization;
    p.head.input = PlanView{1, inOff, cin};
    p.head.cin = cin;
    p.head.weightOffset = 0;
    p.head.biasOffset = static_cast<size_t>(rows) * cin;
    p.head.grid = st.grid;
    p.head.maxOffset = st.maxOffset;
    p.head.renderSigma = st.sigma;
    p.head.predictedSigma = st.predicted;
    p.head.sigmaMin = st.sigmaMin;
    p.head.sigmaMax = st.sigmaMax;
    p.head.renderRadius = st.radius;
    p.head.minProbability = st.minProbability;
    std::vector<float> refImage;
    const std::vector<float> refMaps = referenceLocalization(p, hin, n, &refImage);
    cudaMemcpy(dWeights, p.weights.data(), p.weights.size() * 4, cudaMemcpyHostToDevice);
    cudaMemset(dAcc, 0, outPixels * 4);
    LocalizationHeadArgs a{};
    a.in = dIn;
    a.inH = h;
    a.inW = w;
    a.inC = inC;
    a.inOff = inOff;
    a.cin = cin;
    a.batch = n;
    a.weights = dWeights;
    a.bias = dWeights + rows * cin;
    a.upsampling = u;
    a.grid = st.grid;
    a.maxOffset = st.maxOffset;
    a.sigma = st.sigma;
    a.predictedSigma = st.predicted;
    a.sigmaMin = st.sigmaMin;
    a.sigmaMax = st.sigmaMax;
    a.radius = st.radius;
    a.minProbability = st.minProbability;
    a.detections = dDet;
    a.accum = dAcc;
    a.maps = dMaps;
    launchLocalizationHead(a, nullptr);
    std::vector<float> image(outPixels), maps(n * outPixels);
    const cudaError_t err = cudaDeviceSynchronize();
    cudaMemcpy(image.data(), dAcc, outPixels * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(maps.data(), dMaps, maps.size() * 4, cudaMemcpyDeviceToHost);
    int moved = 0;
    bool finite = true;
    double mass = 0;
    for (size_t i = 0; i < maps.size(); ++i) {
      if (!std::isfinite(maps[i])) finite = false;
      if (std::fabs(maps[i] - refMaps[i]) > 1e-4f) ++moved;
      mass += refMaps[i];
    }
    int imageMoved = 0;
    for (size_t i = 0; i < outPixels; ++i)
      if (!(std::fabs(image[i] - refImage[i]) <= 1e-4f)) ++imageMoved;
    char d[160];
    std::snprintf(d, sizeof d, "pixels off by >1e-4: maps %d image %d (mass %.2f) %s", moved, imageMoved, mass, cudaGetErrorString(err));
    char width[48];
    if (st.predicted)
      std::snprintf(width, sizeof width, "predicted sigma [%.1f, %.1f]", st.sigmaMin, st.sigmaMax);
    else
      std::snprintf(width, sizeof width, "sigma %.1f", st.sigma);
    char name[160];
    std::snprintf(name, sizeof name, "launchLocalizationHead grid %d %s R%d maxOffset %.1f p>=%.2f", st.grid, width, st.radius,
                  st.maxOffset, st.minProbability);
    report(err == cudaSuccess && finite && mass > 1 && moved <= 2 && imageMoved <= 2, name, d);
  }
  cudaFree(dIn);
  cudaFree(dWeights);
  cudaFree(dDet);
  cudaFree(dAcc);
  cudaFree(dMaps);
}

int runTests() {
  // New random inputs every run (more cases over time), but a failure must be reproducible: the seed is printed, and
  // SMLM_RT_SELFTEST_SEED=<n> runs that draw again.
  const char* seedText = std::getenv("SMLM_RT_SELFTEST_SEED");
  const uint32_t runSeed = seedText != nullptr && *seedText != '\0'
                               ? static_cast<uint32_t>(std::strtoul(seedText, nullptr, 10))
                               : static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 rng(runSeed);
  std::printf("self-test: seed %u (SMLM_RT_SELFTEST_SEED=%u repeats this run); tolerance relL2 < %.0e (FP16 storage, FP32 accumulation)\n",
              runSeed, runSeed, kTolerance);
  testCommonKernels(rng);
  testLocalizationKernels(rng);

  EngineOptions opts;
  opts.maxBatch = 16;
  const uint32_t seed = rng();
  const Plan ds = deepStormPlan(seed);
  auto deepstorm = createCudaEngine(ds, opts);
  checkCase(*deepstorm, ds, "deepstorm", 5, 16, 24, PixelType::U16, 2, rng);  // non-square, batch not dividing n
  checkCase(*deepstorm, ds, "deepstorm", 3, 32, 32, PixelType::F32, 0, rng);  // frame size change: re-allocation
  checkCase(*deepstorm, ds, "deepstorm", 2, 64, 64, PixelType::U16, 2, rng, false);  // the benchmark frame size
  checkCase(*deepstorm, ds, "deepstorm (back to a cached shape)", 5, 16, 24, PixelType::U8, 2, rng);
  std::printf("      %s\n", deepstorm->describe().c_str());
  setenv("SMLM_RT_NO_HEAD_FUSION", "1", 1);  // the separate head kernel, as any plan whose head cannot fuse runs it
  {
    auto unfused = createCudaEngine(ds, opts);
    checkCase(*unfused, ds, "deepstorm, head not fused", 5, 16, 24, PixelType::U16, 2, rng);
  }
  unsetenv("SMLM_RT_NO_HEAD_FUSION");

  const Plan un = unetPlan(rng(), 32, 64, 128);
  auto unet = createCudaEngine(un, opts);
  checkCase(*unet, un, "unet", 7, 64, 64, PixelType::U16, 3, rng);
  checkCase(*unet, un, "unet", 4, 24, 40, PixelType::U8, 4, rng);
  checkCase(*unet, un, "unet", 9, 32, 16, PixelType::F32, 0, rng);
  std::printf("      %s\n", unet->describe().c_str());

  const Plan odd = unetPlan(rng(), 12, 20, 36);  // widths not multiples of 8, misaligned slices: generic kernels
  auto oddEngine = createCudaEngine(odd, opts);
  checkCase(*oddEngine, odd, "unet odd channels (fallback path)", 6, 32, 48, PixelType::U16, 4, rng);
  std::printf("      %s\n", oddEngine->describe().c_str());
  const Plan odd2 = unetPlan(rng(), 8, 24, 40);  // multiples of 8 except... all aligned: fast path with small widths
  auto odd2Engine = createCudaEngine(odd2, opts);
  checkCase(*odd2Engine, odd2, "unet narrow (8/24/40 channels)", 5, 28, 20, PixelType::U16, 2, rng);

  // Localization heads (rendered on the GPU by gather) vs the CPU scatter rendering of the network's detections:
  // aligned and misaligned feature widths, batches that do not divide n, determinism.
  {
    struct LocCase {
      const char* label;
      int c1, c2, c3;
      float maxOffset, sigma;
      int radius;
      float minProbability;
      int grid;
      bool predicted = false;
      float sigmaMin = 0.f, sigmaMax = 0.f;
    };
    // Through the fp16 network only Gaussian rendering and a threshold no p comes near compare at the fp16 tolerance
    // (sigma 0 and live thresholds move whole detections on rounding: testLocalizationKernels checks those exactly).
    // Grids 2 and 4 (the trained models' g x g detection cells per camera pixel) gather over more, smaller cells.
    const LocCase locCases[] = {{"localization head sigma 1.5 R4", 32, 64, 128, 1.f, 1.5f, 4, 0.01f, 1},
                                {"localization head sigma 3 R2 maxOffset 2", 16, 32, 64, 2.f, 3.f, 2, 0.f, 1},
                                {"localization head odd widths sigma 2 R8", 12, 20, 36, 1.f, 2.f, 8, 0.01f, 1},
                                {"localization head grid 2 sigma 1 R4", 32, 64, 128, 1.f, 1.f, 4, 0.01f, 2},
                                {"localization head grid 2 odd widths sigma 2 R8", 12, 20, 36, 1.f, 2.f, 8, 0.f, 2},
                                {"localization head grid 4 sigma 1.5 R3", 32, 64, 128, 1.f, 1.5f, 3, 0.01f, 4},
                                {"localization head grid 2 predicted widths [0.5, 3] R4", 32, 64, 128, 1.f, 0.f, 4, 0.01f, 2, true, 0.5f, 3.f},
                                {"localization head odd widths predicted widths [1, 4] R6", 12, 20, 36, 1.f, 0.f, 6, 0.f, 1, true, 1.f, 4.f}};
    for (const LocCase& c : locCases) {
      const Plan lp = localizationPlan(rng(), c.c1, c.c2, c.c3, c.maxOffset, c.sigma, c.radius, c.minProbability, c.grid, c.predicted,
                                       c.sigmaMin, c.sigmaMax);
      auto engine = createCudaEngine(lp, opts);
      checkCase(*engine, lp, c.label, 5, 32, 24, PixelType::U16, 2, rng);
      checkCase(*engine, lp, c.label, 3, 16, 40, PixelType::F32, 0, rng);
      // Deterministic: the same frames give bit-identical images and maps (gather, frames in order, no atomics).
      const int n = 11, h = 32, w = 32;
      const RawFrames raw = toRaw(randomFrames(rng, n, h, w, 3000.f), PixelType::U16);
      std::vector<float> first(static_cast<size_t>(h) * w * 64), again(first.size());
      std::vector<float> mapsFirst(first.size() * n), mapsAgain(mapsFirst.size());
      RunRequest r = simpleRequest(raw, n, h, w, first);
      r.batchSize = 4;
      r.frameMaps = mapsFirst.data();
      engine->run(r);
      r.image = again.data();
      r.frameMaps = mapsAgain.data();
      engine->run(r);
      const bool same = std::memcmp(first.data(), again.data(), first.size() * sizeof(float)) == 0 &&
                        std::memcmp(mapsFirst.data(), mapsAgain.data(), mapsFirst.size() * sizeof(float)) == 0;
      double mass = 0;
      for (float v : first) mass += v;
      char detail[96];
      std::snprintf(detail, sizeof detail, "image sum %.3f", mass);
      report(same && mass > 0, std::string(c.label) + ": two runs bit-identical", detail);
    }
  }

  // Every tile configuration, forced wherever it fits, on both plan shapes (tuning alone would only check winners).
  for (int t = 0; t < convTcTacticCount(); ++t) {
    setenv("SMLM_RT_FORCE_TACTIC", convTcTacticName(t), 1);
    auto forcedDs = createCudaEngine(ds, opts);
    checkCase(*forcedDs, ds, std::string("deepstorm ") + convTcTacticName(t), 3, 16, 24, PixelType::U16, 2, rng);
    auto forcedUnet = createCudaEngine(un, opts);
    checkCase(*forcedUnet, un, std::string("unet ") + convTcTacticName(t), 3, 32, 24, PixelType::U16, 3, rng);
  }
  unsetenv("SMLM_RT_FORCE_TACTIC");

  // Poisoned device activations (NaN before every batch): any read of an unwritten activation reaches the output.
  setenv("SMLM_RT_DEBUG_POISON", "1", 1);
  {
    auto poisoned = createCudaEngine(ds, opts);
    checkCase(*poisoned, ds, "deepstorm, device activations poisoned", 3, 16, 16, PixelType::U16, 2, rng);
    auto poisonedUnet = createCudaEngine(un, opts);
    checkCase(*poisonedUnet, un, "unet, device activations poisoned", 5, 32, 24, PixelType::U16, 2, rng);
  }
  unsetenv("SMLM_RT_DEBUG_POISON");

  // Determinism and flat device memory over repeated runs.
  {
    const int n = 37, h = 64, w = 64;
    const RawFrames raw = toRaw(randomFrames(rng, n, h, w, 3000.f), PixelType::U16);
    std::vector<float> first(static_cast<size_t>(h) * w * 64), again(first.size());
    RunRequest r = simpleRequest(raw, n, h, w, first);
    r.batchSize = 8;
    unet->run(r);
    size_t free0 = 0, free1 = 0, total = 0;
    cudaMemGetInfo(&free0, &total);
    r.image = again.data();
    bool identical = true;
    for (int i = 0; i < 20; ++i) {
      unet->run(r);
      identical = identical && std::memcmp(first.data(), again.data(), first.size() * 4) == 0;
    }
    cudaMemGetInfo(&free1, &total);
    char d[160];
    std::snprintf(d, sizeof d, "free device memory before %zu MiB, after 20 runs %zu MiB; images bitwise %s", free0 >> 20,
                  free1 >> 20, identical ? "identical" : "DIFFERENT");
    report(free0 == free1 && identical, "unet: 20 repeated runs, memory flat + deterministic", d);
  }

  // Errors a caller can cause.
  {
    const RawFrames raw = toRaw(randomFrames(rng, 2, 30, 32, 3000.f), PixelType::U16);
    std::vector<float> image(30 * 32 * 64);
    expectError("unet: 30x32 frame (not a multiple of 4)", "E_FRAME_SIZE_UNSUPPORTED",
                [&] { unet->run(simpleRequest(raw, 2, 30, 32, image)); });
    const RawFrames small = toRaw(randomFrames(rng, 2, 4, 4, 3000.f), PixelType::U16);
    expectError("deepstorm: 4x4 frame (below minSize)", "E_FRAME_SIZE_UNSUPPORTED",
                [&] { deepstorm->run(simpleRequest(small, 2, 4, 4, image)); });
    const RawFrames ok = toRaw(randomFrames(rng, 4, 16, 16, 3000.f), PixelType::U16);
    std::atomic<bool> cancel{true};
    RunRequest r = simpleRequest(ok, 4, 16, 16, image);
    r.cancel = &cancel;
    expectError("deepstorm: cancel flag set", "E_ABORTED", [&] { deepstorm->run(r); });
    Plan broken = un;
    broken.convs[1].phases.clear();
    expectError("plan with a conv lacking phases", "E_MODEL_INVALID", [&] { createCudaEngine(broken, opts); });
  }
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "ALL PASSED", failures);
  return failures ? 1 : 0;
}

// ---------------- benchmark ----------------
double fp16PeakTflops(const cudaDeviceProp& prop, int clockKHz, std::string* assumption) {
  // Dense FP16 tensor-core FLOP per clock per SM with FP32 accumulation (vendor figures): Hopper 4096 (H100 SXM:
  // 132 SMs x 1.83 GHz x 4096 = 989 TFLOP/s, reached only by wgmma; mma.sync tops out well below), Ampere A100 2048,
  // Turing/GA10x/Ada 512-1024 (consumer parts run FP32 accumulation at half rate; 1024 assumed).
  int perClock = 1024;
  if (prop.major == 9) perClock = 4096;
  if (prop.major == 8 && prop.minor == 0) perClock = 2048;
  *assumption = std::to_string(perClock) + " FLOP/clk/SM x " + std::to_string(prop.multiProcessorCount) + " SMs x " +
                std::to_string(clockKHz / 1000) + " MHz (max clock reported by the device)";
  return perClock * 1e3 * clockKHz * prop.multiProcessorCount / 1e12;
}

int runBench(const std::vector<int>& batches, const std::vector<int>& sizes) {
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  int clockKHz = 0;
  cudaDeviceGetAttribute(&clockKHz, cudaDevAttrClockRate, 0);
  std::string assumption;
  const double peak = fp16PeakTflops(prop, clockKHz, &assumption);
  std::printf("bench on %s (sm_%d%d, %d SMs); FP16 dense tensor peak assumed %.0f TFLOP/s = %s\n", prop.name, prop.major,
              prop.minor, prop.multiProcessorCount, peak, assumption.c_str());
  std::printf("%-10s %-8s %6s %6s %10s %10s %9s %8s %8s\n", "model", "frame", "batch", "used", "dev ms/fr", "e2e ms/fr",
              "GMAC/fr", "TFLOP/s", "%peak");
  std::mt19937 rng(1234);
  EngineOptions opts;
  opts.maxBatch = 256;
  opts.cacheDir = "/tmp/smlmrt-bench-cache";
  struct Model {
    const char* name;
    Plan plan;
    bool fuseHead;
  };
  std::vector<Model> models = {{"deepstorm", deepStormPlan(7), true},
                               {"ds-nofuse", deepStormPlan(7), false},
                               {"unet", unetPlan(8, 32, 64, 128), true}};
  for (Model& m : models) {
    if (!m.fuseHead) setenv("SMLM_RT_NO_HEAD_FUSION", "1", 1);
    auto engine = createCudaEngine(m.plan, opts);
    unsetenv("SMLM_RT_NO_HEAD_FUSION");
    for (int size : sizes) {
      if (!m.fuseHead && size > 64) continue;
      const int frames = size <= 64 ? 361 : 64;
      const double gmac = planMacs(m.plan, size, size) / 1e9;
      for (int batch : batches) {
        const int n = std::max(frames, batch);
        const RawFrames raw = toRaw(randomFrames(rng, n, size, size, 3000.f), PixelType::U16);
        std::vector<float> image(static_cast<size_t>(size) * size * 64);
        RunRequest r = simpleRequest(raw, n, size, size, image);
        r.batchSize = batch;
        try {
          RunStats st = engine->run(r);  // warm: tuning, graph capture
          std::vector<double> dev, e2e;
          for (int rep = 0; rep < 5; ++rep) {
            st = engine->run(r);
            dev.push_back(st.deviceMs / n);
            e2e.push_back(st.totalMs / n);
          }
          std::sort(dev.begin(), dev.end());
          std::sort(e2e.begin(), e2e.end());
          const double tflops = 2 * gmac * 1e9 / (dev[2] * 1e-3) / 1e12;
          std::printf("%-10s %3dx%-4d %6d %6d %10.4f %10.4f %9.2f %8.1f %7.1f%%\n", m.name, size, size, batch, st.batchSize,
                      dev[2], e2e[2], gmac, tflops, 100 * tflops / peak);
          if (batch == 64) std::printf("  %s\n", engine->describe().c_str());
        } catch (const EngineError& e) {
          std::printf("%-10s %3dx%-4d %6d  error %s: %s\n", m.name, size, size, batch, e.code().c_str(), e.what());
        }
        std::fflush(stdout);
      }
    }
    std::printf("  %s\n", engine->describe().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string reason;
  const std::vector<DeviceInfo> devices = listDevices(&reason);
  if (devices.empty()) {
    std::printf("SKIP: %s\n", reason.c_str());
    return 2;
  }
  std::printf("device 0: %s, sm_%d%d, %d SMs, %zu MiB\n", devices[0].name.c_str(), devices[0].major, devices[0].minor,
              devices[0].multiprocessors, devices[0].totalMemory >> 20);
  try {
    if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
      std::vector<int> batches = {1, 4, 16, 64, 256}, sizes = {64, 256};
      if (argc > 2) batches = {std::atoi(argv[2])};
      if (argc > 3) sizes = {std::atoi(argv[3])};
      return runBench(batches, sizes);
    }
    return runTests();
  } catch (const EngineError& e) {
    std::printf("FAIL: uncaught %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
}
