// The L2 /init's NVMe part: the guest's view of a PCI NVMe function (config space and resources
// from sysfs), then its own nvme driver's disk read and written with O_DIRECT and hashed, and the
// interrupts and figures of that I/O. The line formats are the contract with the host-side checks
// (test/support/l2-lines.ts parses them; docs/mini-vmm.md lists them).
// Not responsible for: binding drivers (the kernel's nvme driver probes by itself), retrying.
#define _GNU_SOURCE
#include "l2.h"
#include "sha256.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004   /* Linux 5.6: never blocks for the CRNG to be seeded */
#endif

/** PCI class code of an NVM Express controller (mass storage, NVM, NVMe interface). */
#define NVME_CLASS 0x010802
/** PCI base class of bridges (host, PCI-to-PCI, ...): the VMM's own functions, never passed through. */
#define PCI_BASE_CLASS_BRIDGE 0x06
/** How long the nvme driver may take to show the namespace (probe, reset, identify, scan) in a
 *  nested guest under TCG; after this the disk counts as never there. */
#define NVME_WAIT_S 60
#define POLL_MS 10
/** What the host made (lab/disk.mjs): the first 16 MiB are its pattern. */
#define PATTERN_BYTES (16u << 20)
/** The write test: 16 MiB of fresh random data at 32 MiB, clear of the pattern. */
#define WRITE_OFFSET (32ull << 20)
#define WRITE_BYTES (16u << 20)
/** One O_DIRECT transfer; the buffer is page-aligned, as O_DIRECT wants. */
#define CHUNK (1u << 20)
#define PAGE 4096
/** The random-read workload: this many reads of RANDREAD_BLOCK bytes, one at a time (queue depth
 *  1), O_DIRECT, at block-aligned offsets over the whole disk drawn from a fixed xorshift sequence,
 *  so that every run and both VMMs read the same blocks in the same order. */
#define RANDREAD_COUNT 2000
#define RANDREAD_BLOCK 4096u
#define RANDREAD_SEED 0x9e3779b97f4a7c15ull
/** Quiet time around the random reads, after each marker line: the VMM's parent reads the VMM's
 *  counters when a marker reaches it, while the guest is idle (docs/BENCH.md, wake-ups per I/O). */
#define RANDREAD_SETTLE_MS 300
/** Config space: 256 bytes, 4096 with PCIe's extended space. */
#define CFG_MAX 4096
/** Capability walks are bounded, so a looping chain ends: (256 - 0x40) / 4 standard capabilities
 *  fit below 256, (4096 - 256) / 4 extended ones in the rest. */
#define STD_CAPS_MAX 48
#define EXT_CAPS_MAX 960
/** PCI functions listed (a guest has a handful; L1 has five). */
#define PCI_FUNCS_MAX 256

/* Config space registers and bits (include/uapi/linux/pci_regs.h names). */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CLASS_REVISION 0x08
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_MSIX 0x11
#define PCI_MSI_FLAGS 2
#define PCI_MSIX_FLAGS 2
#define PCI_MSIX_TABLE 4
#define PCI_MSIX_PBA 8
#define PCI_CFG_SPACE_SIZE 256

const char *sysfs_root = "";

/** A string into a buffer of `size`, cut short if it must be (names here are short). */
static void copy(char *out, size_t size, const char *src) {
  size_t n = strlen(src) < size - 1 ? strlen(src) : size - 1;
  memcpy(out, src, n);
  out[n] = 0;
}

void pci_path(char *out, size_t size, const char *bdf, const char *file) {
  snprintf(out, size, "%s/sys/bus/pci/devices/%s%s%s", sysfs_root, bdf, *file ? "/" : "", file);
}

long pci_attr(const char *bdf, const char *file) {
  char p[512], s[64];
  pci_path(p, sizeof p, bdf, file);
  if (slurp(p, s, sizeof s) < 0) return -1;
  return strtol(s, NULL, 0);
}

int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
int no_dots(const struct dirent *d) { return d->d_name[0] != '.'; }

int pci_enumerate(const char *want, char *bdf, size_t size) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sys/bus/pci/devices", sysfs_root);
  struct dirent **names;
  int n = scandir(dir, &names, no_dots, by_name);
  if (n < 0) { say("pci-none no %s (errno %d)\n", dir, errno); return -1; }
  int found = -1;
  for (int i = 0; i < n && i < PCI_FUNCS_MAX; i++) {
    const char *name = names[i]->d_name;
    long vendor = pci_attr(name, "vendor"), device = pci_attr(name, "device"), class = pci_attr(name, "class");
    say("pci %s %04lx:%04lx\n", name, vendor & 0xffff, device & 0xffff);
    if (found < 0 && class == NVME_CLASS && (!want || strcmp(want, name) == 0)) { copy(bdf, size, name); found = 0; }
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return found;
}

void pci_view_others(const char *nvme) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sys/bus/pci/devices", sysfs_root);
  struct dirent **names;
  int n = scandir(dir, &names, no_dots, by_name);
  if (n < 0) return;   // pci_enumerate has said so
  for (int i = 0; i < n && i < PCI_FUNCS_MAX; i++) {
    const char *name = names[i]->d_name;
    if ((pci_attr(name, "class") >> 16) != PCI_BASE_CLASS_BRIDGE && strcmp(name, nvme) != 0) pci_view(name);
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* Little-endian reads of config space, all-ones past what sysfs gave (as a bus reads nothing). */
static uint8_t cfg[CFG_MAX];
static size_t cfg_len;
static uint32_t rd(size_t off, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint32_t)(off + i < cfg_len ? cfg[off + i] : 0xff) << (8 * i);
  return v;
}

/** The name of the driver bound to a function, or "none". */
static const char *driver_of(const char *bdf, char *out, size_t size) {
  char link[512], target[512];
  pci_path(link, sizeof link, bdf, "driver");
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return "none";
  target[n] = 0;
  const char *base = strrchr(target, '/');
  copy(out, size, base ? base + 1 : target);
  return out;
}

/** One BAR, the ROM or a bridge window: a line of sysfs `resource` ("start end flags", hex). */
struct resource { unsigned long long start, end, flags; };

const char *pci_view(const char *bdf) {
  char p[512];
  pci_path(p, sizeof p, bdf, "config");
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { say("pci-view %s config unreadable (errno %d)\n", bdf, errno); return ""; }
  ssize_t got = pread(fd, cfg, sizeof cfg, 0);
  close(fd);
  cfg_len = got > 0 ? (size_t)got : 0;
  if (cfg_len < 64) { say("pci-view %s config short (%zu bytes: not root?)\n", bdf, cfg_len); return ""; }
  say("pci-view %s id %04x:%04x class 0x%06x rev 0x%02x\n", bdf, rd(0, 2), rd(2, 2), rd(PCI_CLASS_REVISION, 4) >> 8, rd(PCI_CLASS_REVISION, 1));

  unsigned msix = 0, msi = 0;
  if (rd(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) {
    unsigned off = rd(PCI_CAPABILITY_LIST, 1) & 0xfc;
    for (int i = 0; i < STD_CAPS_MAX && off >= 0x40 && off < PCI_CFG_SPACE_SIZE; i++) {
      unsigned id = rd(off, 1);
      say("pci-view %s cap 0x%02x id 0x%02x\n", bdf, off, id);
      if (id == PCI_CAP_ID_MSIX && !msix) msix = off;
      if (id == PCI_CAP_ID_MSI && !msi) msi = off;
      off = rd(off + 1, 1) & 0xfc;
    }
  }
  if (cfg_len > PCI_CFG_SPACE_SIZE) {
    unsigned off = PCI_CFG_SPACE_SIZE;
    for (int i = 0; i < EXT_CAPS_MAX && off >= PCI_CFG_SPACE_SIZE && off + 4 <= cfg_len; i++) {
      uint32_t h = rd(off, 4);
      if (h == 0 || h == 0xffffffff) break;   // no extended capabilities (or none readable)
      say("pci-view %s ecap 0x%03x id 0x%04x ver %u\n", bdf, off, h & 0xffff, (h >> 16) & 0xf);
      off = (h >> 20) & 0xffc;
    }
  }

  pci_path(p, sizeof p, bdf, "resource");
  FILE *f = fopen(p, "re");
  if (f) {
    struct resource r;
    for (int i = 0; i <= 6 && fscanf(f, "%llx %llx %llx", &r.start, &r.end, &r.flags) == 3; i++) {
      if (r.start == 0 && r.end == 0) continue;   // an unimplemented BAR (or the upper half of a 64-bit one)
      unsigned long long size = r.end >= r.start ? r.end - r.start + 1 : 0;
      if (i < 6) say("pci-view %s bar %d addr 0x%llx size 0x%llx flags 0x%llx\n", bdf, i, r.start, size, r.flags);
      else say("pci-view %s rom addr 0x%llx size 0x%llx flags 0x%llx\n", bdf, r.start, size, r.flags);
    }
    fclose(f);
  } else say("pci-view %s resource unreadable (errno %d)\n", bdf, errno);
  for (int i = 0; i < 6; i++) say("pci-view %s bar-reg %d 0x%08x\n", bdf, i, rd(PCI_BASE_ADDRESS_0 + 4 * i, 4));

  const char *mode = "intx";
  if (msix) {
    unsigned ctl = rd(msix + PCI_MSIX_FLAGS, 2), table = rd(msix + PCI_MSIX_TABLE, 4), pba = rd(msix + PCI_MSIX_PBA, 4);
    say("pci-view %s msix cap 0x%02x table-size %u table-bar %u table-offset 0x%x pba-bar %u pba-offset 0x%x enabled %u function-mask %u\n",
        bdf, msix, (ctl & 0x7ff) + 1, table & 7, table & ~7u, pba & 7, pba & ~7u, ctl >> 15 & 1, ctl >> 14 & 1);
    if (ctl & 0x8000) mode = "msix";
  }
  if (msi) {
    unsigned ctl = rd(msi + PCI_MSI_FLAGS, 2);
    say("pci-view %s msi cap 0x%02x enabled %u multiple-enable %u addr64 %u maskable %u\n", bdf, msi, ctl & 1, ctl >> 4 & 7, ctl >> 7 & 1, ctl >> 8 & 1);
    if ((ctl & 1) && strcmp(mode, "intx") == 0) mode = "msi";
  }
  unsigned cmd = rd(PCI_COMMAND, 2);
  say("pci-view %s command 0x%04x memory %u bus-master %u intx-disable %u\n", bdf, cmd,
      !!(cmd & PCI_COMMAND_MEMORY), !!(cmd & PCI_COMMAND_MASTER), !!(cmd & PCI_COMMAND_INTX_DISABLE));
  say("pci-view %s status 0x%04x\n", bdf, rd(PCI_STATUS, 2));
  say("pci-view %s intx pin %u irq %ld\n", bdf, rd(PCI_INTERRUPT_PIN, 1), pci_attr(bdf, "irq"));
  char drv[256];
  say("pci-view %s driver %s\n", bdf, driver_of(bdf, drv, sizeof drv));
  return mode;
}

/** The first namespace block device of the function's controller ("nvme0n1"): <bdf>/nvme/nvmeC/nvmeCnN. */
static int find_namespace(const char *bdf, char *out, size_t size) {
  char p[512];
  pci_path(p, sizeof p, bdf, "nvme");
  DIR *d = opendir(p);
  if (!d) return -1;
  int found = -1;
  for (struct dirent *c; found < 0 && (c = readdir(d));) {
    int ctl, end = 0;
    if (sscanf(c->d_name, "nvme%d%n", &ctl, &end) != 1 || c->d_name[end]) continue;
    char q[768];
    snprintf(q, sizeof q, "%s/%s", p, c->d_name);
    DIR *e = opendir(q);
    if (!e) continue;
    for (struct dirent *ns; (ns = readdir(e));) {
      int a, b, n2 = 0;
      if (sscanf(ns->d_name, "nvme%dn%d%n", &a, &b, &n2) == 2 && !ns->d_name[n2] && a == ctl) { copy(out, size, ns->d_name); found = 0; break; }
    }
    closedir(e);
  }
  closedir(d);
  return found;
}

/** Read and write I/Os completed on a block device (/sys/block/<disk>/stat fields 1 and 5). */
static long disk_ios(const char *disk) {
  char p[256], s[512];
  snprintf(p, sizeof p, "/sys/block/%s/stat", disk);
  unsigned long long rio, rmerge, rsect, rticks, wio;
  if (slurp(p, s, sizeof s) < 0 || sscanf(s, "%llu %llu %llu %llu %llu", &rio, &rmerge, &rsect, &rticks, &wio) != 5) return -1;
  return (long)(rio + wio);
}

/** The counts of every /proc/interrupts line naming nvme, summed over lines and CPUs; with `print`,
 *  each such line is reported (`nvme-irq <line>`). -1 when /proc/interrupts is unreadable. */
static long nvme_irqs(int print) {
  static char buf[65536];
  if (slurp("/proc/interrupts", buf, sizeof buf) < 0) return -1;
  long total = 0;
  char *save;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strstr(line, "nvme")) continue;
    long n = irq_line_total(line);
    if (n < 0) continue;
    total += n;
    while (*line == ' ') line++;
    if (print) say("nvme-irq %s\n", line);
  }
  return total;
}

/** The kernel's timestamp (ms since boot) of the last "pci function <bdf>" line nvme logged when it
 *  probed the function, read back from /dev/kmsg (records "prio,seq,usec,flags;text"); -1 if none. */
static double probe_ms(const char *bdf) {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  char rec[2048], needle[64];
  snprintf(needle, sizeof needle, "pci function %s", bdf);
  double at = -1;
  for (;;) {
    ssize_t n = read(fd, rec, sizeof rec - 1);
    if (n < 0 && errno == EPIPE) continue;   // records overwritten under us: go on with the next
    if (n <= 0) break;                       // EAGAIN: the end of the log
    rec[n] = 0;
    unsigned prio; unsigned long long seq, usec;
    char *text = strchr(rec, ';');
    if (text && strstr(text, needle) && sscanf(rec, "%u,%llu,%llu", &prio, &seq, &usec) == 3) at = usec / 1e3;
  }
  close(fd);
  return at;
}

/** Fills buf from getrandom(); GRND_INSECURE so an early-boot guest never waits for entropy. */
static int fill_random(uint8_t *buf, size_t len) {
  int flags = GRND_INSECURE;
  for (size_t got = 0; got < len;) {
    ssize_t n = getrandom(buf + got, len - got, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && flags) { flags = 0; continue; }   // a kernel before 5.6
    if (n < 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

/** One pass over [off, off + len) in CHUNK pieces: reads (write = 0) hash what came back; writes
 *  fill each piece with random data and hash it first. Adds the time spent in pread/pwrite to
 *  *io_ms. 0, or -1 after reporting the failure. */
static int transfer(int fd, int write, unsigned long long off, size_t len, uint8_t *buf, char hex[SHA256_HEX + 1], double *io_ms) {
  struct sha256 s;
  sha256_init(&s);
  for (size_t done = 0; done < len; done += CHUNK) {
    if (write && fill_random(buf, CHUNK) < 0) { say("FAIL nvme: getrandom: errno %d\n", errno); return -1; }
    if (write) sha256_update(&s, buf, CHUNK);
    double t0 = mono_ms();
    ssize_t n = write ? pwrite(fd, buf, CHUNK, (off_t)(off + done)) : pread(fd, buf, CHUNK, (off_t)(off + done));
    *io_ms += mono_ms() - t0;
    if (n != (ssize_t)CHUNK) { say("FAIL nvme: %s at %llu returned %zd (errno %d)\n", write ? "pwrite" : "pread", off + done, n, errno); return -1; }
    if (!write) sha256_update(&s, buf, CHUNK);
  }
  sha256_final_hex(&s, hex);
  return 0;
}

/** The random-read workload on an O_DIRECT fd of a `bytes`-long disk: RANDREAD_COUNT reads at QD1.
 *  Prints `nvme-randread begin ...`, then, after the reads, `nvme-randread iops ...` with the I/Os
 *  and nvme interrupts counted over them (at QD1 each read is one command: one interrupt each
 *  unless the driver polls). 0, or -1 after reporting the failure. */
static int random_reads(int fd, const char *disk, unsigned long long bytes, uint8_t *buf) {
  unsigned long long blocks = bytes / RANDREAD_BLOCK, x = RANDREAD_SEED;
  if (blocks == 0) { say("FAIL nvme: %s is too small for random reads\n", disk); return -1; }
  say("nvme-randread begin reads %d block %u\n", RANDREAD_COUNT, RANDREAD_BLOCK);
  usleep(RANDREAD_SETTLE_MS * 1000);
  long ios0 = disk_ios(disk), irqs0 = nvme_irqs(0);
  double t0 = mono_ms();
  for (int i = 0; i < RANDREAD_COUNT; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;   // xorshift64
    off_t off = (off_t)((x % blocks) * RANDREAD_BLOCK);
    ssize_t n = pread(fd, buf, RANDREAD_BLOCK, off);
    if (n != (ssize_t)RANDREAD_BLOCK) { say("FAIL nvme: random pread at %lld returned %zd (errno %d)\n", (long long)off, n, errno); return -1; }
  }
  double ms = mono_ms() - t0;
  long ios1 = disk_ios(disk), irqs1 = nvme_irqs(0);
  say("nvme-randread iops %.0f reads %d block %u ms %.1f ios %ld irqs %ld\n", RANDREAD_COUNT / (ms / 1e3), RANDREAD_COUNT, RANDREAD_BLOCK, ms, ios1 - ios0, irqs1 - irqs0);
  usleep(RANDREAD_SETTLE_MS * 1000);
  return 0;
}

int nvme_checks(const char *bdf, const char *expected) {
  char disk[64], dev[96], p[256], s[64];
  double start = mono_ms(), seen = -1;
  while (find_namespace(bdf, disk, sizeof disk) < 0) {
    if (mono_ms() - start > NVME_WAIT_S * 1e3) {
      char drv[256];
      pci_view(bdf);
      say("FAIL nvme: no namespace of %s within %d s (driver %s)\n", bdf, NVME_WAIT_S, driver_of(bdf, drv, sizeof drv));
      say("nvme-verdict FAIL\n");
      return 1;
    }
    usleep(POLL_MS * 1000);
  }
  seen = boot_ms();
  snprintf(dev, sizeof dev, "/dev/%s", disk);
  int rfd;
  while ((rfd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC)) < 0 && errno == ENOENT && mono_ms() - start < NVME_WAIT_S * 1e3) usleep(POLL_MS * 1000);
  snprintf(p, sizeof p, "/sys/block/%s/size", disk);
  unsigned long long sectors = slurp(p, s, sizeof s) == 0 ? strtoull(s, NULL, 10) : 0;
  snprintf(p, sizeof p, "/sys/block/%s/queue/logical_block_size", disk);
  long lbs = slurp(p, s, sizeof s) == 0 ? strtol(s, NULL, 10) : -1;
  say("nvme-disk %s bytes %llu logical-block %ld seen-ms %.0f\n", disk, sectors * 512, lbs, seen);
  const char *mode = pci_view(bdf);
  if (rfd < 0) { say("FAIL nvme: open %s: errno %d\n", dev, errno); say("nvme-verdict FAIL\n"); return 1; }
  if (sectors * 512 < WRITE_OFFSET + WRITE_BYTES) { say("FAIL nvme: %s is %llu bytes, the checks need %llu\n", disk, sectors * 512, WRITE_OFFSET + WRITE_BYTES); close(rfd); say("nvme-verdict FAIL\n"); return 1; }
  int wfd = open(dev, O_WRONLY | O_DIRECT | O_CLOEXEC);
  uint8_t *buf = aligned_alloc(PAGE, CHUNK);
  if (wfd < 0 || !buf) { say("FAIL nvme: open %s for writing: errno %d\n", dev, errno); close(rfd); if (wfd >= 0) close(wfd); free(buf); say("nvme-verdict FAIL\n"); return 1; }

  long ios0 = disk_ios(disk), irqs0 = nvme_irqs(0);
  char pattern[SHA256_HEX + 1] = "", wrote[SHA256_HEX + 1] = "", readback[SHA256_HEX + 1] = "";
  double read_ms = 0, write_ms = 0, back_ms = 0;
  int rc = transfer(rfd, 0, 0, PATTERN_BYTES, buf, pattern, &read_ms);
  if (rc == 0) say("sha256 pattern %s expected %s\n", pattern, expected);
  if (rc == 0) rc = transfer(wfd, 1, WRITE_OFFSET, WRITE_BYTES, buf, wrote, &write_ms);
  if (rc == 0) rc = transfer(rfd, 0, WRITE_OFFSET, WRITE_BYTES, buf, readback, &back_ms);
  if (rc == 0) say("sha256 write %s read %s\n", wrote, readback);
  long ios1 = disk_ios(disk), irqs1 = nvme_irqs(0);
  close(wfd); close(rfd); free(buf);

  say("nvme-irq-mode %s\n", mode);
  nvme_irqs(1);
  if (rc == 0) say("nvme-figures read-mbs %.1f write-mbs %.1f ios %ld irqs %ld probe-ms %.0f seen-ms %.0f\n",
                   PATTERN_BYTES / (read_ms / 1e3) / 1e6, WRITE_BYTES / (write_ms / 1e3) / 1e6, ios1 - ios0, irqs1 - irqs0, probe_ms(bdf), seen);
  if (rc == 0 && strcmp(expected, "none") != 0 && strcmp(pattern, expected) != 0) { say("FAIL nvme: the pattern read back is not the image's\n"); rc = 1; }
  if (rc == 0 && strcmp(wrote, readback) != 0) { say("FAIL nvme: the data read back is not what was written\n"); rc = 1; }
  if (rc == 0) {
    int fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
    uint8_t *block = aligned_alloc(PAGE, RANDREAD_BLOCK);
    if (fd < 0 || !block) { say("FAIL nvme: open %s for random reads: errno %d\n", dev, errno); rc = 1; }
    else if (random_reads(fd, disk, sectors * 512, block) < 0) rc = 1;
    if (fd >= 0) close(fd);
    free(block);
  }
  say("nvme-verdict %s\n", rc == 0 ? "PASS" : "FAIL");
  return rc == 0 ? 0 : 1;
}
