// Per-environment data of the addon (worker threads each get their own): the EngineWrap and SessionWrap constructors.
#pragma once

#include <napi.h>

namespace smlmrt::addon {

struct AddonData {
  Napi::FunctionReference engineConstructor;
  Napi::FunctionReference sessionConstructor;
};

}  // namespace smlmrt::addon
