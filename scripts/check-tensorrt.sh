#!/usr/bin/env bash
# Compile-checks the TensorRT backend (native/tensorrt/*) against TensorRT public headers, without TensorRT's
# libraries: every source is compiled to an object file with the flags of the real build (read from
# native/build-config.cmake, plus what CMakeLists.txt and native/tensorrt/tensorrt.cmake add), and nothing is linked.
# This proves the code compiles against those headers; it does not prove that it runs.
#
# Usage: scripts/check-tensorrt.sh INCLUDE_DIR [INCLUDE_DIR...]
#        TENSORRT_INCLUDE=DIR[:DIR...] scripts/check-tensorrt.sh
# Each INCLUDE_DIR must hold NvInfer.h, NvInferVersion.h and NvOnnxParser.h of one TensorRT version.
# Environment: CXX (default g++), NVCC (default $CUDA_HOME/bin/nvcc), CUDA_HOME (default /usr/local/cuda),
#              CHECK_TENSORRT_WERROR=0 to report warnings without failing on them (default: warnings fail, so that
#              an API deprecated in a newer TensorRT is noticed), CHECK_TENSORRT_KEEP=1 to keep the object files.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$repo/native/build-config.cmake"
cuda_home="${CUDA_HOME:-/usr/local/cuda}"
cxx="${CXX:-g++}"
nvcc="${NVCC:-$cuda_home/bin/nvcc}"

include_dirs=("$@")
if [ ${#include_dirs[@]} -eq 0 ] && [ -n "${TENSORRT_INCLUDE:-}" ]; then
  IFS=':' read -r -a include_dirs <<<"$TENSORRT_INCLUDE"
fi
if [ ${#include_dirs[@]} -eq 0 ]; then
  echo "usage: $0 INCLUDE_DIR [INCLUDE_DIR...]   (or TENSORRT_INCLUDE=DIR[:DIR...])" >&2
  exit 2
fi

# One value of a `set(NAME value...)` line of native/build-config.cmake, so the flags are never written down twice.
cmake_setting() {
  local value
  value="$(sed -n "s/^set($1 \([^)]*\)).*\$/\1/p" "$config" | head -n 1)"
  if [ -z "$value" ]; then
    echo "check-tensorrt: $1 not found in $config" >&2
    exit 2
  fi
  echo "$value"
}
cxx_standard="$(cmake_setting SMLMRT_CXX_STANDARD)" || exit 2
host_flags_text="$(cmake_setting SMLMRT_HOST_FLAGS)" || exit 2
napi_definitions_text="$(cmake_setting SMLMRT_NAPI_DEFINITIONS)" || exit 2
read -r -a host_flags <<<"$host_flags_text"
read -r -a napi_definitions <<<"$napi_definitions_text"
# What CMakeLists.txt adds to the addon target: position-independent code and hidden visibility (its presets).
host_flags=(-fPIC -fvisibility=hidden "${host_flags[@]}")

# "10.16.0" from NvInferVersion.h: TensorRT <= 10.10 defines NV_TENSORRT_MAJOR directly, later versions through
# TRT_MAJOR_ENTERPRISE.
header_version() {
  local header="$1/NvInferVersion.h" parts=() part number
  for part in MAJOR MINOR PATCH; do
    number="$(sed -n -E "s/^#define (TRT_${part}_ENTERPRISE|NV_TENSORRT_${part}) +([0-9]+).*/\2/p" "$header" | head -n 1)"
    parts+=("${number:-?}")
  done
  (IFS=.; echo "${parts[*]}")
}

mapfile -t sources < <(cd "$repo" && ls native/tensorrt/*.cpp native/tensorrt/*.cu 2>/dev/null | sort)
if [ ${#sources[@]} -eq 0 ]; then
  echo "check-tensorrt: no sources in native/tensorrt" >&2
  exit 2
fi

werror=()
[ "${CHECK_TENSORRT_WERROR:-1}" = "0" ] || werror=(-Werror)

failures=0
for dir in "${include_dirs[@]}"; do
  dir="$(cd "$dir" && pwd)"
  for header in NvInfer.h NvInferVersion.h NvOnnxParser.h; do
    if [ ! -f "$dir/$header" ]; then
      echo "check-tensorrt: $dir has no $header" >&2
      exit 2
    fi
  done
  version="$(header_version "$dir")"
  out="$(mktemp -d "${TMPDIR:-/tmp}/check-tensorrt-$version.XXXXXX")"
  echo "== TensorRT $version headers: $dir"
  definitions=()
  for definition in "${napi_definitions[@]}"; do definitions+=("-D$definition"); done
  definitions+=(-DSMLMRT_WITH_TENSORRT "-DSMLMRT_TENSORRT_VERSION=\"$version\"")
  # TensorRT and CUDA are system headers, as tensorrt.cmake declares them: warnings inside them (TensorRT's own
  # headers use their deprecated plugin APIs) are not ours; a deprecated API used by our code still warns.
  includes=(-I "$repo/native" -isystem "$dir" -isystem "$cuda_home/include")
  for source in "${sources[@]}"; do
    object="$out/$(basename "$source").o"
    case "$source" in
      *.cu) command=("$nvcc" "-std=c++$cxx_standard" -c -Xcompiler "$(IFS=,; echo "${host_flags[*]}${werror:+,-Werror}")"
                     "${definitions[@]}" "${includes[@]}" "$repo/$source" -o "$object") ;;
      *)    command=("$cxx" "-std=c++$cxx_standard" -c "${host_flags[@]}" "${werror[@]}"
                     "${definitions[@]}" "${includes[@]}" "$repo/$source" -o "$object") ;;
    esac
    if log="$("${command[@]}" 2>&1)"; then
      echo "  ok    $source -> $(stat -c %s "$object") bytes"
    else
      echo "  FAIL  $source"
      echo "$log" | sed 's/^/        /'
      failures=$((failures + 1))
    fi
  done
  echo "  command: ${command[*]//$repo\//}" | sed "s|$out|\$OUT|g"
  if [ "${CHECK_TENSORRT_KEEP:-0}" = "1" ]; then echo "  objects kept in $out"; else rm -rf "$out"; fi
done

# The parts that need neither TensorRT nor a GPU (profile choice, cache files) are also run, not only compiled.
echo "== TensorRT-independent parts: native/tensorrt/tests/pure_parts_test.cpp"
test_binary="$(mktemp "${TMPDIR:-/tmp}/trt-pure-parts.XXXXXX")"
if "$cxx" "-std=c++$cxx_standard" "${host_flags[@]}" "${werror[@]}" -I "$repo/native" "$repo/native/tensorrt/tests/pure_parts_test.cpp" \
     "$repo/native/tensorrt/shape_profile.cpp" "$repo/native/tensorrt/file_cache.cpp" -o "$test_binary" 2>&1 | sed 's/^/        /'; then
  if ! "$test_binary" | sed 's/^/  /'; then failures=$((failures + 1)); fi
else
  echo "  FAIL  building the test"
  failures=$((failures + 1))
fi
rm -f "$test_binary"

if [ $failures -gt 0 ]; then
  echo "check-tensorrt: $failures check(s) failed (compilations or the test)"
  exit 1
fi
echo "check-tensorrt: every native/tensorrt source compiled against every header set given (compiled, not linked, not run);"
echo "                the TensorRT-independent tests passed"
