/* Host twin of bench/native/lab/trap.c for bench/trap.mjs: pread and pwrite of 4 bytes on a memfd
 * (no VFIO on the host), in the same loop form: rounds of `per` accesses, ns per access for each
 * round, then the p99 of singly timed accesses. read32 at 0x00 and write32 of 0 at 0x10, the
 * offsets of the lab's pl031 DR and IMSC. Each access is a syscall into shmem instead of vfio-amba.
 * argv: rounds, accesses per round, single-timed samples. Prints one JSON object on stdout. */
#include "memfd.h"

#define DR 0x00
#define IMSC 0x10

int main(int argc, char **argv) {
  int rounds = arg(argc, argv, 1, 21), per = arg(argc, argv, 2, 1000), samples = arg(argc, argv, 3, 5000);
  int fd = memfd_page("vfiokit-bench-trap");
  double *r = calloc(rounds, sizeof *r), *s = calloc(samples, sizeof *s);
  if (!r || !s) { fprintf(stderr, "bench: out of memory\n"); return 1; }
  uint32_t v = 0, zero = 0, sink = 0;
  printf("{");
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < per; i++) /* warm-up, not counted */
      CHK(k == 0 ? pread(fd, &v, 4, DR) : pwrite(fd, &zero, 4, IMSC));
    for (int j = 0; j < rounds; j++) {
      uint64_t t0 = now_ns();
      if (k == 0) for (int i = 0; i < per; i++) { if (pread(fd, &v, 4, DR) != 4) { perror("pread"); return 1; } sink += v; }
      else for (int i = 0; i < per; i++) { if (pwrite(fd, &zero, 4, IMSC) != 4) { perror("pwrite"); return 1; } }
      r[j] = (double)(now_ns() - t0) / per;
    }
    for (int i = 0; i < samples; i++) {
      uint64_t t0 = now_ns();
      if (k == 0) pread(fd, &v, 4, DR); else pwrite(fd, &zero, 4, IMSC);
      s[i] = (double)(now_ns() - t0);
    }
    if (k) printf(",");
    print_rounds(k == 0 ? "read32" : "write32", r, rounds);
    printf(",\"p99\":%.1f}", percentile(s, samples, 0.99));
  }
  printf(",\"per\":%d,\"sink\":%u}\n", per, sink);
  CHK(close(fd));
  free(r); free(s);
  return 0;
}
