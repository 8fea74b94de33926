/* lab-open, C reference: a device from nothing to ready and back, the work openDevice + map +
 * close does: the group found in sysfs, container, API version and extension, group status,
 * container and IOMMU set, device fd, device info, every region's and every IRQ's info (queried
 * again with a bigger buffer when the kernel asks for it: capability chains), every mmappable
 * region mapped; then unmapped, device fd closed, group unset and closed, container closed.
 * argv: bus, device, rounds. Twin: bench/guest/open.ts. */
#include "common.h"

#define MAX_REGIONS 16

/** VFIO's argsz protocol: query, and query again with the size the kernel asked for. */
static int query(int fd, unsigned long req, void **buf, size_t *cap, size_t base, unsigned index) {
  for (int tries = 0; tries < 3; tries++) {
    memset(*buf, 0, *cap);
    uint32_t *w = *buf; w[0] = (uint32_t)(tries ? *cap : base); w[2] = index; /* argsz, flags, index */
    if (ioctl(fd, req, *buf) < 0) return -1;
    if (w[0] <= (tries ? *cap : base)) return 0;
    if (w[0] > *cap) { *cap = w[0]; *buf = realloc(*buf, *cap); }
  }
  return -1;
}

static void open_ready_close(const char *bus, const char *name, size_t page) {
  static void *buf; static size_t cap;
  if (!buf) { cap = 4096; buf = malloc(cap); }
  struct vdev d; vdev_open(&d, bus, name);
  struct vfio_device_info di = { .argsz = sizeof di };
  CHK(ioctl(d.fd, VFIO_DEVICE_GET_INFO, &di));
  void *maps[MAX_REGIONS]; size_t lens[MAX_REGIONS]; int nmaps = 0;
  for (unsigned i = 0; i < di.num_regions; i++) {
    if (query(d.fd, VFIO_DEVICE_GET_REGION_INFO, &buf, &cap, sizeof(struct vfio_region_info), i) < 0) continue; /* vfio-pci: VGA is EINVAL */
    struct vfio_region_info *ri = buf;
    if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP) || ri->size < page || nmaps == MAX_REGIONS) continue;
    size_t len = ri->size & ~(page - 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d.fd, ri->offset);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    maps[nmaps] = p; lens[nmaps++] = len;
  }
  for (unsigned i = 0; i < di.num_irqs; i++) {
    struct vfio_irq_info ii = { .argsz = sizeof ii, .index = i };
    ioctl(d.fd, VFIO_DEVICE_GET_IRQ_INFO, &ii); /* vfio-pci: ERR is EINVAL on a conventional function */
  }
  for (int i = 0; i < nmaps; i++) munmap(maps[i], lens[i]);
  vdev_close(&d);
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: open-c BUS DEVICE [ROUNDS]\n"); return 2; }
  const char *bus = argv[1], *name = argv[2];
  int rounds = arg(argc, argv, 3, 200);
  size_t page = sysconf(_SC_PAGESIZE);
  double *r = calloc(rounds, sizeof *r), *s = calloc(rounds, sizeof *s);
  for (int i = 0; i < 5; i++) open_ready_close(bus, name, page); /* warm-up */
  for (int j = 0; j < rounds; j++) {
    uint64_t t0 = now_ns();
    open_ready_close(bus, name, page);
    r[j] = s[j] = (double)(now_ns() - t0);
  }
  emit("lab-open", strcmp(bus, "pci") ? "pl031 (vfio-amba, noiommu)" : "edu (vfio-pci, type1)", "ns", r, rounds, percentile(s, rounds, 0.99), "");
  return 0;
}
