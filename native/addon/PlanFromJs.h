// Converts the JS execution plan (lib/engine/plan.ts) into smlmrt::Plan, checking every index and offset on the way:
// the engine trusts the plan it executes, so a malformed one must stop here with a clear message.
#pragma once

#include <napi.h>

#include "../engine/engine.h"

namespace smlmrt::addon {

// Throws a JS Error with code E_MODEL_INVALID describing the first inconsistency found.
Plan planFromJs(const Napi::Object& jsPlan);

}  // namespace smlmrt::addon
