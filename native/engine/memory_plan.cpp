#include "memory_plan.h"

#include <algorithm>
#include <numeric>

namespace smlmrt {

namespace {
constexpr size_t kAlign = 256;
size_t alignUp(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }
}  // namespace

ArenaLayout planArena(const std::vector<BufferLifetime>& buffers) {
  ArenaLayout layout;
  layout.offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<size_t> placed;
  for (size_t id : order) {
    const BufferLifetime& me = buffers[id];
    const size_t size = alignUp(me.bytes);
    // Occupied ranges of the placed buffers that are alive at the same time, sorted by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t other : placed) {
      const BufferLifetime& o = buffers[other];
      if (o.firstOp <= me.lastOp && me.firstOp <= o.lastOp) {
        busy.emplace_back(layout.offsets[other], layout.offsets[other] + alignUp(o.bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& range : busy) {
      if (offset + size <= range.first) break;
      offset = std::max(offset, range.second);
    }
    layout.offsets[id] = offset;
    layout.totalBytes = std::max(layout.totalBytes, offset + size);
    placed.push_back(id);
  }
  return layout;
}

}  // namespace smlmrt
