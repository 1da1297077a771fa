// TF's floating-point mode for everything a compiled program computes: subnormal (denormal) floats are
// flushed to zero, both as results (FTZ) and as operands (DAZ), as TensorFlow's executor threads do
// (tensorflow/core/platform/denormal.h, ScopedFlushDenormal). It is also ~100x faster on x86, where every
// operation on a subnormal takes a microcode assist: Adam's moments of dead ReLU units sit at subnormal
// values for ever and slowed a training step 4-10x. The mode is per thread and restored after each run,
// so Python and numpy outside a run keep IEEE semantics. x86: MXCSR's FTZ and DAZ bits; AArch64:
// FPCR.FZ (flushes operands and results); anywhere else nothing changes. Python-free (AOT hosts use it).
#pragma once
#include <cstdint>

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
#include <xmmintrin.h>
#define PG_FP_MODE_X86 1
#endif

namespace pygraph {

#if defined(PG_FP_MODE_X86)
constexpr uint64_t kFlushDenormalBits = 0x8040;  // MXCSR: FTZ (bit 15) | DAZ (bit 6)
inline uint64_t read_fp_mode() { return _mm_getcsr(); }
inline void write_fp_mode(uint64_t mode) { _mm_setcsr(static_cast<unsigned>(mode)); }
#elif defined(__aarch64__)
constexpr uint64_t kFlushDenormalBits = uint64_t(1) << 24;  // FPCR.FZ
inline uint64_t read_fp_mode() {
  uint64_t fpcr;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
}
inline void write_fp_mode(uint64_t mode) { __asm__ __volatile__("msr fpcr, %0" : : "r"(mode)); }
#else
constexpr uint64_t kFlushDenormalBits = 0;
inline uint64_t read_fp_mode() { return 0; }
inline void write_fp_mode(uint64_t) {}
#endif

// Turns flushing on for the calling thread; returns the mode to hand back to restore_fp_mode.
inline uint64_t enter_flush_denormals() {
  const uint64_t previous = read_fp_mode();
  if ((previous & kFlushDenormalBits) != kFlushDenormalBits) write_fp_mode(previous | kFlushDenormalBits);
  return previous;
}

inline void restore_fp_mode(uint64_t previous) {
  if (read_fp_mode() != previous) write_fp_mode(previous);
}

// Flushing on for one scope, the caller's mode back on every exit path.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() : previous_(enter_flush_denormals()) {}
  ~ScopedFlushDenormals() { restore_fp_mode(previous_); }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  uint64_t previous_;
};

}  // namespace pygraph
