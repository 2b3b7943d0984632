# The one source of truth for how smlm-rt's native code is compiled. CMakeLists.txt includes it; binding.gyp does
# not compile anything itself (it delegates to cmake-js), so no flag is written down twice.

# GPU code: SASS for every architecture from Turing to Hopper, plus compute_90 PTX that newer GPUs JIT-compile.
# SMLM_RT_CUDA_ARCHS (environment) or -DSMLMRT_CUDA_ARCHS narrows it for fast iteration, e.g. SMLM_RT_CUDA_ARCHS=90.
set(SMLMRT_DEFAULT_CUDA_ARCHS "75-real;80-real;86-real;89-real;90-real;90-virtual")
if(NOT DEFINED SMLMRT_CUDA_ARCHS AND DEFINED ENV{SMLM_RT_CUDA_ARCHS} AND NOT "$ENV{SMLM_RT_CUDA_ARCHS}" STREQUAL "")
  set(SMLMRT_CUDA_ARCHS "$ENV{SMLM_RT_CUDA_ARCHS}")
endif()
if(NOT DEFINED SMLMRT_CUDA_ARCHS OR SMLMRT_CUDA_ARCHS STREQUAL "")
  set(SMLMRT_CUDA_ARCHS "${SMLMRT_DEFAULT_CUDA_ARCHS}")
endif()
# "90" or "90,80" from the environment: commas are accepted because ';' is awkward in a shell.
string(REPLACE "," ";" SMLMRT_CUDA_ARCHS "${SMLMRT_CUDA_ARCHS}")

set(SMLMRT_CXX_STANDARD 17)

# Node-API level and node-addon-api configuration (package.json "binary": {"napi_versions": [8]}).
set(SMLMRT_NAPI_DEFINITIONS NAPI_VERSION=8 NODE_ADDON_API_DISABLE_DEPRECATED NAPI_CPP_EXCEPTIONS)

# Host compiler flags (C++ and the host side of .cu files).
set(SMLMRT_HOST_FLAGS -Wall -Wno-unused-parameter)  # visibility: hidden via the target's presets
# Device compiler flags: fast math would change the network's numerics, so only what is exact.
set(SMLMRT_DEVICE_FLAGS --expt-relaxed-constexpr -lineinfo)

# Link:
#  --exclude-libs,ALL  keeps the statically linked CUDA runtime's symbols private, so that another CUDA runtime in the
#                      same process (onnxruntime, PyTorch) cannot clash with ours;
#  -z now              resolves every symbol when the addon is loaded: an incomplete build then fails to load with
#                      "undefined symbol" (reported by lib/native/binding.ts) instead of killing the process at the
#                      first call (Node-API symbols come from the node executable, so this is safe);
#  --gc-sections       drops the library code nothing calls; among it the static libstdc++'s std::random_device (pulled
#                      in only by libstdc++'s own copy-on-write string instantiations), whose arc4random@GLIBC_2.36 would
#                      otherwise make the addon need glibc 2.36;
#  static libstdc++    a prebuilt addon must not need a newer libstdc++ than the user's system has. libgcc stays shared
#                      (libgcc_s.so.1, which node itself loads; the addon needs only its GCC_3.0..4.2 symbols): GCC 12's
#                      static unwinder would call _dl_find_object@GLIBC_2.35.
# Built on Debian 12 (glibc 2.36) this needs glibc >= 2.34 where it runs: the floor of any binary linked against glibc
# >= 2.34 that calls pthread_*/dl*/sem_*/shm_* (they moved into libc.so.6 then), which the CUDA runtime does
# (docs/native-build.md; scripts/check-prebuild.mjs checks it before publishing).
set(SMLMRT_LINK_FLAGS "-Wl,--exclude-libs,ALL" "-Wl,-z,now" "-Wl,--gc-sections" -static-libstdc++)
