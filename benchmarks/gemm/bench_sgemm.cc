// pygraph's SGEMM (codegen/templates/sgemm.h.j2) against OpenBLAS's sgemm on one thread, same buffers:
// median microseconds per call, and whether the AVX-512, AVX2 and scalar paths agree bit for bit.
// Built and run by benchmarks/gemm/__main__.py.
#include <pygraph/abi.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#define PG_SGEMM_FORCE 0
#include "sgemm.h"

extern "C" void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float,
                                  float*, int);

// The two calls alternate within each rep, so load on the shared machine hits both alike.
template <class F, class G> static void medians_us(int reps, F f, G g, double* tf, double* tg) {
  std::vector<double> a, b;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    g();
    auto t2 = std::chrono::steady_clock::now();
    a.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    b.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const bool lowest = getenv("PG_BENCH_MIN") != nullptr;  // the best case (tuning on a loaded machine)
  *tf = lowest ? a[0] : a[a.size() / 2];
  *tg = lowest ? b[0] : b[b.size() / 2];
}

int main(int argc, char** argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 100;
  const char* t = getenv("PG_BENCH_TRANSPOSE");  // "TN", "NT", "TT": op(a), op(b) transposed (default NN)
  const bool ta = t && t[0] == 'T', tb = t && t[0] && t[1] == 'T';
  printf("%-18s %10s %10s %7s %s\n", "m x k x n", "openblas", "pygraph", "ratio", "paths agree");
  for (int s = 2; s + 2 < argc; s += 3) {
    const int m = atoi(argv[s]), k = atoi(argv[s + 1]), n = atoi(argv[s + 2]);
    std::vector<float> a(size_t(m) * k), b(size_t(k) * n), c0(size_t(m) * n), c1(c0), c2(c0), c3(c0);
    srand(m * 31 + k * 7 + n);
    for (auto& x : a) x = rand() / float(RAND_MAX) - 0.5f;
    for (auto& x : b) x = rand() / float(RAND_MAX) - 0.5f;
    const int reps_here = std::max(5, int(reps * 2e6 / (double(m) * n * k + 1e5)));
    double t_blas, t_pg;
    medians_us(
        reps_here,
        [&] { scipy_cblas_sgemm(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, 1.0f, a.data(), ta ? m : k, b.data(),
                                   tb ? k : n, 0.0f, c0.data(), n); },
        [&] { pg_sgemm_on(PG_SG_AVX512, nullptr, ta, tb, m, n, k, a.data(), b.data(), c1.data()); }, &t_blas, &t_pg);
    pg_sgemm_on(PG_SG_AVX2, nullptr, ta, tb, m, n, k, a.data(), b.data(), c2.data());
    pg_sgemm_on(PG_SG_SCALAR, nullptr, ta, tb, m, n, k, a.data(), b.data(), c3.data());
    const bool same = !memcmp(c1.data(), c2.data(), 4 * c1.size()) && !memcmp(c1.data(), c3.data(), 4 * c1.size());
    double err = 0;
    for (size_t i = 0; i < c0.size(); ++i) err = std::max(err, double(std::abs(c0[i] - c1[i])));
    printf("%5dx%4dx%4d %10.1f %10.1f %7.2f %s (max |diff| vs openblas %.2g)\n", m, k, n, t_blas, t_pg, t_pg / t_blas,
           same ? "yes" : "NO", err);
  }
}
