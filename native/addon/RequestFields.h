// Checks of the fields of a request object from JavaScript, made on the JS thread before any native work: a missing or
// wrong field is E_BAD_OPTIONS, saying which call (`where`) and which field.
#pragma once

#include <napi.h>

#include <cmath>
#include <limits>
#include <string>

#include "JsErrors.h"

namespace smlmrt::addon {

inline int integerField(Napi::Env env, const Napi::Object& from, const char* name, const std::string& where, int min) {
  Napi::Value value = from.Get(name);
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(std::floor(number) == number) || number < min || number > std::numeric_limits<int>::max()) {
    throwCodedError(env, "E_BAD_OPTIONS", where + ": " + name + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int>(number);
}

inline Napi::Float32Array float32Field(Napi::Env env, const Napi::Object& from, const char* name, const std::string& where) {
  Napi::Value value = from.Get(name);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwCodedError(env, "E_BAD_OPTIONS", where + ": " + name + " must be a Float32Array");
  }
  return value.As<Napi::Float32Array>();
}

}  // namespace smlmrt::addon
