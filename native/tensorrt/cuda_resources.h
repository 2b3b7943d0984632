// Owning wrappers for the CUDA objects the TensorRT backend allocates, and the one place CUDA errors become
// EngineErrors. Kept local to native/tensorrt so this backend depends only on engine.h and common_kernels.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "../engine/engine.h"

namespace smlmrt::trt {

// Throws EngineError("E_GPU", "<where>: <CUDA message>") unless status is cudaSuccess; out-of-memory gets its own
// code so the caller (and the JS side) can tell it apart.
inline void checkCuda(cudaError_t status, const char* where) {
  if (status == cudaSuccess) return;
  const std::string message = std::string(where) + ": " + cudaGetErrorString(status);
  if (status == cudaErrorMemoryAllocation) throw EngineError("E_GPU_OUT_OF_MEMORY", message);
  throw EngineError("E_GPU", message);
}

// An owning CUDA allocation made and freed by the given runtime calls. Move-only; freed in the destructor (errors
// there are ignored: nothing useful can be done).
template <cudaError_t (*Allocate)(void**, size_t), cudaError_t (*Free)(void*)>
class CudaAllocation {
 public:
  CudaAllocation() = default;
  // Returns cudaErrorMemoryAllocation instead of throwing so that callers can retry with a smaller batch.
  cudaError_t allocate(size_t bytes) {
    release();
    if (bytes == 0) return cudaSuccess;
    cudaError_t status = Allocate(&pointer_, bytes);
    if (status != cudaSuccess) {
      pointer_ = nullptr;
      (void)cudaGetLastError();  // reset the last-error state: this failure is handled here
      return status;
    }
    bytes_ = bytes;
    return cudaSuccess;
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
  T* as() const { return static_cast<T*>(pointer_); }
  size_t bytes() const { return bytes_; }

 private:
  void* pointer_ = nullptr;
  size_t bytes_ = 0;
};

// Device memory.
using DeviceBuffer = CudaAllocation<cudaMalloc, cudaFree>;
// Page-locked host memory, so that uploads are real asynchronous DMA and the CPU can stage the next batch meanwhile.
using PinnedBuffer = CudaAllocation<cudaMallocHost, cudaFreeHost>;

class CudaStream {
 public:
  CudaStream() = default;
  void create() {
    if (stream_ == nullptr) checkCuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaStream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
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
  void create() {
    if (event_ == nullptr) checkCuda(cudaEventCreate(&event_), "cudaEventCreate");
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

}  // namespace smlmrt::trt
