/* lab-memory, C reference: the resident set (VmRSS) of a process holding the pl031 open
 * (container, group, device fd) with its register page mapped and touched. Twin: bench/guest/memory.ts. */
#include "common.h"

static long vmrss_kib(void) {
  char buf[4096]; int fd = open("/proc/self/status", O_RDONLY); CHK(fd);
  ssize_t n = read(fd, buf, sizeof buf - 1); close(fd); if (n <= 0) return -1; buf[n] = 0;
  char *p = strstr(buf, "VmRSS:"); return p ? strtol(p + 6, NULL, 10) : -1;
}

int main(void) {
  long before = vmrss_kib();
  struct vdev d; vdev_open(&d, "amba", PL031);
  struct vfio_region_info ri; region_info(d.fd, 0, &ri);
  volatile uint32_t *regs = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, ri.offset);
  if (regs == MAP_FAILED) { perror("mmap"); return 1; }
  uint32_t id = regs[0xff0 / 4];
  double rss = (double)vmrss_kib() * 1024;
  char extra[96]; snprintf(extra, sizeof extra, ",\"before_bytes\":%ld,\"id0\":%u", before * 1024, id);
  emit("lab-memory", "pl031 open and mapped", "bytes", &rss, 1, -1, extra);
  munmap((void *)regs, ri.size);
  vdev_close(&d);
  return 0;
}
