/* The signalling side of the IRQ wake-up benchmark, shared by the C reference (eventfd_hop.c
 * includes it) and the JS ways (built as a shared library and started through koffi): a thread
 * that every gap_us writes CLOCK_MONOTONIC in ns (less a base) to an eventfd as the counter's increment. The
 * reader's latency is its own clock minus the value it read; a value above the reader's clock is
 * several stamps summed by the counter (coalesced), and counts round(value / clock) signals. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct vk_writer { int fd, n, gap_us; };
static pthread_t vk_thread;
/* Stamps are CLOCK_MONOTONIC minus this base (0 unless vk_writer_base set it): small stamps keep
 * an IrqReader's counter below its wake unit (2^40), as a device's counts are. */
static uint64_t vk_base;
void vk_writer_base(uint64_t base_ns) { vk_base = base_ns; }

uint64_t vk_now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }

static void *vk_writer_main(void *arg) {
  struct vk_writer w = *(struct vk_writer *)arg;
  free(arg);
  for (int i = 0; i < w.n; i++) {
    usleep(w.gap_us);
    uint64_t t = vk_now_ns() - vk_base;
    if (write(w.fd, &t, 8) != 8) abort();
  }
  return NULL;
}

/* Starts the writer thread: n stamps to fd, gap_us apart. 0, or -1 when the thread did not start. */
int vk_writer_start(int fd, int n, int gap_us) {
  struct vk_writer *w = malloc(sizeof *w);
  if (!w) return -1;
  w->fd = fd; w->n = n; w->gap_us = gap_us;
  if (pthread_create(&vk_thread, NULL, vk_writer_main, w) != 0) { free(w); return -1; }
  return 0;
}

/* Waits for the writer thread to finish its n stamps. */
int vk_writer_join(void) { return pthread_join(vk_thread, NULL) == 0 ? 0 : -1; }
