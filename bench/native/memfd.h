/* Shared by the host twins of the lab's trap and mmio benchmarks (bench/native/trap_memfd.c,
 * mmio_memfd.c): timing.h (the clock, the percentile rule), a one-page memfd standing in for
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

#include "timing.h"

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
