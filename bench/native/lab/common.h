/* Shared by the C references of the lab benchmarks (bench/lab.mjs): ../timing.h (the clock, the statistics),
 * the console line the host collects, and the VFIO open sequence (container, group, device: docs/API.md).
 * Each reference does the same work as its bench/guest/<name>.ts twin, in the same boot.
 * Not responsible for: judging the figures (the host computes medians over every pass and the ratios). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>

/* The console marker: the host keeps the lines that start with it (bench/lab-parse.mjs). */
#define MARK "@@VFIOKIT-BENCH@@"
#define PL031 "9010000.pl031"
#define EDU "0000:00:02.0"

#include "../timing.h"

/** One measurement line: per-round values (ns per operation, or bytes), and p99 of single
 *  operations when >= 0. `extra` is more JSON members (with a leading comma) or "". */
static inline void emit(const char *bench, const char *cas, const char *unit, const double *rounds, int n, double p99, const char *extra) {
  printf("%s {\"bench\":\"%s\",\"case\":\"%s\",\"impl\":\"c\",\"unit\":\"%s\",\"rounds\":[", MARK, bench, cas, unit);
  for (int i = 0; i < n; i++) printf("%s%.1f", i ? "," : "", rounds[i]);
  printf("]");
  if (p99 >= 0) printf(",\"p99\":%.1f", p99);
  printf("%s}\n", extra);
  fflush(stdout);
}

/** The group node of a device as the kernel names it: /dev/vfio/noiommu-N for a no-IOMMU group
 *  (iommu_groups/N/name is "vfio-noiommu"), /dev/vfio/N otherwise. Read from sysfs every time, as
 *  openDevice does. Returns the VFIO IOMMU type to set. */
static inline int group_of(const char *bus, const char *dev, char *path, size_t len) {
  char link[256], target[256], name[64] = "";
  snprintf(link, sizeof link, "/sys/bus/%s/devices/%s/iommu_group", bus, dev);
  ssize_t n = readlink(link, target, sizeof target - 1); CHK(n);
  target[n] = 0;
  const char *g = basename(target);
  char namef[256]; snprintf(namef, sizeof namef, "/sys/kernel/iommu_groups/%s/name", g);
  int fd = open(namef, O_RDONLY);
  if (fd >= 0) { ssize_t r = read(fd, name, sizeof name - 1); if (r > 0) name[r] = 0; close(fd); }
  int noiommu = strncmp(name, "vfio-noiommu", 12) == 0;
  snprintf(path, len, noiommu ? "/dev/vfio/noiommu-%s" : "/dev/vfio/%s", g);
  return noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
}

struct vdev { int cont, group, fd; };

/** container, group (viable), container set, IOMMU set, device fd: the legacy VFIO sequence. */
static inline void vdev_open(struct vdev *d, const char *bus, const char *name) {
  char gpath[64];
  int type = group_of(bus, name, gpath, sizeof gpath);
  d->cont = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC); CHK(d->cont);
  if (ioctl(d->cont, VFIO_GET_API_VERSION) != VFIO_API_VERSION) { fprintf(stderr, "bench: VFIO API version\n"); exit(1); }
  if (ioctl(d->cont, VFIO_CHECK_EXTENSION, type) <= 0) { fprintf(stderr, "bench: no IOMMU type %d\n", type); exit(1); }
  d->group = open(gpath, O_RDWR | O_CLOEXEC); CHK(d->group);
  struct vfio_group_status gs = { .argsz = sizeof gs };
  CHK(ioctl(d->group, VFIO_GROUP_GET_STATUS, &gs));
  if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) { fprintf(stderr, "bench: group %s not viable\n", gpath); exit(1); }
  CHK(ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->cont));
  CHK(ioctl(d->cont, VFIO_SET_IOMMU, type));
  d->fd = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, name); CHK(d->fd);
}

/** The reverse order: device fd, group out of the container, group, container. */
static inline void vdev_close(struct vdev *d) {
  close(d->fd);
  ioctl(d->group, VFIO_GROUP_UNSET_CONTAINER);
  close(d->group);
  close(d->cont);
}

static inline void region_info(int fd, unsigned index, struct vfio_region_info *ri) {
  memset(ri, 0, sizeof *ri); ri->argsz = sizeof *ri; ri->index = index;
  CHK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ri));
}

/** The physical layout of `len` bytes at `mem` (touched, so present), from /proc/self/pagemap
 *  (root sees the PFNs): how many physically contiguous runs there are when the memory is cut
 *  into `piece`-byte pieces. type1 pins and iommu_map()s one run at a time, so this is the kernel's
 *  work per MAP_DMA beyond the pages themselves. -1 when pagemap cannot be read. */
static inline long layout_runs(const void *mem, size_t len, size_t piece) {
  size_t pages = len / 4096, per = piece / 4096;
  uint64_t *e = malloc(pages * sizeof *e);
  int fd = open("/proc/self/pagemap", O_RDONLY);
  long runs = -1;
  if (e && fd >= 0 && pread(fd, e, pages * 8, (off_t)((uintptr_t)mem / 4096 * 8)) == (ssize_t)(pages * 8)) {
    const uint64_t PFN = (1ull << 55) - 1;
    runs = 0;
    for (size_t i = 0; i < pages; i++) if (i % per == 0 || (e[i] & PFN) != (e[i - 1] & PFN) + 1) runs++;
  }
  if (fd >= 0) close(fd);
  free(e);
  return runs;
}

/** A positive integer from argv[i], or the default. */
static inline long arg(int argc, char **argv, int i, long def) { return argc > i ? strtol(argv[i], NULL, 0) : def; }
