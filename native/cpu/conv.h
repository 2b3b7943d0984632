// Convolution as packed implicit GEMM (NHWC): weights are packed once, at executor creation, into kNR-wide panels per
// phase; a run splits the output pixels into groups of kMR-row tiles, hands groups to the thread pool, and for each
// group walks K chunks (whole taps, about kKc values, so that a chunk's panel stays in L1) x output-channel blocks x
// tiles, calling the micro-kernel with an indirection table of input-pixel pointers (padding taps point at zeros).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "../engine/engine.h"
#include "micro_kernel.h"
#include "thread_pool.h"

namespace smlmrt::cpu {

// 64-byte aligned float storage.
struct AlignedFloats {
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data;
  size_t size = 0;
  void resize(size_t count);  // contents zeroed
  float* get() const { return data.get(); }
};

// A channel view of an NHWC tensor: pixel p's channels are base[p * stride + 0 .. channels).
struct TensorView {
  float* base = nullptr;
  int frames = 0, height = 0, width = 0;
  int stride = 0;  // floats between pixels (the buffer's channel count)
};

struct PackedPhase {
  int phaseY = 0, phaseX = 0, kh = 1, kw = 1, padTop = 0, padLeft = 0;
  AlignedFloats panels;  // blocks x (kh*kw*cin) x kNR
};

// One convolution (or a head's 1x1 conv) ready to run.
struct PackedConv {
  int cin = 0, cout = 0, upsample = 1;
  bool relu = false;
  int blocks = 0;       // ceil(cout / kNR)
  AlignedFloats bias;   // blocks * kNR
  std::vector<PackedPhase> phases;
};

// Packs weights (OHWI, as Plan::weights holds them) for the micro-kernel.
PackedConv packConv(const ConvOp& op, const std::vector<float>& weights);
// A 1x1 conv of `rows` outputs (a head): rows x cin weights at weightOffset, rows biases at biasOffset.
PackedConv packPointwise(int cin, int rows, size_t weightOffset, size_t biasOffset, const std::vector<float>& weights);

// out[n, u*oy + py, u*ox + px, 0..cout) = conv of `in` (in.height x in.width, cin channels from in.base); out's
// height/width are the output buffer's (in * upsample). `zeros` holds at least cin zeros.
void runConv(ThreadPool& pool, MicroKernel kernel, const PackedConv& conv, const TensorView& in, const TensorView& out,
             const float* zeros);

}  // namespace smlmrt::cpu
