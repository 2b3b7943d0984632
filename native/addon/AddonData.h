// Per-environment data of the addon (worker threads each get their own): the EngineWrap, SessionWrap and
// CpuExecutorWrap constructors.
#pragma once

#include <napi.h>

namespace smlmrt::addon {

struct AddonData {
  Napi::FunctionReference engineConstructor;
  Napi::FunctionReference sessionConstructor;
  Napi::FunctionReference cpuExecutorConstructor;  // native/cpu's plan executor (CpuExecutorWrap)
};

}  // namespace smlmrt::addon
