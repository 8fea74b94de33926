/* Native reference for bench/core-irq.mjs: the same IRQ machine (the portable core, translated by
 * wasm2c and compiled with -O2) driven from C with the same fire + EOI loop, so the ratio shows
 * what the JS boundary and the TypeScript wrapper cost. Prints JSON: ns per fire+EOI pair. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core.h"

static Z_core_instance_t core;
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 21, per = argc > 2 ? atoi(argv[2]) : 20000;
  wasm_rt_init(); Z_core_init_module(); Z_core_instantiate(&core);
  u32 out = Z_coreZ_scratch_ptr(&core), cap = 256;
  int h = (int)Z_coreZ_irq_create(&core, 0);
  Z_coreZ_irq_declare_line(&core, (u32)h, 0, 7, 1); /* EVENTFD|MASKABLE|AUTOMASKED: level */
  Z_coreZ_irq_start(&core, (u32)h);
  double *ns = malloc(sizeof(double) * rounds);
  u64 t = 1;
  for (int r = 0; r < rounds; r++) {
    double t0 = now_ns();
    for (int i = 0; i < per; i++) {
      if ((int)Z_coreZ_irq_fire(&core, (u32)h, 0, t++, out, cap) < 0) { fprintf(stderr, "fire failed\n"); return 1; }
      if ((int)Z_coreZ_irq_trapped_access(&core, (u32)h, t++, out, cap) < 0) { fprintf(stderr, "eoi failed\n"); return 1; }
    }
    ns[r] = (now_ns() - t0) / per;
  }
  qsort(ns, rounds, sizeof(double), cmp);
  printf("{\"median_ns\": %.1f, \"rounds\": %d, \"per_round\": %d}\n", ns[rounds / 2], rounds, per);
  return 0;
}
