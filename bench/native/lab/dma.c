/* lab-dma, C reference: VFIO_IOMMU_MAP_DMA of `total` bytes of memory in pieces of `piece` bytes
 * on the type1 container of edu's group (behind the SMMUv3), at consecutive IOVAs from 256 MiB,
 * then VFIO_IOMMU_UNMAP_DMA of each piece. ns per ioctl, per round.
 * The memory: with a file (run.sh passes one on the guest's tmpfs), a shared mapping of it, so that
 * both sides pin the very same physical pages (the kernel's work per MAP_DMA follows their
 * physical layout: docs/BENCH.md, "DMA, fourth round"); without one, anonymous memory of its own.
 * It is touched first so that neither side pays the first page faults. The extra `runs` is the
 * layout as pagemap shows it (common.h layout_runs).
 * argv: total bytes, piece bytes, rounds, [memory file]. Twin: bench/guest/dma.ts. */
#include "common.h"

#define IOVA_BASE 0x10000000ull /* 256 MiB: inside the lab SMMU's range 0x8100000-0xffffffffffff */

int main(int argc, char **argv) {
  size_t total = arg(argc, argv, 1, 64 << 20), piece = arg(argc, argv, 2, 4096);
  int rounds = arg(argc, argv, 3, 3);
  size_t n = total / piece;
  const char *file = argc > 4 ? argv[4] : NULL;
  struct vdev d; vdev_open(&d, "pci", EDU);
  int mfd = -1;
  if (file) { mfd = open(file, O_RDWR | O_CLOEXEC); CHK(mfd); }
  uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, file ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS, mfd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  memset(mem, 0, total);
  long runs = layout_runs(mem, total, piece);
  double *rm = calloc(rounds, sizeof *rm), *ru = calloc(rounds, sizeof *ru);
  for (int j = 0; j < rounds; j++) {
    struct vfio_iommu_type1_dma_map m = { .argsz = sizeof m, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, .size = piece };
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      m.vaddr = (uintptr_t)(mem + i * piece); m.iova = IOVA_BASE + i * piece;
      if (ioctl(d.cont, VFIO_IOMMU_MAP_DMA, &m) < 0) { fprintf(stderr, "bench: MAP_DMA %zu: %s\n", i, strerror(errno)); return 1; }
    }
    uint64_t t1 = now_ns();
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof u, .size = piece };
    for (size_t i = 0; i < n; i++) {
      u.iova = IOVA_BASE + i * piece; u.size = piece;
      if (ioctl(d.cont, VFIO_IOMMU_UNMAP_DMA, &u) < 0) { fprintf(stderr, "bench: UNMAP_DMA %zu: %s\n", i, strerror(errno)); return 1; }
    }
    uint64_t t2 = now_ns();
    rm[j] = (double)(t1 - t0) / n; ru[j] = (double)(t2 - t1) / n;
  }
  char cas[64], extra[160];
  snprintf(extra, sizeof extra, ",\"total\":%zu,\"piece\":%zu,\"ops\":%zu,\"memory\":\"%s\",\"runs\":%ld", total, piece, n, file ? "shared file" : "anonymous", runs);
  snprintf(cas, sizeof cas, "map %zu KiB pieces", piece >> 10); emit("lab-dma", cas, "ns", rm, rounds, -1, extra);
  snprintf(cas, sizeof cas, "unmap %zu KiB pieces", piece >> 10); emit("lab-dma", cas, "ns", ru, rounds, -1, extra);
  munmap(mem, total);
  if (mfd >= 0) close(mfd);
  vdev_close(&d);
  return 0;
}
