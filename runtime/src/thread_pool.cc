#include "thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "fp_mode.h"

namespace pygraph {

ThreadPool::ThreadPool(int num_threads) {
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

static void run_chunk(pg_range_fn fn, void* closure, int64_t n, int chunks, int index) {
  int64_t begin = n * index / chunks, end = n * (index + 1) / chunks;
  if (begin < end) fn(closure, begin, end);
}

void ThreadPool::worker_loop(int index) {
  enter_flush_denormals();  // a worker runs nothing but programs' chunks: TF's mode for its whole life
  uint64_t seen = 0;
  for (;;) {
    pg_range_fn fn;
    void* closure;
    int64_t n;
    int chunks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= chunks_) continue;
      fn = fn_, closure = closure_, n = n_, chunks = chunks_;
    }
    run_chunk(fn, closure, n, chunks, index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, pg_range_fn fn, void* closure) {
  if (n <= 0) return;
  int64_t max_chunks = grain > 0 ? std::max<int64_t>(1, n / grain) : n;
  int chunks = static_cast<int>(std::min<int64_t>(size(), max_chunks));
  if (chunks <= 1) {
    fn(closure, 0, n);
    return;
  }
  // One submitter at a time owns the workers. Another one (a second Session.run thread, or a nested
  // loop) runs its whole range on its own thread instead of waiting: its thread is a core's worth of
  // work already, and waiting would serialise independent calls.
  std::unique_lock<std::mutex> call_lock(call_mu_, std::try_to_lock);
  if (!call_lock.owns_lock()) {
    fn(closure, 0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn, closure_ = closure, n_ = n, chunks_ = chunks;
    pending_ = chunks - 1;
    ++generation_;
  }
  work_cv_.notify_all();
  run_chunk(fn, closure, n, chunks, 0);
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
}

// Read and replaced only while the GIL is held (Kernel::call, set_num_threads). A call in flight keeps
// the pool it started with, so a replaced pool is retired, never destroyed: its idle threads cost nothing.
static std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}

ThreadPool& global_pool() {
  auto& pool = pool_slot();
  if (!pool) {
    unsigned hw = std::thread::hardware_concurrency();
    pool = std::make_unique<ThreadPool>(hw ? static_cast<int>(hw) : 1);
  }
  return *pool;
}

void set_global_pool_size(int num_threads) {
  static std::vector<std::unique_ptr<ThreadPool>> retired;
  auto& pool = pool_slot();
  num_threads = std::max(1, num_threads);
  if (pool && pool->size() == num_threads) return;
  if (pool) retired.push_back(std::move(pool));
  pool = std::make_unique<ThreadPool>(num_threads);
}

}  // namespace pygraph
