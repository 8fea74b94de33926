/* lab-trap, C reference: trapped register access to the pl031 (vfio-amba, no-IOMMU): pread and
 * pwrite of 4 bytes at the region's offset in the device fd, as DeviceRegion.read32/write32 do.
 * Each access is a syscall into vfio-amba and an MMIO access of the device by the kernel.
 * argv: rounds, accesses per round, single-timed samples. Twin: bench/guest/trap.ts. */
#include "common.h"

#define DR 0x00   /* PL031 data register (the current time) */
#define IMSC 0x10 /* PL031 interrupt mask set/clear: 0 keeps the alarm interrupt off */

int main(int argc, char **argv) {
  int rounds = arg(argc, argv, 1, 21), per = arg(argc, argv, 2, 1000), samples = arg(argc, argv, 3, 5000);
  struct vdev d; vdev_open(&d, "amba", PL031);
  struct vfio_region_info ri; region_info(d.fd, 0, &ri);
  double *r = calloc(rounds, sizeof *r), *s = calloc(samples, sizeof *s);
  uint32_t v = 0, zero = 0;
  for (int k = 0; k < 2; k++) {
    const char *cas = k == 0 ? "read32 DR" : "write32 IMSC";
    for (int i = 0; i < per; i++) /* warm-up, not counted */
      CHK(k == 0 ? pread(d.fd, &v, 4, ri.offset + DR) : pwrite(d.fd, &zero, 4, ri.offset + IMSC));
    for (int j = 0; j < rounds; j++) {
      uint64_t t0 = now_ns();
      if (k == 0) for (int i = 0; i < per; i++) { if (pread(d.fd, &v, 4, ri.offset + DR) != 4) { perror("pread"); return 1; } }
      else for (int i = 0; i < per; i++) { if (pwrite(d.fd, &zero, 4, ri.offset + IMSC) != 4) { perror("pwrite"); return 1; } }
      r[j] = (double)(now_ns() - t0) / per;
    }
    for (int i = 0; i < samples; i++) {
      uint64_t t0 = now_ns();
      if (k == 0) pread(d.fd, &v, 4, ri.offset + DR); else pwrite(d.fd, &zero, 4, ri.offset + IMSC);
      s[i] = (double)(now_ns() - t0);
    }
    char extra[64]; snprintf(extra, sizeof extra, ",\"per\":%d", per);
    emit("lab-trap", cas, "ns", r, rounds, percentile(s, samples, 0.99), extra);
  }
  vdev_close(&d);
  return 0;
}
