/* lab-mmio, C reference: mapped register access to the pl031 (vfio-amba, no-IOMMU): the region is
 * mmap'd from the device fd and read or written with volatile 32-bit accesses in a loop. Under
 * TCG every access to a device page leaves the translated code for QEMU's pl031 model, which
 * dominates the time; the ratio still shows what the JS accessor adds.
 * argv: rounds, accesses per round. Twin: bench/guest/mmio.ts. */
#include "common.h"

#define DR 0x00
#define IMSC 0x10

int main(int argc, char **argv) {
  int rounds = arg(argc, argv, 1, 11), per = arg(argc, argv, 2, 100000);
  struct vdev d; vdev_open(&d, "amba", PL031);
  struct vfio_region_info ri; region_info(d.fd, 0, &ri);
  volatile uint32_t *regs = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, ri.offset);
  if (regs == MAP_FAILED) { perror("mmap"); return 1; }
  double *r = calloc(rounds, sizeof *r);
  uint32_t sink = 0;
  for (int k = 0; k < 2; k++) {
    const char *cas = k == 0 ? "read32 DR" : "write32 IMSC";
    for (int i = 0; i < per / 10; i++) { if (k == 0) sink += regs[DR / 4]; else regs[IMSC / 4] = 0; }
    for (int j = 0; j < rounds; j++) {
      uint64_t t0 = now_ns();
      if (k == 0) for (int i = 0; i < per; i++) sink += regs[DR / 4];
      else for (int i = 0; i < per; i++) regs[IMSC / 4] = 0;
      r[j] = (double)(now_ns() - t0) / per;
    }
    char extra[64]; snprintf(extra, sizeof extra, ",\"per\":%d,\"sink\":%u", per, sink);
    emit("lab-mmio", cas, "ns", r, rounds, -1, extra);
  }
  munmap((void *)regs, ri.size);
  vdev_close(&d);
  return 0;
}
