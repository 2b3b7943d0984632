#include "cpu_executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace smlmrt::cpu {
namespace {

[[noreturn]] void invalid(const std::string& what) { throw EngineError("E_MODEL_INVALID", "cpu plan executor: " + what); }

void checkWeights(const Plan& plan, size_t offset, size_t count, const std::string& where) {
  if (offset > plan.weights.size() || count > plan.weights.size() - offset) invalid(where + " reads weights outside the plan's");
}

const PlanBuffer* findBuffer(const Plan& plan, int id) {
  for (const PlanBuffer& b : plan.buffers)
    if (b.id == id) return &b;
  return nullptr;
}

void checkView(const Plan& plan, const PlanView& view, int channels, const std::string& where) {
  const PlanBuffer* b = findBuffer(plan, view.buffer);
  if (!b) invalid(where + " names undeclared buffer " + std::to_string(view.buffer));
  if (view.channels != channels || view.channelOffset < 0 || view.channelOffset + view.channels > b->channels)
    invalid(where + " has a channel range outside buffer " + std::to_string(view.buffer));
}

}  // namespace

CpuExecutor::CpuExecutor(const Plan& plan, const CpuExecutorOptions& options)
    : plan_(plan), pool_(options.threads > 0 ? options.threads : availableCores()) {
  kernel_ = selectMicroKernel(&kernelName_);
  const char* profile = std::getenv("SMLM_RT_CPU_PROFILE");
  profile_ = profile && *profile && std::strcmp(profile, "0") != 0;
  if (plan_.upsampling < 1 || plan_.sizeMultiple < 1 || plan_.minSize < 1) invalid("upsampling, sizeMultiple and minSize must be >= 1");
  for (const PlanBuffer& b : plan_.buffers)
    if (b.channels < 1 || b.scaleNum < 1 || b.scaleDen < 1) invalid("buffer " + std::to_string(b.id) + " has no channels or a zero scale");
  int maxCin = 1;
  for (const ConvOp& op : plan_.convs) {
    const std::string where = "conv " + op.name;
    if (op.cin < 1 || op.cout < 1 || op.upsample < 1 || op.phases.empty()) invalid(where + " has no channels or no phases");
    if (op.transform == InputTransform::Frame) {
      if (op.cin != 1) invalid(where + " reads the frame with " + std::to_string(op.cin) + " channels");
    } else {
      checkView(plan_, op.input, op.cin, where + " input");
    }
    checkView(plan_, op.output, op.cout, where + " output");
    for (const ConvPhase& p : op.phases) {
      if (p.kh < 1 || p.kw < 1 || p.phaseY < 0 || p.phaseX < 0 || p.phaseY >= op.upsample || p.phaseX >= op.upsample)
        invalid(where + " has a phase outside its output stride");
      checkWeights(plan_, p.weightOffset, static_cast<size_t>(op.cout) * p.kh * p.kw * op.cin, where);
    }
    checkWeights(plan_, op.biasOffset, op.cout, where + " bias");
    maxCin = std::max(maxCin, op.cin);
    convs_.push_back(packConv(op, plan_.weights));
  }
  const HeadOp& head = plan_.head;
  if (head.cin < 1) invalid("the head has no input channels");
  checkView(plan_, head.input, head.cin, "head " + head.name + " input");
  if (head.kind == HeadKind::Maps) {
    if (head.upscale < 1) invalid("the head's upscale must be >= 1");
    headRows_ = head.upscale * head.upscale;
  } else {
    const int cells = head.grid * head.grid;
    const int planRows = (head.predictedSigma ? 5 : 3) * cells;
    headRows_ = options.localizationRows > 0 ? options.localizationRows : planRows;
    if (head.grid < 1 || (headRows_ != 3 * cells && headRows_ != 5 * cells) || headRows_ < planRows)
      invalid("the localization head's rows must be 3g^2 or 5g^2 (5g^2 with predicted widths)");
  }
  checkWeights(plan_, head.weightOffset, static_cast<size_t>(headRows_) * head.cin, "head " + head.name);
  checkWeights(plan_, head.biasOffset, headRows_, "head " + head.name + " bias");
  maxCin = std::max(maxCin, head.cin);
  head_ = packPointwise(head.cin, headRows_, head.weightOffset, head.biasOffset, plan_.weights);
  zeros_.resize(maxCin);
  buffers_.resize(plan_.buffers.size());
}

size_t CpuExecutor::outputValuesPerFrame(int height, int width) const {
  const size_t pixels = static_cast<size_t>(height) * width;
  if (plan_.head.kind == HeadKind::Maps) return pixels * plan_.upsampling * plan_.upsampling;
  return pixels * 5 * plan_.head.grid * plan_.head.grid;
}

std::string CpuExecutor::describe() const {
  return std::string("smlm-rt plan executor (fp32, ") + kernelName_ + " micro-kernel " + std::to_string(kMR) + "x" + std::to_string(kNR) +
         ", " + std::to_string(pool_.threads()) + (pool_.threads() == 1 ? " thread)" : " threads)");
}

void CpuExecutor::checkFrameSize(int height, int width) const {
  for (int size : {height, width}) {
    bool ok = size >= plan_.minSize && size % plan_.sizeMultiple == 0;
    for (const PlanBuffer& b : plan_.buffers) ok = ok && (static_cast<int64_t>(size) * b.scaleNum) % b.scaleDen == 0;
    if (!ok) {
      throw EngineError("E_FRAME_SIZE_UNSUPPORTED", "frame " + std::to_string(height) + "x" + std::to_string(width) +
                                                        " is not supported by this model: each side must be a multiple of " +
                                                        std::to_string(plan_.sizeMultiple) + " and at least " +
                                                        std::to_string(plan_.minSize));
    }
  }
}

void CpuExecutor::run(const CpuRunRequest& request) {
  std::lock_guard<std::mutex> lock(runMutex_);
  const int n = request.frameCount, h = request.height, w = request.width;
  if (n < 1 || h < 1 || w < 1) throw EngineError("E_BAD_OPTIONS", "cpu plan executor: frameCount, height and width must be >= 1");
  checkFrameSize(h, w);
  const size_t inValues = static_cast<size_t>(n) * h * w;
  const size_t outValues = static_cast<size_t>(n) * outputValuesPerFrame(h, w);
  if (!request.input || request.inputLength < inValues)
    throw EngineError("E_BAD_OPTIONS", "cpu plan executor: input holds " + std::to_string(request.inputLength) + " values, expected " +
                                           std::to_string(inValues));
  if (!request.output || request.outputLength < outValues)
    throw EngineError("E_BAD_OPTIONS", "cpu plan executor: output holds " + std::to_string(request.outputLength) + " values, expected " +
                                           std::to_string(outValues));

  // Buffers at this frame size (reallocated, zeroed, only when the size changes).
  std::map<int, TensorView> views;
  for (size_t i = 0; i < plan_.buffers.size(); ++i) {
    const PlanBuffer& b = plan_.buffers[i];
    TensorView v;
    v.frames = n;
    v.height = static_cast<int>(static_cast<int64_t>(h) * b.scaleNum / b.scaleDen);
    v.width = static_cast<int>(static_cast<int64_t>(w) * b.scaleNum / b.scaleDen);
    v.stride = b.channels;
    const size_t size = static_cast<size_t>(n) * v.height * v.width * b.channels;
    if (buffers_[i].size != size) buffers_[i].resize(size);
    v.base = buffers_[i].get();
    views[b.id] = v;
  }
  auto viewOf = [&](const PlanView& pv) {
    TensorView v = views.at(pv.buffer);
    v.base += pv.channelOffset;
    return v;
  };

  for (size_t index = 0; index < plan_.convs.size(); ++index) {
    const ConvOp& op = plan_.convs[index];
    TensorView in;
    if (op.transform == InputTransform::Frame) {
      in = TensorView{const_cast<float*>(request.input), n, h, w, 1};
    } else {
      in = viewOf(op.input);
      if (op.transform == InputTransform::MaxPool2) {
        if (in.height % 2 != 0 || in.width % 2 != 0) invalid("conv " + op.name + " pools an odd-sized input");
        // The pooled view as a dense tensor of its own.
        TensorView pooled{nullptr, n, in.height / 2, in.width / 2, op.cin};
        const size_t size = static_cast<size_t>(n) * pooled.height * pooled.width * op.cin;
        if (scratch_.size < size) scratch_.resize(size);
        pooled.base = scratch_.get();
        const TensorView src = in;
        pool_.parallelFor(static_cast<int64_t>(n) * pooled.height, [&](int64_t row, int) {
          const int64_t frame = row / pooled.height;
          const int y = static_cast<int>(row % pooled.height);
          for (int x = 0; x < pooled.width; ++x) {
            const float* p00 = src.base + ((frame * src.height + 2 * y) * src.width + 2 * x) * src.stride;
            const float* p01 = p00 + src.stride;
            const float* p10 = p00 + static_cast<int64_t>(src.width) * src.stride;
            const float* p11 = p10 + src.stride;
            float* dst = pooled.base + ((frame * pooled.height + y) * pooled.width + x) * op.cin;
            for (int c = 0; c < op.cin; ++c) dst[c] = std::max(std::max(p00[c], p01[c]), std::max(p10[c], p11[c]));
          }
        });
        in = pooled;
      }
    }
    const TensorView out = viewOf(op.output);
    if (out.height != in.height * op.upsample || out.width != in.width * op.upsample)
      invalid("conv " + op.name + " writes " + std::to_string(in.height * op.upsample) + "x" + std::to_string(in.width * op.upsample) +
              " into a " + std::to_string(out.height) + "x" + std::to_string(out.width) + " buffer");
    const auto t0 = std::chrono::steady_clock::now();
    runConv(pool_, kernel_, convs_[index], in, out, zeros_.get());
    if (profile_) {
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      double macs = 0;
      for (const ConvPhase& p : op.phases) macs += static_cast<double>(n) * in.height * in.width * p.kh * p.kw * op.cin * op.cout;
      std::fprintf(stderr, "smlm-rt cpu: %-28s %4d->%-4d %3dx%-3d %7.2f ms %6.1f GFLOP/s\n", op.name.c_str(), op.cin, op.cout, in.height,
                   in.width, ms, 2 * macs / ms / 1e6);
    }
  }

  // The head's 1x1 conv into a dense NHWC tensor of its rows, then laid out as the ONNX output.
  const HeadOp& head = plan_.head;
  const TensorView in = viewOf(head.input);
  const bool maps = head.kind == HeadKind::Maps;
  const int s = maps ? head.upscale : 1;
  if (maps ? (in.height * s != h * plan_.upsampling || in.width * s != w * plan_.upsampling) : (in.height != h || in.width != w))
    invalid("the head reads " + std::to_string(in.height) + "x" + std::to_string(in.width) + " features, which do not make this frame's output");
  const size_t headSize = static_cast<size_t>(n) * in.height * in.width * headRows_;
  if (headOut_.size < headSize) headOut_.resize(headSize);
  const TensorView rows{headOut_.get(), n, in.height, in.width, headRows_};
  runConv(pool_, kernel_, head_, in, rows, zeros_.get());
  const int ih = in.height, iw = in.width, R = headRows_;
  float* output = request.output;
  if (maps) {
    // Depth-to-space: map[f, s*y + i, s*x + j] = row i*s + j of pixel (y, x).
    const int outW = iw * s;
    pool_.parallelFor(static_cast<int64_t>(n) * ih, [&](int64_t row, int) {
      const int64_t frame = row / ih;
      const int y = static_cast<int>(row % ih);
      for (int x = 0; x < iw; ++x) {
        const float* src = rows.base + ((frame * ih + y) * iw + x) * R;
        for (int i = 0; i < s; ++i)
          for (int j = 0; j < s; ++j) output[(frame * ih * s + static_cast<int64_t>(s) * y + i) * outW + static_cast<int64_t>(s) * x + j] = src[i * s + j];
      }
    });
  } else {
    // NHWC rows -> NCHW detections; the rows the plan does not hold are zero.
    const int channels = 5 * head.grid * head.grid;
    const int64_t plane = static_cast<int64_t>(ih) * iw;
    pool_.parallelFor(static_cast<int64_t>(n) * channels, [&](int64_t item, int) {
      const int64_t frame = item / channels;
      const int channel = static_cast<int>(item % channels);
      float* dst = output + (frame * channels + channel) * plane;
      if (channel >= R) {
        std::fill(dst, dst + plane, 0.f);
        return;
      }
      const float* src = rows.base + frame * plane * R + channel;
      for (int64_t p = 0; p < plane; ++p) dst[p] = src[p * R];
    });
  }
}

}  // namespace smlmrt::cpu
