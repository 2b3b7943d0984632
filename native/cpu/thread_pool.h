// A small fixed thread pool for the CPU plan executor: parallelFor(count, body) runs body(index, worker) for every
// index in [0, count) on the pool's workers and the calling thread (worker 0), handing indices out one at a time from
// an atomic counter (the machine may be shared: dynamic hand-out keeps a slowed thread from holding the rest up), and
// returns when all are done. One parallelFor at a time per pool (the executor serializes its runs).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace smlmrt::cpu {

class ThreadPool {
 public:
  // threads: total threads including the caller (>= 1).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // body(index, worker) with worker in [0, threads()); rethrows the first exception a body threw.
  void parallelFor(int64_t count, const std::function<void(int64_t, int)>& body);

 private:
  void workerLoop(int worker);
  void drain(int worker);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int active_ = 0;  // workers still inside the current job
  const std::function<void(int64_t, int)>* body_ = nullptr;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
};

// Cores this process may run on (sched_getaffinity where available, else std::thread::hardware_concurrency), >= 1.
int availableCores();

}  // namespace smlmrt::cpu
