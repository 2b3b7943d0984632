// Per-environment data of the addon (worker threads each get their own): the EngineWrap constructor.
#pragma once

#include <napi.h>

namespace smlmrt::addon {

struct AddonData {
  Napi::FunctionReference engineConstructor;
};

}  // namespace smlmrt::addon
