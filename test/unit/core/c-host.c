/* A non-JS host of the vfiokit core: the portable module (no imports) translated by wasm2c and
 * called from C exactly as docs/ABI.md says. c-host.test.ts builds it and compares each line with
 * what the JavaScript host gets from the same calls. Not a test on its own. */
#include <stdio.h>
#include <string.h>
#include "core.h"

static Z_core_instance_t core;

/* status_name(code) and status_kind(code) write their text at text_ptr(); its length is the return value. */
static void print_status(int code) {
  u32 n = Z_coreZ_status_name(&core, (u32)code);
  u32 p = Z_coreZ_text_ptr(&core);
  printf("status %d %.*s\n", code, (int)n, (const char *)Z_coreZ_memory(&core)->data + p);
  /* status_kind(code): the error kind written on the status's row, the same way. */
  n = Z_coreZ_status_kind(&core, (u32)code);
  printf("kind %d %.*s\n", code, (int)n, (const char *)Z_coreZ_memory(&core)->data + p);
}

/* Result slot i of the last call: u64 little-endian at result_ptr() + 8 i. */
static unsigned long long result(int i) {
  unsigned long long v;
  memcpy(&v, Z_coreZ_memory(&core)->data + Z_coreZ_result_ptr(&core) + 8u * (u32)i, 8);
  return v;
}

int main(void) {
  wasm_rt_init();
  Z_core_init_module();
  Z_core_instantiate(&core);
  printf("abi %u\n", Z_coreZ_abi_version(&core));
  printf("scratch %u\n", Z_coreZ_scratch_size(&core));
  print_status(-3);
  print_status(-400);
  /* A platform bus at 0xc000000 (32 MiB) with SPIs 112..127, 4 KiB pages, as QEMU virt has it. */
  int bus = (int)Z_coreZ_place_bus_create(&core, 0xc000000ull, 0x2000000ull, 112, 16, 4096);
  int dev = (int)Z_coreZ_place_device_create(&core, (u32)bus);
  int r1 = (int)Z_coreZ_place_region(&core, (u32)bus, (u32)dev, 0x1000, 0, 0, 0);
  printf("region %d 0x%llx 0x%llx\n", r1, result(0), result(1));
  int r2 = (int)Z_coreZ_place_region(&core, (u32)bus, (u32)dev, 0x3000, 0, 0, 0);
  printf("region %d 0x%llx 0x%llx\n", r2, result(0), result(1));
  int spi = (int)Z_coreZ_place_irq(&core, (u32)bus, (u32)dev, (u32)-1);
  printf("irq %d %llu\n", spi, result(0));
  int full = (int)Z_coreZ_place_region(&core, (u32)bus, (u32)dev, 0x4000000ull, 0, 0, 0);
  printf("full %d\n", full);
  Z_core_free(&core);
  wasm_rt_free();
  return 0;
}
