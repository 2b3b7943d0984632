// Errors that reach JavaScript: a plain Error carrying `.code` (the stable codes of lib/errors.ts), so that the
// TypeScript side can turn it into an SmlmError without parsing messages.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "../engine/engine.h"

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

// For AsyncWorker::Execute, inside a catch (...) block: the code and message of the exception in flight, kept until
// OnOK/OnError can reject the promise on the JS thread. `context` completes the messages that have no text of their
// own (e.g. " while building the engine").
inline void describeCurrentException(std::string& code, std::string& message, const std::string& context) {
  try {
    throw;
  } catch (const EngineError& error) {
    code = error.code();
    message = error.what();
  } catch (const std::bad_alloc&) {
    code = "E_GPU";
    message = "out of host memory" + context;
  } catch (const std::exception& error) {
    code = "E_GPU";
    message = error.what();
  } catch (...) {
    code = "E_GPU";
    message = "unknown native error" + context;
  }
}

}  // namespace smlmrt::addon
