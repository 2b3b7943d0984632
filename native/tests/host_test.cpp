// Host-only checks of the engine's planning code (no GPU needed, runs in CI-like environments):
// activation memory sharing (memory_plan) and the on-disk tactic cache. Exit status 1 on any failure.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "check.h"
#include "../engine/memory_plan.h"
#include "../engine/tactic_cache.h"

using namespace smlmrt;
using smlmrt::test::check;
using smlmrt::test::failures;

namespace {

bool overlapsInTime(const BufferLifetime& a, const BufferLifetime& b) { return a.firstOp <= b.lastOp && b.firstOp <= a.lastOp; }

// No two buffers alive at the same op may share bytes; every buffer lies inside the arena.
bool layoutIsSafe(const std::vector<BufferLifetime>& buffers, const ArenaLayout& layout) {
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (layout.offsets[i] % 256 || layout.offsets[i] + buffers[i].bytes > layout.totalBytes) return false;
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      if (!overlapsInTime(buffers[i], buffers[j])) continue;
      const size_t a0 = layout.offsets[i], a1 = a0 + buffers[i].bytes, b0 = layout.offsets[j], b1 = b0 + buffers[j].bytes;
      if (a0 < b1 && b0 < a1 && buffers[i].bytes && buffers[j].bytes) return false;
    }
  }
  return true;
}
}  // namespace

int main() {
  // Deep-STORM at 64x64, fp16 NHWC, one frame: b1..b7 written by conv i (0-based), read by conv i+1; b7 by the head (7).
  const size_t MB = 1 << 20;
  std::vector<BufferLifetime> ds = {{16 * MB, 0, 1}, {8 * MB, 1, 2}, {4 * MB, 2, 3}, {4 * MB, 3, 4},
                                    {4 * MB, 4, 5},  {8 * MB, 5, 6}, {16 * MB, 6, 7}};
  const ArenaLayout dsLayout = planArena(ds);
  check(layoutIsSafe(ds, dsLayout), "deepstorm lifetimes: no live buffers overlap");
  check(dsLayout.totalBytes == 24 * MB, "deepstorm arena is the peak live set, 24 MiB (got " +
                                            std::to_string(dsLayout.totalBytes / MB) + " MiB)");

  // A U-Net-like concat buffer alive from the encoder to the decoder must not be reused in between.
  std::vector<BufferLifetime> unet = {{3 * MB, 0, 10}, {1 * MB, 1, 2}, {2 * MB, 2, 8}, {1 * MB, 3, 4}, {1 * MB, 4, 6},
                                      {1 * MB, 7, 9},  {2 * MB, 9, 11}, {1 * MB, 10, 12}};
  const ArenaLayout unetLayout = planArena(unet);
  check(layoutIsSafe(unet, unetLayout), "unet-like lifetimes: no live buffers overlap");

  // Random lifetimes: the layout stays safe and never exceeds the sum of sizes.
  srand(7);
  bool allSafe = true;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferLifetime> r(1 + rand() % 12);
    size_t sum = 0;
    for (auto& b : r) {
      b.bytes = static_cast<size_t>(1 + rand() % 5000) * 100;
      b.firstOp = rand() % 10;
      b.lastOp = b.firstOp + rand() % 5;
      sum += (b.bytes + 255) / 256 * 256;
    }
    const ArenaLayout l = planArena(r);
    allSafe = allSafe && layoutIsSafe(r, l) && l.totalBytes <= sum;
  }
  check(allSafe, "200 random lifetime sets: safe and no larger than no sharing");

  // Tactic cache: what one engine stores, a new one (another process) finds; unknown keys find nothing.
  char dir[] = "/tmp/smlmrt-hosttest-XXXXXX";
  if (!mkdtemp(dir)) {
    check(false, "mkdtemp");
    return 1;
  }
  {
    TacticCache cache(dir);
    cache.store("v0.1.0|GPU A|hash|b64h64w64", {"frame_direct", "tc_a", "halo_b"});
    cache.store("v0.1.0|GPU A|hash|b1h64w64", {"frame_direct", "tc_c", "tc_d"});
  }
  TacticCache reread(dir);
  const auto hit = reread.find("v0.1.0|GPU A|hash|b64h64w64");
  check(hit.size() == 3 && hit[1] == "tc_a" && hit[2] == "halo_b", "tactic cache: entries survive a reload");
  check(reread.find("v0.1.0|GPU B|hash|b64h64w64").empty(), "tactic cache: another GPU's key does not match");
  TacticCache memoryOnly("");
  memoryOnly.store("k", {"x"});
  check(memoryOnly.find("k").size() == 1, "tactic cache without a directory works in memory");
  std::string cleanup = std::string("rm -rf ") + dir;
  if (std::system(cleanup.c_str()) != 0) std::printf("(could not remove %s)\n", dir);

  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "ALL PASSED", failures);
  return failures ? 1 : 0;
}
