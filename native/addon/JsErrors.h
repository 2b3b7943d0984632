// Errors that reach JavaScript: a plain Error carrying `.code` (the stable codes of lib/errors.ts), so that the
// TypeScript side can turn it into an SmlmError without parsing messages.
#pragma once

#include <napi.h>

#include <string>

namespace smlmrt::addon {

inline Napi::Error makeCodedError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// For argument checks on the JS thread: throws a JS exception (node-addon-api is built with C++ exceptions on).
[[noreturn]] inline void throwCodedError(Napi::Env env, const std::string& code, const std::string& message) {
  throw makeCodedError(env, code, message);
}

}  // namespace smlmrt::addon
