// The L2 /init's BAR check: for each ivshmem function (1af4:1110, the lab's device with a 1 GiB
// 64-bit BAR 2, more than the VMM's 32-bit window holds), where the guest's kernel placed BAR 2,
// and that the guest reaches all of it: memory decoding on (sysfs `enable`), BAR 2 mapped through
// sysfs `resource2`, a marker written at its first and its last 8 bytes and read back. The line:
//   bar <bdf> index 2 addr 0x... size 0x... flags 0x... first 0x... last 0x... read-first 0x...
//   read-last 0x... ok|fail <why>
// L1 reads the markers through the device afterwards (test/lab/vmm-run-pci.test.ts).
// Then an access no VMM can decode: a child process maps BAR 0 (256 bytes of registers, smaller
// than a page, so the VMM traps it) and loads from it with a load pair (LDP), which gives KVM no
// instruction syndrome (KVM_EXIT_ARM_NISV); the VMM answers with an external abort, which Linux
// turns into SIGBUS for the child. The line:
//   bar <bdf> index 0 ldr 0x... ldp-signal <n>|none ok|fail <why>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include "l2.h"

/** The markers: "vfiokit" read as a little-endian u64 at the first 8 bytes, big-endian at the last
 *  (so the two differ). test/lab/vmm-run-pci.test.ts has the same two numbers. */
#define MARK_FIRST 0x0074696b6f696676ULL
#define MARK_LAST 0x7666696f6b697400ULL

/** Line `index` of a function's sysfs `resource` file: start, end, flags; -1 when unreadable. */
static int resource(const char *bdf, int index, uint64_t *start, uint64_t *end, uint64_t *flags) {
  char p[512];
  pci_path(p, sizeof p, bdf, "resource");
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  char line[128];
  int rc = -1;
  for (int i = 0; fgets(line, sizeof line, f); i++) {
    if (i != index) continue;
    if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, start, end, flags) == 3) rc = 0;
    break;
  }
  fclose(f);
  return rc;
}

static int one(const char *bdf) {
  uint64_t start = 0, end = 0, flags = 0;
  if (resource(bdf, 2, &start, &end, &flags) < 0 || end <= start) { say("bar %s index 2 fail no BAR 2 in resource\n", bdf); return 1; }
  uint64_t size = end - start + 1;
  char p[512];
  pci_path(p, sizeof p, bdf, "enable");
  int e = open(p, O_WRONLY | O_CLOEXEC);
  if (e < 0 || write(e, "1", 1) != 1) { say("bar %s index 2 fail enable: %s\n", bdf, strerror(errno)); if (e >= 0) close(e); return 1; }
  close(e);
  pci_path(p, sizeof p, bdf, "resource2");
  int fd = open(p, O_RDWR | O_SYNC | O_CLOEXEC);
  if (fd < 0) { say("bar %s index 2 fail open resource2: %s\n", bdf, strerror(errno)); return 1; }
  volatile uint64_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) { say("bar %s index 2 fail mmap resource2 (0x%" PRIx64 " bytes): %s\n", bdf, size, strerror(errno)); return 1; }
  size_t last = (size_t)(size / 8) - 1;
  m[0] = MARK_FIRST;
  m[last] = MARK_LAST;
  uint64_t r0 = m[0], r1 = m[last];
  munmap((void *)m, size);
  int ok = r0 == MARK_FIRST && r1 == MARK_LAST;
  say("bar %s index 2 addr 0x%" PRIx64 " size 0x%" PRIx64 " flags 0x%" PRIx64 " first 0x%llx last 0x%llx read-first 0x%" PRIx64 " read-last 0x%" PRIx64 " %s\n",
      bdf, start, size, flags, MARK_FIRST, MARK_LAST, r0, r1, ok ? "ok" : "fail read-back");
  return ok ? 0 : 1;
}

/** BAR 0 through sysfs resource0: a plain 32-bit load (trapped, answered by the VMM), then, in a
 *  child, a load pair at the same address: the child must die of SIGBUS. */
static int undecodable(const char *bdf) {
  char p[512];
  pci_path(p, sizeof p, bdf, "resource0");
  int fd = open(p, O_RDWR | O_SYNC | O_CLOEXEC);
  if (fd < 0) { say("bar %s index 0 fail open resource0: %s\n", bdf, strerror(errno)); return 1; }
  long page = sysconf(_SC_PAGESIZE);
  volatile uint32_t *m = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) { say("bar %s index 0 fail mmap resource0: %s\n", bdf, strerror(errno)); return 1; }
  uint32_t v = m[0];   // INTRMASK: an ordinary trapped read
  pid_t child = fork();
  if (child == 0) {
#if defined(__aarch64__)
    uint64_t a, b;
    __asm__ volatile("ldp %0, %1, [%2]" : "=r"(a), "=r"(b) : "r"(m) : "memory");
    _exit(a == b ? 0 : 1);
#else
    _exit(2);
#endif
  }
  int status = 0;
  pid_t w = child > 0 ? waitpid(child, &status, 0) : -1;
  munmap((void *)m, (size_t)page);
  if (w != child) { say("bar %s index 0 fail fork/wait: %s\n", bdf, strerror(errno)); return 1; }
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (sig) say("bar %s index 0 ldr 0x%08x ldp-signal %d %s\n", bdf, v, sig, sig == SIGBUS ? "ok" : "fail not SIGBUS");
  else say("bar %s index 0 ldr 0x%08x ldp-signal none fail the load pair completed (exit %d)\n", bdf, v, WEXITSTATUS(status));
  return sig == SIGBUS ? 0 : 1;
}

int bar_checks(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/sys/bus/pci/devices", sysfs_root);
  struct dirent **names;
  int n = scandir(dir, &names, no_dots, by_name);
  if (n < 0) return 2;
  int found = 0, failed = 0;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (pci_attr(name, "vendor") == 0x1af4 && pci_attr(name, "device") == 0x1110) { found++; failed += one(name); failed += undecodable(name); }
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return failed ? 1 : found ? 0 : 2;
}
