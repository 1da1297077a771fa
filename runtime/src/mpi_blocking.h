// Large allreduces of the direct MPI engine (mpi_direct.cc) on MPICH's blocking MPI_Allreduce, run by a helper
// thread while the caller waits with the collective deadline. Why: MPICH's nonblocking Iallreduce, which
// gives every other wait its deadline, is ~30% slower than the blocking call at 16 MB (benchmarks/
// DISTRIBUTE.md); a blocking call cannot time out, so it runs where a deadline can give up on it.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace pygraph {

using Handle = int;                                   // MPI_Comm, MPI_Datatype, MPI_Op in MPICH's ABI
inline void* const kInPlace = reinterpret_cast<void*>(-1);  // MPICH's MPI_IN_PLACE

class BlockingAllreduce {
 public:
  using Fn = int (*)(const void*, void*, int, Handle, Handle, Handle);
  Fn allreduce = nullptr;
  Handle comm = 0, sum = 0;
  int64_t min_bytes = 0;  // buffers of at least this size come here; 0: none

  bool takes(int64_t bytes) const { return min_bytes > 0 && allreduce && bytes >= min_bytes; }
  // Sums `data` in place across the ranks; false when `timeout` seconds passed first, which leaves the
  // helper thread inside MPI for good (the caller must mark its engine broken and call no more). *rc: MPI's.
  // The caller serializes calls (one collective at a time on a communicator).
  bool run(void* data, int count, Handle type, double timeout, int* rc);

 private:
  void serve();

  std::mutex mutex_;
  std::condition_variable changed_;
  bool started_ = false, pending_ = false, done_ = false;
  void* data_ = nullptr;
  int count_ = 0, rc_ = 0;
  Handle type_ = 0;
};

}  // namespace pygraph
