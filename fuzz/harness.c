/* libFuzzer harness over the wasm2c translation of build/vfiokit-fuzz.wasm. One binary per
 * target: TARGET names the export (e.g. Z_fuzzcoreZ_fuzz_irq). The input is copied into the
 * core's scratch area and handed to the target, which decodes it into operations (assembly/fuzz/)
 * and traps when an invariant breaks. A trap of any kind (unreachable, out-of-bounds access,
 * stack exhaustion) is a crash: the shipped core must never trap on input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzzcore.h"

/* Largest input handed to a target: the transient half of scratch (4 MiB), which any host may use. */
#define MAX_INPUT (4u << 20)

static Z_fuzzcore_instance_t core;
static int ready;

void fuzz_trap(wasm_rt_trap_t code) {
  fprintf(stderr, "vfiokit fuzz: the core trapped (wasm_rt_trap_t %d)\n", (int)code);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) {
    wasm_rt_init();
    Z_fuzzcore_init_module();
    Z_fuzzcore_instantiate(&core);
    ready = 1;
  }
  if (size > MAX_INPUT) return 0;
  u32 p = Z_fuzzcoreZ_scratch_ptr(&core);
  memcpy(Z_fuzzcoreZ_memory(&core)->data + p, data, size);
  TARGET(&core, p, (u32)size);
  return 0;
}
