/* Shared by every C reference of the benchmarks, on the host (memfd.h) and in the lab
 * (lab/common.h): the error check, the clock, and the percentile rule of bench/lib.mjs.
 * Not responsible for: medians or ratios (the JS side pools the passes). */
#ifndef VFIOKIT_BENCH_TIMING_H
#define VFIOKIT_BENCH_TIMING_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHK(x) do { if ((x) < 0) { fprintf(stderr, "bench: %s failed: %s\n", #x, strerror(errno)); exit(1); } } while (0)

static inline uint64_t now_ns(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

/** The p-th percentile of n samples (sorts them), the same rule as bench/lib.mjs's percentile. */
static inline double percentile(double *xs, int n, double p) {
  qsort(xs, n, sizeof *xs, cmp_double);
  int i = (int)((n - 1) * p); if (i > n - 1) i = n - 1;
  return xs[i];
}
#endif
