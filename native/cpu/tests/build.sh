#!/usr/bin/env bash
# Builds the CPU plan executor's host test with the host compiler only (no nvcc, no Node, no CMake).
#   native/cpu/tests/build.sh [out-dir]      default: build/cpu_test
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../../build/cpu_test}"
mkdir -p "$out"
"${CXX:-g++}" -std=c++17 -O3 -Wall -Wno-unused-parameter -pthread "$here/cpu_test.cpp" "$here"/../*.cpp -o "$out/cpu_test"
echo "built $out/cpu_test"
