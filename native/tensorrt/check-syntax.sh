#!/usr/bin/env bash
# Compile-checks the TensorRT backend's sources (-fsyntax-only) against TensorRT's public headers, on a machine
# without TensorRT's libraries or a GPU:
#   TRT_INCLUDE=/path/to/TensorRT/include native/tensorrt/check-syntax.sh
# (e.g. the include/ folder of a checkout of github.com/NVIDIA/TensorRT at the release to check). CUDA's headers come
# from CUDA_HOME (default /usr/local/cuda). Exit status 1 on any error or warning in smlm-rt's code.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${TRT_INCLUDE:?set TRT_INCLUDE to a folder holding NvInfer.h, NvInferVersion.h and NvOnnxParser.h}"
cuda="${CUDA_HOME:-/usr/local/cuda}"
status=0
for f in "$here"/*.cpp; do
  if ! out=$("${CXX:-g++}" -std=c++17 -fsyntax-only -Wall -Wextra -I"$cuda/include" -isystem "$TRT_INCLUDE" -DSMLMRT_WITH_TENSORRT "$f" 2>&1) || [ -n "$out" ]; then
    echo "$out"
    status=1
  fi
done
version=$(grep -E "^#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+" "$TRT_INCLUDE/NvInferVersion.h" | awk '{print $3}' | paste -sd. -)
echo "TensorRT backend sources against $TRT_INCLUDE (TensorRT $version): $([ $status = 0 ] && echo clean || echo FAILED)"
exit $status
