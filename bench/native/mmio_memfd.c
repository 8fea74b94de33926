/* Host twin of bench/native/lab/mmio.c for bench/mmio.mjs: a memfd page mmap'd MAP_SHARED (no
 * VFIO on the host) and read or written with volatile 32-bit accesses in a loop: read32 at 0x00,
 * write32 of 0 at 0x10, the offsets of the lab's pl031 DR and IMSC. The page is RAM, so this
 * measures the accessor itself; the lab (TCG, a device page) measures QEMU's device model too.
 * Also, as a diagnostic: the same loops with sequentially consistent __atomic loads and stores,
 * what JS's Atomics.load/store are (on x86-64 a store is an xchg, a plain volatile store a mov).
 * argv: rounds, accesses per round. Prints one JSON object on stdout. */
#include "memfd.h"

#define DR 0x00
#define IMSC 0x10

int main(int argc, char **argv) {
  int rounds = arg(argc, argv, 1, 21), per = arg(argc, argv, 2, 1000000);
  int fd = memfd_page("vfiokit-bench-mmio");
  void *p = mmap(NULL, MEMFD_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) { perror("mmap"); return 1; }
  volatile uint32_t *regs = p;
  uint32_t *plain = p;
  double *r = calloc(rounds, sizeof *r);
  if (!r) { fprintf(stderr, "bench: out of memory\n"); return 1; }
  uint32_t sink = 0;
  static const char *const names[] = { "read32", "write32", "read32_seqcst", "write32_seqcst" };
  printf("{");
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < per / 10; i++) { /* warm-up, not counted */
      switch (k) {
        case 0: sink += regs[DR / 4]; break;
        case 1: regs[IMSC / 4] = 0; break;
        case 2: sink += __atomic_load_n(&plain[DR / 4], __ATOMIC_SEQ_CST); break;
        default: __atomic_store_n(&plain[IMSC / 4], 0, __ATOMIC_SEQ_CST);
      }
    }
    for (int j = 0; j < rounds; j++) {
      uint64_t t0 = now_ns();
      switch (k) {
        case 0: for (int i = 0; i < per; i++) sink += regs[DR / 4]; break;
        case 1: for (int i = 0; i < per; i++) regs[IMSC / 4] = 0; break;
        case 2: for (int i = 0; i < per; i++) sink += __atomic_load_n(&plain[DR / 4], __ATOMIC_SEQ_CST); break;
        default: for (int i = 0; i < per; i++) __atomic_store_n(&plain[IMSC / 4], 0, __ATOMIC_SEQ_CST);
      }
      r[j] = (double)(now_ns() - t0) / per;
    }
    if (k) printf(",");
    print_rounds(names[k], r, rounds);
    printf("}");
  }
  printf(",\"per\":%d,\"sink\":%u}\n", per, sink);
  CHK(munmap(p, MEMFD_BYTES));
  CHK(close(fd));
  free(r);
  return 0;
}
