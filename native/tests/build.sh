#!/usr/bin/env bash
# Builds the engine's standalone self-test / micro-benchmark with nvcc (no Node, no CMake).
#   native/tests/build.sh [out-dir]               default: build/selftest, sm_90 only (iteration)
#   ARCHS="75 80 86 89 90" native/tests/build.sh   all release targets (+ compute_90 PTX)
# PTXAS_VERBOSE=1 prints registers/spills per kernel.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../build/selftest}"
mkdir -p "$out"
archs="${ARCHS:-90}"
gencode=()
for a in $archs; do gencode+=("-gencode" "arch=compute_${a},code=sm_${a}"); done
if [[ "$archs" == *90* && "${ARCHS:-}" != "" ]]; then gencode+=("-gencode" "arch=compute_90,code=compute_90"); fi
flags=(-std=c++17 -O3 -cudart static --expt-relaxed-constexpr -Xcompiler -Wall "${gencode[@]}")
[[ "${PTXAS_VERBOSE:-0}" == 1 ]] && flags+=(-Xptxas -v)
src=(
  "$here/../engine/common_kernels.cu" "$here/../engine/cuda_engine.cu" "$here/../engine/device_list.cu"
  "$here/../engine/memory_plan.cpp" "$here/../engine/tactic_cache.cpp" "$here/../engine/pipeline.cu"
  "$here/../engine/frame_preparation.cpp"
  "$here/../kernels/conv_tc.cu" "$here/../kernels/conv_generic.cu" "$here/../kernels/frame_conv.cu" "$here/../kernels/head.cu"
  "$here/../kernels/localization_head.cu"
)
objs=()
pids=()
for s in "${src[@]}"; do
  o="$out/$(basename "$s").o"
  objs+=("$o")
  nvcc "${flags[@]}" -c "$s" -o "$o" &
  pids+=($!)
  # at most as many compiles in flight as cores
  if (( ${#pids[@]} >= $(nproc) )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done
nvcc "${flags[@]}" -c "$here/selftest.cu" -o "$out/selftest.o"
nvcc "${flags[@]}" "${objs[@]}" "$out/selftest.o" -o "$out/selftest" -lpthread
# Host-only planning checks (memory sharing, tactic cache): no GPU and no nvcc needed.
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra "$here/host_test.cpp" "$here/../engine/memory_plan.cpp" \
  "$here/../engine/tactic_cache.cpp" -o "$out/host_test"
echo "built $out/selftest ($archs) and $out/host_test"
