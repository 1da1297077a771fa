#include "mpi_blocking.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace pygraph {

// The helper: one thread for the process, started at the first large allreduce and detached, so that exit
// never waits for it (after a deadline it may stay blocked in MPI until the process ends; an uncaught error
// aborts the job, pygraph/distribute/engine.py). The owner is never freed (mpi_direct.cc), so it stays valid.
void BlockingAllreduce::serve() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return pending_; });
    pending_ = false;
    void* data = data_;
    const int count = count_;
    const Handle type = type_;
    lock.unlock();
    int rc = allreduce(kInPlace, data, count, type, sum, comm);
    lock.lock();
    rc_ = rc;
    done_ = true;
    changed_.notify_all();
  }
}

bool BlockingAllreduce::run(void* data, int count, Handle type, double timeout, int* rc) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!started_) {
    // Signals stay with the other threads (Python handles them on its main thread): the helper blocks them all.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    std::thread([this] { serve(); }).detach();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    started_ = true;
  }
  data_ = data;
  count_ = count;
  type_ = type;
  done_ = false;
  pending_ = true;
  changed_.notify_all();
  // At most ~30 years: PYGRAPH_COLLECTIVE_TIMEOUT=inf (or 1e30) would overflow the clock's nanoseconds.
  const std::chrono::duration<double> limit(std::min(timeout, 1e9));
  if (!changed_.wait_for(lock, limit, [this] { return done_; })) return false;
  *rc = rc_;
  return true;
}

}  // namespace pygraph
