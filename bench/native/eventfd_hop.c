/* Reference for IRQ wake-up latency: thread A writes an eventfd, thread B blocked in read()
 * wakes. One hop, the floor on this machine. Prints the median and p99 in ns as JSON. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int efd;
static volatile uint64_t t0;
static uint64_t now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec; }
static int cmp(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }

static void *writer(void *arg) {
  int n = *(int *)arg;
  for (int i = 0; i < n; i++) {
    usleep(1000);
    t0 = now();
    uint64_t one = 1; if (write(efd, &one, 8) != 8) abort();
  }
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  uint64_t *lat = calloc(n, sizeof *lat);
  efd = eventfd(0, 0);
  pthread_t th; pthread_create(&th, NULL, writer, &n);
  for (int i = 0; i < n; i++) { uint64_t v; if (read(efd, &v, 8) != 8) abort(); lat[i] = now() - t0; }
  pthread_join(th, NULL);
  qsort(lat, n, sizeof *lat, cmp);
  printf("{\"median_ns\":%llu,\"p99_ns\":%llu,\"samples\":%d}\n", (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100], n);
  return 0;
}
