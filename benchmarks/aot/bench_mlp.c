/* Times mlp_run (the 784-300-100-10 MLP compiled by pygraph-compile) from C.
 * usage: bench_mlp BATCH REPS [THREADS]; prints "median_us min_us". */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mlp.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const long batch = atol(argv[1]);
  const int reps = atoi(argv[2]);
  mlp_options options = {argc > 3 ? atoi(argv[3]) : 0, NULL};
  mlp_model* m = mlp_create(&options);
  float* x = (float*)malloc(sizeof(float) * (size_t)batch * 784);
  float* y = (float*)malloc(sizeof(float) * (size_t)batch * 10);
  double* times = (double*)malloc(sizeof(double) * (size_t)reps);
  if (!m || !x || !y || !times || mlp_error(m)[0]) return 3;
  for (long i = 0; i < batch * 784; ++i) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (int i = 0; i < 20; ++i)
    if (mlp_run(m, batch, x, y) != MLP_OK) return 4;
  for (int i = 0; i < reps; ++i) {
    double t0 = now();
    mlp_run(m, batch, x, y);
    times[i] = now() - t0;
  }
  qsort(times, (size_t)reps, sizeof(double), by_value);
  printf("%.2f %.2f\n", times[reps / 2] * 1e6, times[0] * 1e6);
  mlp_destroy(m);
  free(x);
  free(y);
  free(times);
  return 0;
}
