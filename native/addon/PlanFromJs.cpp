#include "PlanFromJs.h"

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "JsErrors.h"

namespace smlmrt::addon {
namespace {

[[noreturn]] void invalidPlan(Napi::Env env, const std::string& what) {
  throwCodedError(env, "E_MODEL_INVALID", "execution plan: " + what);
}

Napi::Value field(const Napi::Object& object, const char* name, const std::string& where) {
  Napi::Value value = object.Get(name);
  if (value.IsUndefined()) invalidPlan(object.Env(), where + " has no field \"" + name + "\"");
  return value;
}

int intField(const Napi::Object& object, const char* name, const std::string& where, int min = 0) {
  Napi::Value value = field(object, name, where);
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::floor(number) == number) || number < min || number > std::numeric_limits<int>::max()) {
    invalidPlan(object.Env(), where + "." + name + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int>(number);
}

double numberField(const Napi::Object& object, const char* name, const std::string& where) {
  Napi::Value value = field(object, name, where);
  if (!value.IsNumber() || !std::isfinite(value.As<Napi::Number>().DoubleValue())) {
    invalidPlan(object.Env(), where + "." + name + " must be a finite number");
  }
  return value.As<Napi::Number>().DoubleValue();
}

std::string stringField(const Napi::Object& object, const char* name, const std::string& where) {
  Napi::Value value = object.Get(name);
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
}

Napi::Object objectField(const Napi::Object& object, const char* name, const std::string& where) {
  Napi::Value value = field(object, name, where);
  if (!value.IsObject()) invalidPlan(object.Env(), where + "." + name + " must be an object");
  return value.As<Napi::Object>();
}

Napi::Array arrayField(const Napi::Object& object, const char* name, const std::string& where) {
  Napi::Value value = field(object, name, where);
  if (!value.IsArray()) invalidPlan(object.Env(), where + "." + name + " must be an array");
  return value.As<Napi::Array>();
}

// Checks that [offset, offset + count) lies inside the weight array.
size_t weightRange(Napi::Env env, double offset, size_t count, size_t total, const std::string& where) {
  if (offset < 0 || offset + static_cast<double>(count) > static_cast<double>(total)) {
    invalidPlan(env, where + " reads weights [" + std::to_string(static_cast<long long>(offset)) + ", +" + std::to_string(count) +
                         ") outside the " + std::to_string(total) + " weights");
  }
  return static_cast<size_t>(offset);
}

PlanView viewFromJs(const Napi::Object& op, const char* name, const std::string& where, const std::map<int, PlanBuffer>& buffers,
                    bool allowFrame) {
  Napi::Object jsView = objectField(op, name, where);
  std::string viewWhere = where + "." + name;
  PlanView view;
  view.buffer = intField(jsView, "buffer", viewWhere);
  view.channelOffset = intField(jsView, "channelOffset", viewWhere);
  view.channels = intField(jsView, "channels", viewWhere, 1);
  if (view.buffer == 0 && allowFrame) return view;  // buffer 0 is the raw frame, never declared
  auto found = buffers.find(view.buffer);
  if (found == buffers.end()) invalidPlan(op.Env(), viewWhere + " names undeclared buffer " + std::to_string(view.buffer));
  if (view.channelOffset + view.channels > found->second.channels) {
    invalidPlan(op.Env(), viewWhere + " channels [" + std::to_string(view.channelOffset) + ", +" + std::to_string(view.channels) +
                              ") exceed buffer " + std::to_string(view.buffer) + "'s " + std::to_string(found->second.channels));
  }
  return view;
}

InputTransform transformFromJs(const Napi::Object& op, const std::string& where) {
  std::string transform = stringField(op, "inputTransform", where);
  if (transform == "frame") return InputTransform::Frame;
  if (transform == "direct") return InputTransform::Direct;
  if (transform == "maxpool2") return InputTransform::MaxPool2;
  invalidPlan(op.Env(), where + ".inputTransform \"" + transform + "\" is not frame, direct or maxpool2");
}

ConvOp convFromJs(const Napi::Object& op, const std::string& where, const std::map<int, PlanBuffer>& buffers, size_t weightCount) {
  Napi::Env env = op.Env();
  ConvOp conv;
  conv.name = stringField(op, "name", where);
  conv.transform = transformFromJs(op, where);
  conv.input = viewFromJs(op, "input", where, buffers, conv.transform == InputTransform::Frame);
  conv.output = viewFromJs(op, "output", where, buffers, false);
  conv.cin = intField(op, "cin", where, 1);
  conv.cout = intField(op, "cout", where, 1);
  conv.upsample = intField(op, "upsample", where, 1);
  conv.relu = op.Get("relu").ToBoolean().Value();
  if (conv.input.channels != conv.cin) invalidPlan(env, where + " reads " + std::to_string(conv.input.channels) + " channels but cin is " + std::to_string(conv.cin));
  if (conv.output.channels != conv.cout) invalidPlan(env, where + " writes " + std::to_string(conv.output.channels) + " channels but cout is " + std::to_string(conv.cout));
  Napi::Array phases = arrayField(op, "phases", where);
  if (phases.Length() == 0) invalidPlan(env, where + " has no phases");
  for (uint32_t i = 0; i < phases.Length(); ++i) {
    std::string phaseWhere = where + ".phases[" + std::to_string(i) + "]";
    Napi::Value value = phases.Get(i);
    if (!value.IsObject()) invalidPlan(env, phaseWhere + " must be an object");
    Napi::Object jsPhase = value.As<Napi::Object>();
    ConvPhase phase;
    phase.phaseY = intField(jsPhase, "phaseY", phaseWhere);
    phase.phaseX = intField(jsPhase, "phaseX", phaseWhere);
    phase.kh = intField(jsPhase, "kh", phaseWhere, 1);
    phase.kw = intField(jsPhase, "kw", phaseWhere, 1);
    phase.padTop = intField(jsPhase, "padTop", phaseWhere);
    phase.padLeft = intField(jsPhase, "padLeft", phaseWhere);
    if (phase.phaseY >= conv.upsample || phase.phaseX >= conv.upsample) invalidPlan(env, phaseWhere + " phase exceeds the output stride");
    size_t taps = static_cast<size_t>(conv.cout) * phase.kh * phase.kw * conv.cin;
    phase.weightOffset = weightRange(env, numberField(jsPhase, "weightOffset", phaseWhere), taps, weightCount, phaseWhere);
    conv.phases.push_back(phase);
  }
  conv.biasOffset = weightRange(env, numberField(op, "biasOffset", where), conv.cout, weightCount, where + " bias");
  return conv;
}

HeadOp headFromJs(const Napi::Object& op, const std::string& where, const std::map<int, PlanBuffer>& buffers, size_t weightCount) {
  HeadOp head;
  head.name = stringField(op, "name", where);
  head.input = viewFromJs(op, "input", where, buffers, false);
  head.cin = intField(op, "cin", where, 1);
  head.upscale = intField(op, "upscale", where, 1);
  if (head.input.channels != head.cin) invalidPlan(op.Env(), where + " reads " + std::to_string(head.input.channels) + " channels but cin is " + std::to_string(head.cin));
  size_t rows = static_cast<size_t>(head.upscale) * head.upscale;
  head.weightOffset = weightRange(op.Env(), numberField(op, "weightOffset", where), rows * head.cin, weightCount, where);
  head.biasOffset = weightRange(op.Env(), numberField(op, "biasOffset", where), rows, weightCount, where + " bias");
  return head;
}

// The localization head (lib/engine/plan.ts LocalizationHeadOp); the ranges are those the metadata allows.
HeadOp localizationHeadFromJs(const Napi::Object& op, const std::string& where, const std::map<int, PlanBuffer>& buffers,
                              size_t weightCount, int upsampling) {
  Napi::Env env = op.Env();
  HeadOp head;
  head.kind = HeadKind::Localization;
  head.name = stringField(op, "name", where);
  head.input = viewFromJs(op, "input", where, buffers, false);
  head.cin = intField(op, "cin", where, 1);
  if (head.input.channels != head.cin) invalidPlan(env, where + " reads " + std::to_string(head.input.channels) + " channels but cin is " + std::to_string(head.cin));
  if (intField(op, "upsampling", where, 1) != upsampling) invalidPlan(env, where + ".upsampling differs from the plan's");
  head.grid = intField(op, "grid", where, 1);
  if ((head.grid != 1 && head.grid != 2 && head.grid != 4 && head.grid != 8) || upsampling % head.grid != 0)
    invalidPlan(env, where + ".grid must be 1, 2, 4 or 8 and divide the upsampling");
  // "fixed": one width for every detection; "predicted": each detection's own, so the plan keeps the sx, sy rows too.
  const std::string sigmaMode = stringField(op, "sigmaMode", where);
  if (sigmaMode != "fixed" && sigmaMode != "predicted") invalidPlan(env, where + ".sigmaMode must be \"fixed\" or \"predicted\"");
  head.predictedSigma = sigmaMode == "predicted";
  if (head.predictedSigma) {
    Napi::Array range = arrayField(op, "sigmaRange", where);
    const Napi::Value lo = range.Get(0u), hi = range.Get(1u);
    const bool numbers = range.Length() == 2 && lo.IsNumber() && hi.IsNumber();
    const double sigmaMin = numbers ? lo.As<Napi::Number>().DoubleValue() : std::nan("");
    const double sigmaMax = numbers ? hi.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(sigmaMin > 0 && sigmaMin <= sigmaMax && sigmaMax <= 4)) invalidPlan(env, where + ".sigmaRange must be [lo, hi] with 0 < lo <= hi <= 4");
    head.sigmaMin = static_cast<float>(sigmaMin);
    head.sigmaMax = static_cast<float>(sigmaMax);
  } else if (!op.Get("sigmaRange").IsUndefined()) {
    invalidPlan(env, where + ".sigmaRange is only allowed with sigmaMode \"predicted\"");
  }
  const size_t rows = static_cast<size_t>(head.predictedSigma ? 5 : 3) * head.grid * head.grid;  // p, dx, dy[, sx, sy] of every cell
  head.weightOffset = weightRange(env, numberField(op, "weightOffset", where), rows * head.cin, weightCount, where);
  head.biasOffset = weightRange(env, numberField(op, "biasOffset", where), rows, weightCount, where + " bias");
  const double maxOffset = numberField(op, "maxOffset", where), sigma = numberField(op, "renderSigma", where);
  const double minProbability = numberField(op, "minProbability", where);
  head.renderRadius = intField(op, "renderRadius", where, 0);
  if (!(maxOffset > 0 && maxOffset <= 2)) invalidPlan(env, where + ".maxOffset must be in (0, 2]");
  if (!(sigma >= 0 && sigma <= 4)) invalidPlan(env, where + ".renderSigma must be in [0, 4]");
  if (head.renderRadius > 8) invalidPlan(env, where + ".renderRadius must be 0..8");
  if (!(minProbability >= 0 && minProbability < 1)) invalidPlan(env, where + ".minProbability must be in [0, 1)");
  head.maxOffset = static_cast<float>(maxOffset);
  head.renderSigma = static_cast<float>(sigma);
  head.minProbability = static_cast<float>(minProbability);
  return head;
}

}  // namespace

Plan planFromJs(const Napi::Object& jsPlan) {
  Napi::Env env = jsPlan.Env();
  const std::string where = "plan";
  if (intField(jsPlan, "version", where) != 1) invalidPlan(env, "version " + std::to_string(intField(jsPlan, "version", where)) + " is not supported (expected 1)");

  Plan plan;
  plan.upsampling = intField(jsPlan, "upsampling", where, 1);
  plan.sizeMultiple = intField(jsPlan, "sizeMultiple", where, 1);
  plan.minSize = intField(jsPlan, "minSize", where, 1);
  plan.modelHash = stringField(jsPlan, "modelHash", where);

  Napi::Object normalization = objectField(jsPlan, "normalization", where);
  if (stringField(normalization, "kind", where) != "minmax-zscore") invalidPlan(env, "normalization kind must be minmax-zscore");
  plan.normMean = static_cast<float>(numberField(normalization, "mean", "plan.normalization"));
  plan.normStd = static_cast<float>(numberField(normalization, "std", "plan.normalization"));
  if (!(plan.normStd > 0)) invalidPlan(env, "normalization std must be > 0");

  Napi::Value weights = field(jsPlan, "weights", where);
  if (!weights.IsTypedArray() || weights.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    invalidPlan(env, "weights must be a Float32Array");
  }
  Napi::Float32Array weightArray = weights.As<Napi::Float32Array>();
  plan.weights.assign(weightArray.Data(), weightArray.Data() + weightArray.ElementLength());

  std::map<int, PlanBuffer> buffers;
  Napi::Array jsBuffers = arrayField(jsPlan, "buffers", where);
  for (uint32_t i = 0; i < jsBuffers.Length(); ++i) {
    std::string bufferWhere = "plan.buffers[" + std::to_string(i) + "]";
    Napi::Value value = jsBuffers.Get(i);
    if (!value.IsObject()) invalidPlan(env, bufferWhere + " must be an object");
    Napi::Object jsBuffer = value.As<Napi::Object>();
    PlanBuffer buffer;
    buffer.id = intField(jsBuffer, "id", bufferWhere, 1);
    buffer.channels = intField(jsBuffer, "channels", bufferWhere, 1);
    buffer.scaleNum = intField(jsBuffer, "scaleNum", bufferWhere, 1);
    buffer.scaleDen = intField(jsBuffer, "scaleDen", bufferWhere, 1);
    if (!buffers.emplace(buffer.id, buffer).second) invalidPlan(env, "buffer id " + std::to_string(buffer.id) + " is declared twice");
    plan.buffers.push_back(buffer);
  }

  Napi::Array ops = arrayField(jsPlan, "ops", where);
  if (ops.Length() == 0) invalidPlan(env, "has no ops");
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    std::string opWhere = "plan.ops[" + std::to_string(i) + "]";
    Napi::Value value = ops.Get(i);
    if (!value.IsObject()) invalidPlan(env, opWhere + " must be an object");
    Napi::Object op = value.As<Napi::Object>();
    std::string kind = stringField(op, "op", opWhere);
    bool last = i + 1 == ops.Length();
    if (kind == "conv") {
      if (last) invalidPlan(env, "the last op must be the head");
      plan.convs.push_back(convFromJs(op, opWhere, buffers, plan.weights.size()));
    } else if (kind == "head") {
      if (!last) invalidPlan(env, "the head must be the last op (found at " + std::to_string(i) + ")");
      plan.head = headFromJs(op, opWhere, buffers, plan.weights.size());
    } else if (kind == "localization-head") {
      if (!last) invalidPlan(env, "the localization head must be the last op (found at " + std::to_string(i) + ")");
      plan.head = localizationHeadFromJs(op, opWhere, buffers, plan.weights.size(), plan.upsampling);
    } else {
      invalidPlan(env, opWhere + ".op \"" + kind + "\" is neither conv, head nor localization-head");
    }
  }
  return plan;
}

}  // namespace smlmrt::addon
