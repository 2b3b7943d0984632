#include "frame_preparation.h"

#include <algorithm>
#include <cmath>

namespace smlmrt {

int resampledLength(int n, double fromNm, double toNm) {
  // Math.round rounds halves up; the value is positive, so floor(x + 0.5) is the same rule.
  return std::max(1, static_cast<int>(std::floor(static_cast<double>(n) * fromNm / toNm + 0.5)));
}

AxisWeights resampleAxisWeights(int nIn, int nOut, double fromNm, double toNm) {
  AxisWeights w;
  w.start.assign(nOut, 0);
  w.count.assign(nOut, 0);
  const bool area = toNm > fromNm;
  const double scale = toNm / fromNm;  // input pixels per output pixel
  for (int j = 0; j < nOut; ++j) {
    w.start[j] = static_cast<int>(w.index.size());
    if (area) {
      const double a = std::min(j * scale, static_cast<double>(nIn - 1));
      const double b = std::min((j + 1) * scale, static_cast<double>(nIn));
      const int end = std::min(nIn, static_cast<int>(std::ceil(b)));
      for (int i = static_cast<int>(std::floor(a)); i < end; ++i) {
        const double overlap = std::min(b, static_cast<double>(i + 1)) - std::max(a, static_cast<double>(i));
        if (overlap > 0) {
          w.index.push_back(i);
          w.weight.push_back(overlap / (b - a));
        }
      }
    } else {
      const double x = std::min(static_cast<double>(nIn - 1), std::max(0.0, (j + 0.5) * scale - 0.5));
      const int i0 = static_cast<int>(std::floor(x));
      const int i1 = std::min(nIn - 1, i0 + 1);
      const double t = x - i0;
      w.index.push_back(i0);
      w.index.push_back(i1);
      w.weight.push_back(1 - t);
      w.weight.push_back(t);
    }
    w.count[j] = static_cast<int>(w.index.size()) - w.start[j];
  }
  return w;
}

}  // namespace smlmrt
