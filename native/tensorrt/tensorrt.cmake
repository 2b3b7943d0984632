# The optional TensorRT backend. Included by CMakeLists.txt with SMLMRT_ADDON_TARGET set to the addon target.
#
# Looks for TensorRT 10 or newer: NvInfer.h, NvInferVersion.h and NvOnnxParser.h, libnvinfer and libnvonnxparser,
# under TENSORRT_ROOT (CMake variable or environment variable; the folder of a TensorRT tarball, with include/ and
# lib/) or in the standard places (the Debian/Ubuntu packages install into /usr/include/<arch> and /usr/lib/<arch>).
# When everything is found it adds native/tensorrt's sources, TensorRT's include folder and libraries, and the
# definitions SMLMRT_WITH_TENSORRT and SMLMRT_TENSORRT_VERSION="major.minor.patch" (of the headers) to the target,
# and sets SMLMRT_WITH_TENSORRT to ON and SMLMRT_TENSORRT_VERSION in the including scope. Otherwise it leaves the
# target alone and says what is missing: the addon is then built without the backend.

if(NOT DEFINED SMLMRT_ADDON_TARGET OR NOT TARGET ${SMLMRT_ADDON_TARGET})
  message(FATAL_ERROR "tensorrt.cmake: set SMLMRT_ADDON_TARGET to the addon target before including it")
endif()

set(_trt_roots "")
if(DEFINED TENSORRT_ROOT AND NOT "${TENSORRT_ROOT}" STREQUAL "")
  list(APPEND _trt_roots "${TENSORRT_ROOT}")
endif()
if(DEFINED ENV{TENSORRT_ROOT} AND NOT "$ENV{TENSORRT_ROOT}" STREQUAL "")
  list(APPEND _trt_roots "$ENV{TENSORRT_ROOT}")
endif()
# Where NVIDIA's tarball is commonly unpacked; searched after TENSORRT_ROOT and before the system folders.
list(APPEND _trt_roots /usr/local/TensorRT /opt/tensorrt /usr/local/tensorrt)

set(_trt_arch_dir "${CMAKE_LIBRARY_ARCHITECTURE}")
if(NOT _trt_arch_dir)
  set(_trt_arch_dir "${CMAKE_SYSTEM_PROCESSOR}-linux-gnu")
endif()

# The results are cached as usual (and can be overridden with -DSMLMRT_TENSORRT_INCLUDE_DIR=... etc.), but a changed
# TENSORRT_ROOT must not keep finding the previous TensorRT, so the cache is dropped when the search roots change.
if(NOT "${_trt_roots}" STREQUAL "${SMLMRT_TENSORRT_SEARCH_ROOTS}")
  unset(SMLMRT_TENSORRT_INCLUDE_DIR CACHE)
  unset(SMLMRT_NVINFER_LIBRARY CACHE)
  unset(SMLMRT_NVONNXPARSER_LIBRARY CACHE)
  set(SMLMRT_TENSORRT_SEARCH_ROOTS "${_trt_roots}" CACHE INTERNAL "TensorRT search roots of the last configure")
endif()
find_path(SMLMRT_TENSORRT_INCLUDE_DIR NAMES NvInferVersion.h
  HINTS ${_trt_roots}
  PATH_SUFFIXES include "include/${_trt_arch_dir}")

set(_trt_missing "")
set(_trt_version "")
if(NOT SMLMRT_TENSORRT_INCLUDE_DIR)
  list(APPEND _trt_missing "NvInferVersion.h")
else()
  foreach(_header NvInfer.h NvOnnxParser.h)
    if(NOT EXISTS "${SMLMRT_TENSORRT_INCLUDE_DIR}/${_header}")
      list(APPEND _trt_missing "${_header} (next to NvInferVersion.h in ${SMLMRT_TENSORRT_INCLUDE_DIR})")
    endif()
  endforeach()
  # TensorRT <= 10.10 defines NV_TENSORRT_MAJOR directly; later versions through TRT_MAJOR_ENTERPRISE.
  file(STRINGS "${SMLMRT_TENSORRT_INCLUDE_DIR}/NvInferVersion.h" _trt_defines
       REGEX "^#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+")
  set(_trt_parts "")
  foreach(_part MAJOR MINOR PATCH)
    set(_value "")
    foreach(_line IN LISTS _trt_defines)
      if(_line MATCHES "^#define (NV_TENSORRT_${_part}|TRT_${_part}_ENTERPRISE) +([0-9]+)")
        set(_value "${CMAKE_MATCH_2}")
      endif()
    endforeach()
    list(APPEND _trt_parts "${_value}")
  endforeach()
  list(GET _trt_parts 0 _trt_major)
  string(REPLACE ";" "." _trt_version "${_trt_parts}")
  if(NOT _trt_major MATCHES "^[0-9]+$")
    list(APPEND _trt_missing "a readable version in ${SMLMRT_TENSORRT_INCLUDE_DIR}/NvInferVersion.h")
  elseif(_trt_major LESS 10)
    list(APPEND _trt_missing "TensorRT 10 or newer (found ${_trt_version})")
  endif()
endif()

if(NOT _trt_missing)
  # nvinfer_10.dll's import library is nvinfer_10.lib on Windows; Linux uses the plain names.
  find_library(SMLMRT_NVINFER_LIBRARY NAMES nvinfer "nvinfer_${_trt_major}"
    HINTS ${_trt_roots}
    PATH_SUFFIXES lib lib64 "lib/${_trt_arch_dir}" "targets/${CMAKE_SYSTEM_PROCESSOR}-linux/lib")
  find_library(SMLMRT_NVONNXPARSER_LIBRARY NAMES nvonnxparser "nvonnxparser_${_trt_major}"
    HINTS ${_trt_roots}
    PATH_SUFFIXES lib lib64 "lib/${_trt_arch_dir}" "targets/${CMAKE_SYSTEM_PROCESSOR}-linux/lib")
  if(NOT SMLMRT_NVINFER_LIBRARY)
    list(APPEND _trt_missing "libnvinfer")
  endif()
  if(NOT SMLMRT_NVONNXPARSER_LIBRARY)
    list(APPEND _trt_missing "libnvonnxparser")
  endif()
endif()

if(_trt_missing)
  string(REPLACE ";" ", " _trt_missing_text "${_trt_missing}")
  message(STATUS "TensorRT backend: not built (missing ${_trt_missing_text}); set TENSORRT_ROOT to a TensorRT 10+ "
                 "folder with include/ and lib/ to build it")
  set(SMLMRT_WITH_TENSORRT OFF)
else()
  file(GLOB SMLMRT_TENSORRT_SOURCES CONFIGURE_DEPENDS
       "${CMAKE_CURRENT_LIST_DIR}/*.cpp" "${CMAKE_CURRENT_LIST_DIR}/*.cu")
  target_sources(${SMLMRT_ADDON_TARGET} PRIVATE ${SMLMRT_TENSORRT_SOURCES})
  # SYSTEM: warnings inside TensorRT's headers (they use their own deprecated plugin APIs) are not ours.
  target_include_directories(${SMLMRT_ADDON_TARGET} SYSTEM PRIVATE "${SMLMRT_TENSORRT_INCLUDE_DIR}")
  target_compile_definitions(${SMLMRT_ADDON_TARGET} PRIVATE SMLMRT_WITH_TENSORRT SMLMRT_TENSORRT_VERSION="${_trt_version}")
  target_link_libraries(${SMLMRT_ADDON_TARGET} PRIVATE "${SMLMRT_NVINFER_LIBRARY}" "${SMLMRT_NVONNXPARSER_LIBRARY}")
  # TensorRT is linked dynamically (it is not redistributable inside the addon); a tarball install outside the
  # loader's paths is found at run time through the addon's RPATH.
  get_filename_component(_trt_library_dir "${SMLMRT_NVINFER_LIBRARY}" DIRECTORY)
  set_property(TARGET ${SMLMRT_ADDON_TARGET} APPEND PROPERTY BUILD_RPATH "${_trt_library_dir}")
  set_property(TARGET ${SMLMRT_ADDON_TARGET} APPEND PROPERTY INSTALL_RPATH "${_trt_library_dir}")
  set(SMLMRT_WITH_TENSORRT ON)
  set(SMLMRT_TENSORRT_VERSION "${_trt_version}")
  message(STATUS "TensorRT backend: TensorRT ${_trt_version} (${SMLMRT_TENSORRT_INCLUDE_DIR}, ${SMLMRT_NVINFER_LIBRARY}, "
                 "${SMLMRT_NVONNXPARSER_LIBRARY})")
endif()
