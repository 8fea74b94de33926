// libfdt doing the work of bench/fdt.mjs: build a platform-bus tree of NDEV device nodes (each with
// compatible, reg and interrupts) with the sequential-write API, then parse it back: validate the
// whole blob (fdt_check_full, as vfiokit's reader does before use) and walk every node reading reg
// with its parent's #address-cells/#size-cells. Prints medians in ns as JSON.
// Build: cc -O2 -o fdt_bench fdt_bench.c -lfdt
#include <libfdt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BUF (1 << 20)
#define MAX_DEPTH 64

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}
#define CHECK(e) do { int _r = (e); if (_r < 0) { fprintf(stderr, "%s: %s\n", #e, fdt_strerror(_r)); exit(1); } } while (0)

static int build(void *buf, int ndev) {
  char name[32];
  CHECK(fdt_create(buf, BUF));
  CHECK(fdt_finish_reservemap(buf));
  CHECK(fdt_begin_node(buf, ""));
  CHECK(fdt_property_u32(buf, "#address-cells", 2));
  CHECK(fdt_property_u32(buf, "#size-cells", 2));
  CHECK(fdt_property_string(buf, "compatible", "linux,dummy-virt"));
  CHECK(fdt_begin_node(buf, "platform-bus@c000000"));
  CHECK(fdt_property(buf, "compatible", "qemu,platform\0simple-bus", 25));
  CHECK(fdt_property_u32(buf, "#address-cells", 2));
  CHECK(fdt_property_u32(buf, "#size-cells", 2));
  CHECK(fdt_property(buf, "ranges", NULL, 0));
  for (int i = 0; i < ndev; i++) {
    uint64_t addr = 0x0c000000ull + (uint64_t)i * 0x1000;
    snprintf(name, sizeof name, "dev@%llx", (unsigned long long)addr);
    CHECK(fdt_begin_node(buf, name));
    CHECK(fdt_property_string(buf, "compatible", "vfiokit,bench-dev"));
    fdt64_t reg[2] = { cpu_to_fdt64(addr), cpu_to_fdt64(0x1000) };
    CHECK(fdt_property(buf, "reg", reg, sizeof reg));
    fdt32_t irq[3] = { cpu_to_fdt32(0), cpu_to_fdt32(112 + (i % 64)), cpu_to_fdt32(4) };
    CHECK(fdt_property(buf, "interrupts", irq, sizeof irq));
    CHECK(fdt_end_node(buf));
  }
  CHECK(fdt_end_node(buf));
  CHECK(fdt_end_node(buf));
  CHECK(fdt_finish(buf));
  return fdt_totalsize(buf);
}

static int cells(const void *fdt, int node, const char *name, int dflt) {
  int len;
  const fdt32_t *p = fdt_getprop(fdt, node, name, &len);
  return p && len == 4 ? (int)fdt32_to_cpu(*p) : dflt;
}

/* Validates, then walks every node; returns the number of reg entries and sums their addresses. */
static int parse(const void *fdt, size_t size, uint64_t *sum) {
  CHECK(fdt_check_full(fdt, size));
  int ac[MAX_DEPTH + 1], sc[MAX_DEPTH + 1], depth = 0, regs = 0;
  ac[0] = 2; sc[0] = 1;   /* the root's reg uses the defaults */
  for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
    if (depth < 0 || depth >= MAX_DEPTH) break;
    ac[depth + 1] = cells(fdt, node, "#address-cells", 2);
    sc[depth + 1] = cells(fdt, node, "#size-cells", 1);
    int len;
    const fdt32_t *r = fdt_getprop(fdt, node, "reg", &len);
    if (!r) continue;
    int a = ac[depth], s = sc[depth], entry = (a + s) * 4;
    if (entry == 0 || len % entry) continue;
    for (int e = 0; e < len / entry; e++) {
      uint64_t addr = 0, sz = 0;
      for (int k = 0; k < a; k++) addr = (addr << 32) | fdt32_to_cpu(r[e * (a + s) + k]);
      for (int k = 0; k < s; k++) sz = (sz << 32) | fdt32_to_cpu(r[e * (a + s) + a + k]);
      *sum += addr + sz;
      regs++;
    }
  }
  return regs;
}

int main(int argc, char **argv) {
  int ndev = argc > 1 ? atoi(argv[1]) : 1000;
  int n = argc > 2 ? atoi(argv[2]) : 200;
  void *buf = malloc(BUF);
  uint64_t *tb = calloc(n, 8), *tp = calloc(n, 8), sum = 0;
  int size = 0, regs = 0;
  for (int i = 0; i < n + 20; i++) {   /* 20 warm-up rounds */
    uint64_t t0 = now_ns();
    size = build(buf, ndev);
    uint64_t t1 = now_ns();
    regs = parse(buf, size, &sum);
    uint64_t t2 = now_ns();
    if (i >= 20) { tb[i - 20] = t1 - t0; tp[i - 20] = t2 - t1; }
  }
  qsort(tb, n, 8, cmp);
  qsort(tp, n, 8, cmp);
  printf("{\"devices\":%d,\"samples\":%d,\"blob_bytes\":%d,\"regs\":%d,\"build_median_ns\":%llu,\"parse_median_ns\":%llu,\"checksum\":\"%llu\"}\n",
         ndev, n, size, regs, (unsigned long long)tb[n / 2], (unsigned long long)tp[n / 2], (unsigned long long)(sum / (n + 20)));
  return 0;
}
