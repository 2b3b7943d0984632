// Host side of device frame preparation: the separable resampling weights of lib/frames/resample.ts, computed with
// the same double arithmetic, and the mirror rule of lib/frames/pad.ts.
#pragma once

#include <vector>

namespace smlmrt {

// For each output index j: input indices index[start[j] .. start[j]+count[j]) with weights (summing to 1).
struct AxisWeights {
  std::vector<int> start, count, index;
  std::vector<double> weight;
};

// lib/frames/resample.ts axisWeights(): area averaging when toNm > fromNm (to larger pixels), else bilinear at the
// output pixel centres; output pixel j covers [j*toNm, (j+1)*toNm).
AxisWeights resampleAxisWeights(int nIn, int nOut, double fromNm, double toNm);

// lib/frames/resample.ts resampledLength(): max(1, round(n * fromNm / toNm)).
int resampledLength(int n, double fromNm, double toNm);

}  // namespace smlmrt
