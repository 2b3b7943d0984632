// The host tests' one assertion: prints PASS or FAIL with what was checked, and counts the failures that decide the
// test program's exit status.
#pragma once

#include <cstdio>
#include <string>

namespace smlmrt::test {

inline int failures = 0;

inline void check(bool ok, const std::string& what) {
  std::printf("%s  %s\n", ok ? "PASS" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace smlmrt::test
