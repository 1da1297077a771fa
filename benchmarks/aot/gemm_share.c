/* Where mlp_run's time goes: the three OpenBLAS sgemm calls of the 784-300-100-10 MLP alone (same shapes,
 * same library, same thread count), timed in the same loop as mlp_run.
 * usage: gemm_share BATCH REPS [THREADS]; prints "gemm_median_us run_median_us". */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mlp.h"

void scipy_cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda,
                       const float* b, int ldb, float beta, float* c, int ldc);
void scipy_openblas_set_num_threads(int n);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static float* filled(long n, int seed) {
  float* p = (float*)malloc(sizeof(float) * (size_t)n);
  for (long i = 0; p && i < n; ++i) p[i] = (float)(((i + seed) * 7919) % 1000) / 10000.0f - 0.05f;
  return p;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int batch = atoi(argv[1]), reps = atoi(argv[2]), threads = argc > 3 ? atoi(argv[3]) : 1;
  mlp_options options = {threads, NULL};
  mlp_model* m = mlp_create(&options);
  float *x = filled((long)batch * 784, 0), *w1 = filled(784 * 300, 1), *w2 = filled(300 * 100, 2);
  float *w3 = filled(100 * 10, 3), *h1 = filled((long)batch * 300, 4), *h2 = filled((long)batch * 100, 5);
  float* y = filled((long)batch * 10, 6);
  double* gemm = (double*)malloc(sizeof(double) * (size_t)reps);
  double* run = (double*)malloc(sizeof(double) * (size_t)reps);
  if (!m || !x || !w1 || !w2 || !w3 || !h1 || !h2 || !y || !gemm || !run) return 3;
  for (int r = -20; r < reps; ++r) {
    if (mlp_run(m, batch, x, y) != MLP_OK) return 4;  /* sets OpenBLAS's thread count as the artifact does */
    double t0 = now();
    scipy_cblas_sgemm(101, 111, 111, batch, 300, 784, 1.0f, x, 784, w1, 300, 0.0f, h1, 300);
    scipy_cblas_sgemm(101, 111, 111, batch, 100, 300, 1.0f, h1, 300, w2, 100, 0.0f, h2, 100);
    scipy_cblas_sgemm(101, 111, 111, batch, 10, 100, 1.0f, h2, 100, w3, 10, 0.0f, y, 10);
    double t1 = now();
    mlp_run(m, batch, x, y);
    double t2 = now();
    if (r >= 0) {
      gemm[r] = t1 - t0;
      run[r] = t2 - t1;
    }
  }
  qsort(gemm, (size_t)reps, sizeof(double), by_value);
  qsort(run, (size_t)reps, sizeof(double), by_value);
  printf("%.2f %.2f\n", gemm[reps / 2] * 1e6, run[reps / 2] * 1e6);
  mlp_destroy(m);
  return 0;
}
