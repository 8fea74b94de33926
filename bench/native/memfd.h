/* Shared by the host twins of the lab's trap and mmio benchmarks (bench/native/trap_memfd.c,
 * mmio_memfd.c): the clock, the percentile rule of bench/lib.mjs, a one-page memfd standing in for
 * the device fd, and the JSON the bench prints on stdout.
 * Not responsible for: medians or ratios (bench/trap.mjs and bench/mmio.mjs pool the passes). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* One page, as the JS side's region: the size of a platform device's register page. */
#define MEMFD_BYTES 4096

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

/** A memfd of MEMFD_BYTES, zero-filled, as the JS side makes it (sys.memfdCreate + ftruncate). */
static inline int memfd_page(const char *name) {
  int fd = memfd_create(name, MFD_CLOEXEC); CHK(fd);
  CHK(ftruncate(fd, MEMFD_BYTES));
  return fd;
}

static inline int arg(int argc, char **argv, int i, int def) { return argc > i ? atoi(argv[i]) : def; }

/** `"name":{"rounds":[...]` (the caller closes the object, after any more members). */
static inline void print_rounds(const char *name, const double *rounds, int n) {
  printf("\"%s\":{\"rounds\":[", name);
  for (int i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", rounds[i]);
  printf("]");
}
