// A small fixed pool of worker threads for ctx->parallel_for.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "pygraph/abi.h"

namespace pygraph {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Splits [0, n) into at most size() chunks of at least `grain` items; the caller runs one chunk.
  // Safe from any number of threads at once (the ones that find the workers busy run serially).
  void parallel_for(int64_t n, int64_t grain, pg_range_fn fn, void* closure);

 private:
  void worker_loop(int index);
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::mutex call_mu_;  // held by the one parallel_for that owns the workers
  uint64_t generation_ = 0;
  int pending_ = 0;
  int chunks_ = 0;
  int64_t n_ = 0;
  pg_range_fn fn_ = nullptr;
  void* closure_ = nullptr;
  bool stop_ = false;
};

ThreadPool& global_pool();
void set_global_pool_size(int num_threads);

}  // namespace pygraph
