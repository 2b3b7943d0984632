// Errors that reach JavaScript: a plain Error carrying `.code` (the stable codes of lib/errors.ts), so that the
// TypeScript side can turn it into an SmlmError without parsing messages.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

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

// How a side of the addon words the exceptions that are not EngineErrors (those carry their own code and message).
struct ExceptionWording {
  const char* code;             // std::exception and anything else thrown
  const char* outOfMemoryCode;  // std::bad_alloc
  std::string prefix;           // before each of those messages
  std::string context;          // after the messages that have no text of their own, e.g. " while building the engine"
  std::string outOfMemoryHint;  // what to try, after "out of host memory"
};

// The GPU engine's: everything is E_GPU.
inline ExceptionWording gpuWording(std::string context) { return {"E_GPU", "E_GPU", "", std::move(context), ""}; }

// The CPU executor's: out of host memory is E_BAD_OPTIONS (a smaller batch or frame fits), anything else is the plan's
// fault, E_MODEL_INVALID.
inline ExceptionWording cpuWording() { return {"E_MODEL_INVALID", "E_BAD_OPTIONS", "cpu plan executor: ", "", " (try a smaller batch)"}; }

// For AsyncWorker::Execute, inside a catch (...) block: the code and message of the exception in flight, kept until
// OnOK/OnError can reject the promise on the JS thread.
inline void describeCurrentException(std::string& code, std::string& message, const ExceptionWording& wording) {
  try {
    throw;
  } catch (const EngineError& error) {
    code = error.code();
    message = error.what();
  } catch (const std::bad_alloc&) {
    code = wording.outOfMemoryCode;
    message = wording.prefix + "out of host memory" + wording.context + wording.outOfMemoryHint;
  } catch (const std::exception& error) {
    code = wording.code;
    message = wording.prefix + error.what();
  } catch (...) {
    code = wording.code;
    message = wording.prefix + "unknown native error" + wording.context;
  }
}

}  // namespace smlmrt::addon
