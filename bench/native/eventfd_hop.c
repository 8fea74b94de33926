/* Reference for IRQ wake-up latency: the writer thread (eventfd_writer.c) writes an eventfd,
 * this thread blocked in read() wakes. One hop, the floor on this machine. Prints the median and
 * p99 in ns as JSON. argv: samples, gap between signals in us. */
#include <stdio.h>
#include <sys/eventfd.h>
#include "eventfd_writer.c"

static int cmp(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000, gap = argc > 2 ? atoi(argv[2]) : 1000;
  uint64_t *lat = calloc(n, sizeof *lat);
  int efd = eventfd(0, 0), got = 0, signalled = 0;
  if (!lat || efd < 0 || vk_writer_start(efd, n, gap) != 0) { perror("setup"); return 1; }
  while (signalled < n) {
    uint64_t v;
    if (read(efd, &v, 8) != 8) abort();
    uint64_t t1 = vk_now_ns();
    if (v <= t1) { lat[got++] = t1 - v; signalled++; } else signalled += (int)((v + t1 / 2) / t1);
  }
  vk_writer_join();
  qsort(lat, got, sizeof *lat, cmp);
  printf("{\"median_ns\":%llu,\"p99_ns\":%llu,\"samples\":%d,\"coalesced\":%d}\n", (unsigned long long)lat[got / 2], (unsigned long long)lat[got * 99 / 100], got, n - got);
  return 0;
}
