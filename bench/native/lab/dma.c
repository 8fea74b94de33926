/* lab-dma, C reference: VFIO_IOMMU_MAP_DMA of `total` bytes of anonymous memory in pieces of
 * `piece` bytes on the type1 container of edu's group (behind the SMMUv3), at consecutive IOVAs
 * from 256 MiB, then VFIO_IOMMU_UNMAP_DMA of each piece. The memory is touched first so that
 * neither side pays the first page faults. ns per ioctl, per round.
 * argv: total bytes, piece bytes, rounds. Twin: bench/guest/dma.ts. */
#include "common.h"

#define IOVA_BASE 0x10000000ull /* 256 MiB: inside the lab SMMU's range 0x8100000-0xffffffffffff */

int main(int argc, char **argv) {
  size_t total = arg(argc, argv, 1, 64 << 20), piece = arg(argc, argv, 2, 4096);
  int rounds = arg(argc, argv, 3, 3);
  size_t n = total / piece;
  struct vdev d; vdev_open(&d, "pci", EDU);
  uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  memset(mem, 0, total);
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
  char cas[64], extra[96];
  snprintf(extra, sizeof extra, ",\"total\":%zu,\"piece\":%zu,\"ops\":%zu", total, piece, n);
  snprintf(cas, sizeof cas, "map %zu KiB pieces", piece >> 10); emit("lab-dma", cas, "ns", rm, rounds, -1, extra);
  snprintf(cas, sizeof cas, "unmap %zu KiB pieces", piece >> 10); emit("lab-dma", cas, "ns", ru, rounds, -1, extra);
  munmap(mem, total);
  vdev_close(&d);
  return 0;
}
