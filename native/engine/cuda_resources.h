// The CUDA runtime objects both engines (smlm-rt's cuda engine and the TensorRT backend) and the session pipeline
// hold, as owning RAII types: device buffers, page-locked host buffers, streams and events. Errors become
// EngineErrors through the one checkCuda (cuda_check.h); destructors ignore errors (nothing useful can be done).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda_check.h"

namespace smlmrt {

// An owning CUDA allocation made and freed by the given runtime calls. Move-only.
template <cudaError_t (*Allocate)(void**, size_t), cudaError_t (*Free)(void*)>
class CudaAllocation {
 public:
  CudaAllocation() = default;
  // Returns cudaErrorMemoryAllocation instead of throwing so that callers can retry with a smaller batch; the
  // last-error state is reset either way.
  cudaError_t allocate(size_t bytes) {
    release();
    if (bytes == 0) return cudaSuccess;
    const cudaError_t status = Allocate(&pointer_, bytes);
    if (status != cudaSuccess) {
      pointer_ = nullptr;
      (void)cudaGetLastError();
      return status;
    }
    bytes_ = bytes;
    return cudaSuccess;
  }
  // Throws DeviceOutOfMemory (E_GPU_OUT_OF_MEMORY) or EngineError E_GPU.
  void allocateOrThrow(size_t bytes, const char* where) { checkCuda(allocate(bytes), where); }
  // Keeps the allocation when it is already at least `bytes` large.
  void reserveOrThrow(size_t bytes, const char* where) {
    if (bytes_ < bytes || pointer_ == nullptr) allocateOrThrow(bytes, where);
  }
  void release() {
    if (pointer_ != nullptr) Free(pointer_);
    pointer_ = nullptr;
    bytes_ = 0;
  }
  ~CudaAllocation() { release(); }
  CudaAllocation(const CudaAllocation&) = delete;
  CudaAllocation& operator=(const CudaAllocation&) = delete;
  CudaAllocation(CudaAllocation&& other) noexcept
      : pointer_(std::exchange(other.pointer_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  CudaAllocation& operator=(CudaAllocation&& other) noexcept {
    if (this != &other) {
      release();
      pointer_ = std::exchange(other.pointer_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  void* get() const { return pointer_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(pointer_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* pointer_ = nullptr;
  size_t bytes_ = 0;
};

namespace detail {
inline cudaError_t mallocHost(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, cudaHostAllocDefault); }
inline cudaError_t mallocHostMapped(void** p, size_t bytes) { return cudaHostAlloc(p, bytes, cudaHostAllocMapped); }
}  // namespace detail

// Device memory.
using DeviceBuffer = CudaAllocation<cudaMalloc, cudaFree>;
// Page-locked host memory: uploads from it are real asynchronous DMA, downloads into it run at full bandwidth.
using PinnedBuffer = CudaAllocation<detail::mallocHost, cudaFreeHost>;
// Page-locked host memory that kernels can write directly (cudaHostGetDevicePointer): the image is scaled on the
// device and crosses the bus once, with no device scratch.
using MappedPinnedBuffer = CudaAllocation<detail::mallocHostMapped, cudaFreeHost>;

class CudaStream {
 public:
  CudaStream() = default;
  void create() {
    if (stream_ == nullptr) checkCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaStream() {
    if (stream_ != nullptr) {
      cudaStreamSynchronize(stream_);
      cudaStreamDestroy(stream_);
    }
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaEvent {
 public:
  CudaEvent() = default;
  // timing false: cudaEventDisableTiming (cheaper, for pure ordering).
  void create(bool timing = true) {
    if (event_ == nullptr)
      checkCuda(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
  }
  ~CudaEvent() {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace smlmrt
