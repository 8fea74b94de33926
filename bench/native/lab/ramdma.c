/* lab-ram-map, C reference: DMA setup of a guest's RAM. All of `total` bytes (the L2's RAM size,
 * 256 MiB) mapped for edu (behind the SMMUv3) at IOVA 256 MiB, in one mapping or in pieces of
 * `piece` bytes, through type1 (VFIO_IOMMU_MAP_DMA on the container) or iommufd (IOMMU_IOAS_MAP on
 * an IOAS the device's cdev is attached to); then unmapped again (not timed). ns to map all of it,
 * per round.
 * The memory: 'anonymous' is each process's own (MAP_PRIVATE | MAP_ANONYMOUS, as allocDma makes
 * it); 'memfd' and 'hugetlb' are one file both sides map MAP_SHARED (a tmpfs file: shmem, what a
 * memfd is; a hugetlbfs file: what an MFD_HUGETLB memfd is), created here or by the twin if absent,
 * so that both sides pin the very same physical pages (the kernel's work follows their layout:
 * docs/BENCH.md, "DMA, fourth round"). Touched first, so neither side pays the first faults; the
 * extra `runs` is the layout as pagemap shows it (common.h layout_runs).
 * argv: iommu (type1 | iommufd), backing (anonymous | memfd | hugetlb), total bytes, piece bytes,
 * rounds, [file for memfd / hugetlb]. Twin: bench/guest/ramdma.ts. */
#include "common.h"
#include <dirent.h>

#define IOVA_BASE 0x10000000ull /* 256 MiB: inside the lab SMMU's range, clear of its MSI window */

/* iommufd's uapi (linux/iommufd.h; the cross toolchain's headers predate it): ioctl numbers and
 * the structs of the calls used here. VFIO's cdev calls likewise (linux/vfio.h, Linux 6.6+). */
#define IOMMUFD_TYPE ';'
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
#define IOAS_MAP_FIXED_IOVA 1u
#define IOAS_MAP_WRITEABLE 2u
#define IOAS_MAP_READABLE 4u
#define DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#define DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
struct ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct ioas_map { uint32_t size, flags, ioas_id, reserved; uint64_t user_va, length, iova; };
struct ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
struct bind_iommufd { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };
struct attach_pt { uint32_t argsz, flags, pt_id; };

/** The iommufd path as openDevice({ iommu: 'iommufd' }) takes it: /dev/iommu, an IOAS, the
 *  device's cdev (sysfs vfio-dev/vfioN), bound and attached to the IOAS. */
struct ufd { int iommufd, dev; uint32_t ioas; };
static void ufd_open(struct ufd *u, const char *bdf) {
  char dir[128], cdev[300] = "";
  snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s/vfio-dev", bdf);
  DIR *d = opendir(dir);
  if (!d) { fprintf(stderr, "bench: no %s (no VFIO cdev)\n", dir); exit(1); }
  for (struct dirent *e; (e = readdir(d));) if (strncmp(e->d_name, "vfio", 4) == 0) snprintf(cdev, sizeof cdev, "/dev/vfio/devices/%s", e->d_name);
  closedir(d);
  u->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC); CHK(u->iommufd);
  struct ioas_alloc a = { .size = sizeof a };
  CHK(ioctl(u->iommufd, IOMMU_IOAS_ALLOC, &a));
  u->ioas = a.out_ioas_id;
  u->dev = open(cdev, O_RDWR | O_CLOEXEC); CHK(u->dev);
  struct bind_iommufd b = { .argsz = sizeof b, .iommufd = u->iommufd };
  CHK(ioctl(u->dev, DEVICE_BIND_IOMMUFD, &b));
  struct attach_pt at = { .argsz = sizeof at, .pt_id = u->ioas };
  CHK(ioctl(u->dev, DEVICE_ATTACH_IOMMUFD_PT, &at));
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: ramdma-c type1|iommufd anonymous|memfd|hugetlb total piece rounds [file]\n"); return 2; }
  const char *iommu = argv[1], *backing = argv[2];
  size_t total = arg(argc, argv, 3, 256 << 20), piece = arg(argc, argv, 4, 256 << 20);
  int rounds = arg(argc, argv, 5, 5);
  const char *file = argc > 6 ? argv[6] : NULL;
  int iommufd = strcmp(iommu, "iommufd") == 0, anon = strcmp(backing, "anonymous") == 0;
  if (!anon && !file) { fprintf(stderr, "bench: %s needs a file\n", backing); return 2; }
  size_t n = total / piece;
  struct vdev d = { -1, -1, -1 };
  struct ufd u = { -1, -1, 0 };
  if (iommufd) ufd_open(&u, EDU); else vdev_open(&d, "pci", EDU);
  int mfd = -1;
  if (!anon) {
    mfd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600); CHK(mfd);
    off_t have = lseek(mfd, 0, SEEK_END);
    if (have < (off_t)total) CHK(ftruncate(mfd, (off_t)total));
  }
  uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, anon ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED, mfd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  memset(mem, 0, total);
  long runs = layout_runs(mem, total, piece);
  double *rm = calloc(rounds, sizeof *rm);
  for (int j = 0; j < rounds; j++) {
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      int r;
      if (iommufd) {
        struct ioas_map m = { .size = sizeof m, .flags = IOAS_MAP_FIXED_IOVA | IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE, .ioas_id = u.ioas,
                              .user_va = (uintptr_t)(mem + i * piece), .length = piece, .iova = IOVA_BASE + i * piece };
        r = ioctl(u.iommufd, IOMMU_IOAS_MAP, &m);
      } else {
        struct vfio_iommu_type1_dma_map m = { .argsz = sizeof m, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                              .vaddr = (uintptr_t)(mem + i * piece), .iova = IOVA_BASE + i * piece, .size = piece };
        r = ioctl(d.cont, VFIO_IOMMU_MAP_DMA, &m);
      }
      if (r < 0) { fprintf(stderr, "bench: map %zu: %s\n", i, strerror(errno)); return 1; }
    }
    uint64_t t1 = now_ns();
    for (size_t i = 0; i < n; i++) {
      int r;
      if (iommufd) { struct ioas_unmap m = { .size = sizeof m, .ioas_id = u.ioas, .iova = IOVA_BASE + i * piece, .length = piece }; r = ioctl(u.iommufd, IOMMU_IOAS_UNMAP, &m); }
      else { struct vfio_iommu_type1_dma_unmap m = { .argsz = sizeof m, .iova = IOVA_BASE + i * piece, .size = piece }; r = ioctl(d.cont, VFIO_IOMMU_UNMAP_DMA, &m); }
      if (r < 0) { fprintf(stderr, "bench: unmap %zu: %s\n", i, strerror(errno)); return 1; }
    }
    rm[j] = (double)(t1 - t0);
  }
  char cas[64], extra[200];
  snprintf(extra, sizeof extra, ",\"total\":%zu,\"piece\":%zu,\"ops\":%zu,\"iommu\":\"%s\",\"memory\":\"%s\",\"runs\":%ld", total, piece, n, iommu, backing, runs);
  snprintf(cas, sizeof cas, "%s %s", iommu, backing);
  emit(n == 1 ? "lab-ram-map" : "lab-ram-map-pieces", cas, "ns", rm, rounds, -1, extra);
  munmap(mem, total);
  if (mfd >= 0) close(mfd);
  if (iommufd) { close(u.dev); close(u.iommufd); } else vdev_close(&d);
  return 0;
}
