// Host-only checks of the CPU plan executor (native/cpu/) against the plain FP32 reference of native/tests/reference.h
// on the self-test's plans (Deep-STORM with its x8 phased first conv, U-Nets with odd widths and concatenation views),
// with the AVX2 and the portable micro-kernel; no GPU, no Node. Exit status 1 on any failure.
//   native/cpu/tests/build.sh && build/cpu_test/cpu_test
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "../../tests/check.h"
#include "../../tests/reference.h"
#include "../../tests/test_plans.h"
#include "../cpu_executor.h"

using namespace smlmrt;
using smlmrt::test::check;
using smlmrt::test::failures;

namespace {
// Runs `plan` on n random camera-like frames with the executor and the reference; returns the relative L2 error of
// the clamped maps.
double compare(const Plan& plan, int n, int h, int w, int threads) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> noise(100.f, 140.f);
  std::vector<float> frames(static_cast<size_t>(n) * h * w);
  for (auto& v : frames) v = noise(rng) + (rng() % 97 == 0 ? 2000.f : 0.f);
  std::vector<float> image;
  const std::vector<float> expected = test::referenceRun(plan, frames, n, h, w, &image);
  // The executor takes normalized frames, as the cpu backend hands them over.
  std::vector<float> input(frames.size());
  for (int i = 0; i < n; ++i) {
    const float* f = frames.data() + static_cast<size_t>(i) * h * w;
    float lo = f[0], hi = f[0];
    for (int k = 0; k < h * w; ++k) lo = std::min(lo, f[k]), hi = std::max(hi, f[k]);
    const float inv = hi > lo ? 1.f / (hi - lo) : 0.f;
    for (int k = 0; k < h * w; ++k) input[static_cast<size_t>(i) * h * w + k] = ((f[k] - lo) * inv - plan.normMean) / plan.normStd;
  }
  cpu::CpuExecutorOptions options;
  options.threads = threads;
  cpu::CpuExecutor executor(plan, options);
  std::vector<float> output(static_cast<size_t>(n) * executor.outputValuesPerFrame(h, w));
  cpu::CpuRunRequest request;
  request.input = input.data();
  request.inputLength = input.size();
  request.frameCount = n;
  request.height = h;
  request.width = w;
  request.output = output.data();
  request.outputLength = output.size();
  executor.run(request);
  double diff = 0, norm = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const double clamped = output[k] > 0 ? output[k] : 0;
    diff += (clamped - expected[k]) * (clamped - expected[k]);
    norm += static_cast<double>(expected[k]) * expected[k];
  }
  if (!(norm > 0)) std::printf("      (reference maps all zero; diff %g)\n", diff);
  return norm > 0 ? std::sqrt(diff / norm) : 1.0;  // all-zero maps would test nothing
}
}  // namespace

int main() {
  for (const char* kernel : {"default", "portable"}) {
    if (std::string(kernel) == "portable") setenv("SMLM_RT_CPU_KERNEL", "portable", 1);
    const char* name = "";
    cpu::selectMicroKernel(&name);
    const std::string tag = std::string(" [") + name + "]";
    struct Case {
      std::string label;
      Plan plan;
      int n, h, w, threads;
    };
    const std::vector<Case> cases = {
        {"deepstorm 12x16, 2 frames, 2 threads", test::deepStormPlan(3), 2, 12, 16, 2},
        {"unet 16-32-64 32x32, 3 frames, 2 threads", test::unetPlan(2, 16, 32, 64), 3, 32, 32, 2},
        {"unet odd widths 5-9-17 24x20, 2 frames, 3 threads", test::unetPlan(3, 5, 9, 17), 2, 24, 20, 3},
        {"unet 8-16-32 16x16, 1 frame, 1 thread", test::unetPlan(4, 8, 16, 32), 1, 16, 16, 1},
    };
    for (const Case& c : cases) {
      const double err = compare(c.plan, c.n, c.h, c.w, c.threads);
      check(err < 1e-5, c.label + tag + ": relative L2 " + std::to_string(err));
    }
  }
  // A frame size the plan does not take is a typed error, not a crash.
  cpu::CpuExecutor executor(test::unetPlan(2, 8, 8, 8), {});
  std::vector<float> input(18 * 18), output(executor.outputValuesPerFrame(18, 18));
  cpu::CpuRunRequest request;
  request.input = input.data();
  request.inputLength = input.size();
  request.frameCount = 1;
  request.height = request.width = 18;
  request.output = output.data();
  request.outputLength = output.size();
  std::string code;
  try {
    executor.run(request);
  } catch (const EngineError& e) {
    code = e.code();
  }
  check(code == "E_FRAME_SIZE_UNSUPPORTED", "18x18 on a size-multiple-4 plan: E_FRAME_SIZE_UNSUPPORTED (got " + code + ")");
  std::printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
