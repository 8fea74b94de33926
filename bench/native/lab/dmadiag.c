/* lab-dma diagnostics, C side (not a benchmark pair; docs/BENCH.md "DMA, fourth round"): the same
 * map/unmap loop as dma.c, with the physical layout of the memory measured and varied, and extra
 * threads, to find what the per-piece cost follows.
 *   layout: /proc/self/pagemap after the memory is touched (root sees the PFNs): per piece, the
 *     number of physically contiguous runs (type1 pins and iommu_map()s one run at a time), and
 *     how many pieces are one run starting on a 2 MiB physical boundary (an SMMU block entry);
 *   time per piece, grouped by the piece's run count (the last round);
 *   /proc/buddyinfo before the memory is touched (how fragmented the free memory was).
 * argv: total bytes, piece bytes, rounds, touch (fwd: memset, as dma.c; rev: one write per page,
 * last page first; pop: MAP_POPULATE, no memset; a path: a shared mapping of that file, memset, as
 * dma.c with a memory file), threads (extra threads alive during the loop),
 * spin (1: they spin; 0: they sleep).
 * Prints one line `@@VFIOKIT-DMADIAG@@ {json}`. Twin: bench/guest/dmadiag.ts. */
#include "common.h"
#include <pthread.h>

#define DIAG "@@VFIOKIT-DMADIAG@@"
#define IOVA_BASE 0x10000000ull
#define PAGE 4096ul

static volatile int stop;
static void *spinner(void *a) { (void)a; while (!stop) { } return NULL; }
static void *sleeper(void *a) { (void)a; while (!stop) usleep(100000); return NULL; }

/** /proc/buddyinfo's lines for zone Normal/DMA, joined with '|' (for the JSON: no quotes in it). */
static void buddyinfo(char *out, size_t len) {
  FILE *f = fopen("/proc/buddyinfo", "r"); out[0] = 0;
  if (!f) return;
  char line[512]; size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    for (char *s = line; *s; s++) if (*s == '"') *s = '\'';
    n += snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? "|" : "", line);
  }
  fclose(f);
}

int main(int argc, char **argv) {
  size_t total = arg(argc, argv, 1, 256 << 20), piece = arg(argc, argv, 2, 2 << 20);
  int rounds = arg(argc, argv, 3, 3);
  const char *touch = argc > 4 ? argv[4] : "fwd";
  int threads = arg(argc, argv, 5, 0), spin = arg(argc, argv, 6, 0);
  size_t n = total / piece, pages = total / PAGE, per = piece / PAGE;
  struct vdev d; vdev_open(&d, "pci", EDU);
  char buddy[2048]; buddyinfo(buddy, sizeof buddy);
  int pop = strcmp(touch, "pop") == 0, mfd = -1;
  if (touch[0] == '/') { mfd = open(touch, O_RDWR | O_CLOEXEC); CHK(mfd); }
  uint8_t *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, mfd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS | (pop ? MAP_POPULATE : 0), mfd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  if (strcmp(touch, "rev") == 0) for (size_t p = pages; p-- > 0;) mem[p * PAGE] = 0;
  else if (!pop) memset(mem, 0, total);

  /* The layout. */
  int pm = open("/proc/self/pagemap", O_RDONLY); CHK(pm);
  uint64_t *pfn = malloc(pages * sizeof *pfn);
  if (pread(pm, pfn, pages * 8, (off_t)((uintptr_t)mem / PAGE * 8)) != (ssize_t)(pages * 8)) { perror("pagemap"); return 1; }
  close(pm);
  long *runs = calloc(n, sizeof *runs); long runsAll = 0, blocks = 0, notPresent = 0, zeroPfn = 0;
  for (size_t i = 0; i < n; i++) {
    runs[i] = 1;
    for (size_t k = 0; k < per; k++) {
      uint64_t e = pfn[i * per + k];
      if (!(e >> 63)) notPresent++;
      if ((e & ((1ull << 55) - 1)) == 0) zeroPfn++;
      if (k && (e & ((1ull << 55) - 1)) != (pfn[i * per + k - 1] & ((1ull << 55) - 1)) + 1) runs[i]++;
    }
    runsAll += runs[i];
    if (runs[i] == 1 && (pfn[i * per] & ((1ull << 55) - 1)) % 512 == 0 && per >= 512) blocks++;
  }

  pthread_t *tid = calloc(threads ? threads : 1, sizeof *tid);
  for (int t = 0; t < threads; t++) pthread_create(&tid[t], NULL, spin ? spinner : sleeper, NULL);
  usleep(10000);

  double *rm = calloc(rounds, sizeof *rm), *ru = calloc(rounds, sizeof *ru);
  double *pm_ns = calloc(n, sizeof *pm_ns), *pu_ns = calloc(n, sizeof *pu_ns);
  for (int j = 0; j < rounds; j++) {
    struct vfio_iommu_type1_dma_map m = { .argsz = sizeof m, .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, .size = piece };
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
      uint64_t a = n <= 4096 ? now_ns() : 0;
      m.vaddr = (uintptr_t)(mem + i * piece); m.iova = IOVA_BASE + i * piece;
      if (ioctl(d.cont, VFIO_IOMMU_MAP_DMA, &m) < 0) { fprintf(stderr, "dmadiag: MAP_DMA %zu: %s\n", i, strerror(errno)); return 1; }
      if (n <= 4096) pm_ns[i] = (double)(now_ns() - a);
    }
    uint64_t t1 = now_ns();
    struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof u, .size = piece };
    for (size_t i = 0; i < n; i++) {
      uint64_t a = n <= 4096 ? now_ns() : 0;
      u.iova = IOVA_BASE + i * piece; u.size = piece;
      if (ioctl(d.cont, VFIO_IOMMU_UNMAP_DMA, &u) < 0) { fprintf(stderr, "dmadiag: UNMAP_DMA %zu: %s\n", i, strerror(errno)); return 1; }
      if (n <= 4096) pu_ns[i] = (double)(now_ns() - a);
    }
    uint64_t t2 = now_ns();
    rm[j] = (double)(t1 - t0) / n; ru[j] = (double)(t2 - t1) / n;
  }
  stop = 1;
  for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);

  /* Per-piece times of the last round, by the piece's run count. */
  static const long edge[] = { 1, 2, 9, 65, 1L << 30 };
  double sm[4] = { 0 }, su[4] = { 0 }; long cnt[4] = { 0 };
  for (size_t i = 0; i < n; i++) for (int b = 0; b < 4; b++) if (runs[i] >= edge[b] && runs[i] < edge[b + 1]) { sm[b] += pm_ns[i]; su[b] += pu_ns[i]; cnt[b]++; }
  printf("%s {\"impl\":\"c\",\"touch\":\"%s\",\"threads\":%d,\"spin\":%d,\"total\":%zu,\"piece\":%zu,\"map\":[", DIAG, touch, threads, spin, total, piece);
  for (int j = 0; j < rounds; j++) printf("%s%.0f", j ? "," : "", rm[j]);
  printf("],\"unmap\":[");
  for (int j = 0; j < rounds; j++) printf("%s%.0f", j ? "," : "", ru[j]);
  printf("],\"runs\":%ld,\"pieces\":%zu,\"blocks\":%ld,\"notPresent\":%ld,\"zeroPfn\":%ld,\"byRuns\":[", runsAll, n, blocks, notPresent, zeroPfn);
  static const char *name[] = { "1", "2-8", "9-64", "65+" };
  for (int b = 0; b < 4; b++) printf("%s{\"runs\":\"%s\",\"pieces\":%ld,\"map\":%.0f,\"unmap\":%.0f}", b ? "," : "", name[b], cnt[b], cnt[b] ? sm[b] / cnt[b] : 0, cnt[b] ? su[b] / cnt[b] : 0);
  printf("],\"buddy\":\"%s\"}\n", buddy);
  fflush(stdout);
  munmap(mem, total);
  if (mfd >= 0) close(mfd);
  vdev_close(&d);
  return 0;
}
