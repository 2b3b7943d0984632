# smlm-rt CUDA engine: sources and flags for the addon's CMakeLists.txt (owned by the bindings engineer), e.g.
#   include(${CMAKE_CURRENT_SOURCE_DIR}/native/engine/sources.cmake)
#   target_sources(smlmrt PRIVATE ${SMLMRT_ENGINE_SOURCES})
#   set_target_properties(smlmrt PROPERTIES CUDA_ARCHITECTURES "${SMLMRT_CUDA_ARCHITECTURES}" CUDA_STANDARD 17)
#   target_compile_definitions(smlmrt PRIVATE SMLMRT_VERSION="${PACKAGE_VERSION}")   # keys the tactic cache
#   set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
# All files compile with nvcc (the .cpp files use only the host compiler's C++17). No device linking is needed
# (no relocatable device code); cudart is linked statically.
set(SMLMRT_ENGINE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SMLMRT_ENGINE_SOURCES
  ${SMLMRT_ENGINE_DIR}/common_kernels.cu
  ${SMLMRT_ENGINE_DIR}/cuda_engine.cu
  ${SMLMRT_ENGINE_DIR}/device_list.cu
  ${SMLMRT_ENGINE_DIR}/frame_preparation.cpp
  ${SMLMRT_ENGINE_DIR}/pipeline.cu
  ${SMLMRT_ENGINE_DIR}/memory_plan.cpp
  ${SMLMRT_ENGINE_DIR}/tactic_cache.cpp
  ${SMLMRT_ENGINE_DIR}/../kernels/conv_tc.cu
  ${SMLMRT_ENGINE_DIR}/../kernels/conv_generic.cu
  ${SMLMRT_ENGINE_DIR}/../kernels/frame_conv.cu
  ${SMLMRT_ENGINE_DIR}/../kernels/head.cu
  ${SMLMRT_ENGINE_DIR}/../kernels/localization_head.cu
)
# The tensor-core kernels need sm_80 (cp.async, mma.m16n8k16): on Turing (sm_75) the engine runs its generic
# FP32-accumulating kernels instead (correct, slow), decided at run time from the device's compute capability.
# Machine code for Turing..Hopper plus compute_90 PTX for newer GPUs ("90" in CMake emits both SASS and PTX;
# the explicit -real entries emit SASS only).
set(SMLMRT_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90)
# Extra nvcc flags (the kernels rely on none; listed for reproducibility of register reports):
set(SMLMRT_CUDA_FLAGS -O3 --expt-relaxed-constexpr)
