// /init of the mini-vmm's Linux guest (demonstration 3): a static aarch64 program, the only file
// of the L2 initramfs (linux/build.mjs builds it from init.c, nvme.c and sha256.c). It checks the
// passed-through devices from inside the guest kernel, through the kernel's own drivers:
//   1. the PL031, through rtc-pl031: the RTC class device exists and is the pl031
//      (/sys/class/rtc/rtc0/name); RTC_RD_TIME on /dev/rtc0 gives a sane date (printed, with the
//      epoch second); ALARMS times: RTC_ALM_SET (now + ALARM_DELAY_S) + RTC_AIE_ON, then a
//      blocking read() on /dev/rtc0 that must return (guarded by SIGALRM after ALARM_TIMEOUT_S),
//      and the rtc-pl031 line's count in /proc/interrupts before and after (skipped, with an
//      `rtc-skip` line, when the command line says `l2.rtc=none`: a run without the pl031);
//   2. the PCI functions it enumerated and, when one is an NVMe controller, the nvme driver's disk
//      (nvme.c): its config space as the guest sees it, the disk's pattern hashed against the hash
//      on the command line (l2.disk_sha256=), a write and read back, interrupts and figures;
//      without one, the NVMe part is skipped (one line says so); then the config-space view of
//      every other function but a bridge (the other passed-through ones, the lab's edu: no driver
//      in the L2, so its view is its whole report);
// then powers off (reboot(RB_POWER_OFF): PSCI SYSTEM_OFF, KVM_EXIT_SYSTEM_EVENT for the VMM), or
// resets when a check failed (RB_AUTOBOOT: PSCI SYSTEM_RESET), so the VMM sees the verdict even
// when the console is quiet.
// There is no console device in the guest (no UART node in its DTB): every result goes to
// /dev/kmsg, which the kernel prints through the pl011 earlycon the VMM emulates. Each result is
// one line "l2: KEY VALUE..." so the VMM's caller can parse it (test/lab/vmm-linux.test.ts;
// docs/mini-vmm.md lists the lines).
// Run as a normal program (not PID 1) it powers nothing off and prints to stdout:
//   init nvme [--expect HEX] [--bdf BDF]   the PCI and NVMe part alone (the same checks in L1, with
//                                          L1's own nvme driver; HEX defaults to L1's vfiokit.disk_sha256=)
//   init pci [--sysfs DIR] [--bdf BDF]     the PCI lines alone, the other functions' views too (a
//                                          host test gives a fake sysfs tree)
//   init sha256 FILE                       the SHA-256 of a file (a host test checks sha256.c)
// Not responsible for: anything but reporting; it never retries.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <linux/rtc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "l2.h"
#include "sha256.h"

/** Alarms in a row: the second one only arrives if the first one's EOI went back to VFIO (KVM's
 *  resample eventfd -> VFIO unmask of the automasked level line). */
#define ALARMS 2
/** Seconds from now each alarm is set for. */
#define ALARM_DELAY_S 2
/** How long a blocking read may take before the alarm counts as lost (a 2 s alarm, slow TCG). */
#define ALARM_TIMEOUT_S 20

static int kmsg = -1;
/** Set when the program runs as a normal program: report lines go to stdout. */
static int to_stdout;

/** One line to the kernel log at KERN_NOTICE ("<5>"), printed on the console by the earlycon. */
void say(const char *fmt, ...) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%sl2: ", to_stdout ? "" : "<5>");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - n, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) n = sizeof buf - 1;
  if (to_stdout) { fputs(buf, stdout); fflush(stdout); }
  else if (kmsg >= 0) (void)!write(kmsg, buf, n);
}

static double clock_ms(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
double mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
double boot_ms(void) { return clock_ms(CLOCK_BOOTTIME); }

int slurp(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  while (n > 0 && buf[n - 1] == '\n') buf[--n] = 0;
  return 0;
}

long irq_line_total(const char *line) {
  const char *p = strchr(line, ':');
  if (!p) return -1;
  long total = 0;
  char *end;
  for (p++;; p = end) {   // the per-CPU counts follow the "NN:" label
    long v = strtol(p, &end, 10);
    if (end == p) break;
    total += v;
  }
  return total;
}

/** The total count of the /proc/interrupts line naming rtc-pl031 (-1: no such line). */
static long pl031_irq_count(char *line_out, size_t line_size) {
  static char buf[16384];
  if (slurp("/proc/interrupts", buf, sizeof buf) < 0) return -1;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (!strstr(line, "rtc-pl031")) continue;
    long total = irq_line_total(line);
    if (total < 0) return -1;
    while (*line == ' ') line++;
    snprintf(line_out, line_size, "%s", line);
    return total;
  }
  return -1;
}

static void fmt_tm(const struct rtc_time *r, char *out, size_t size) {
  snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d", r->tm_year + 1900, r->tm_mon + 1, r->tm_mday, r->tm_hour, r->tm_min, r->tm_sec);
}

static long long rtc_epoch(const struct rtc_time *r) {
  struct tm t = { .tm_sec = r->tm_sec, .tm_min = r->tm_min, .tm_hour = r->tm_hour, .tm_mday = r->tm_mday, .tm_mon = r->tm_mon, .tm_year = r->tm_year };
  return (long long)timegm(&t);
}

static void on_sigalrm(int sig) { (void)sig; }

/** Alarm number i, the classic way (tools/testing/selftests/rtc/rtctest.c): RTC_ALM_SET takes a
 *  time of day (the RTC core fills in the date), RTC_AIE_ON arms it, and read() blocks until the
 *  interrupt handler reports it. A SIGALRM after ALARM_TIMEOUT_S (no SA_RESTART) ends a read()
 *  that would block forever with EINTR. 0 when the read returned an alarm event. */
static int one_alarm(int fd, int i) {
  char s[64];
  struct rtc_time now;
  if (ioctl(fd, RTC_RD_TIME, &now) < 0) { say("FAIL RTC_RD_TIME: errno %d\n", errno); return 1; }
  time_t at = (time_t)rtc_epoch(&now) + ALARM_DELAY_S;
  struct tm a;
  gmtime_r(&at, &a);
  struct rtc_time alm = { .tm_sec = a.tm_sec, .tm_min = a.tm_min, .tm_hour = a.tm_hour, .tm_mday = a.tm_mday, .tm_mon = a.tm_mon, .tm_year = a.tm_year };
  if (ioctl(fd, RTC_ALM_SET, &alm) < 0) { say("FAIL RTC_ALM_SET: errno %d\n", errno); return 1; }
  if (ioctl(fd, RTC_AIE_ON, 0) < 0) { say("FAIL RTC_AIE_ON: errno %d\n", errno); return 1; }
  fmt_tm(&alm, s, sizeof s);
  say("alarm-set %d %s (+%d s)\n", i, s, ALARM_DELAY_S);
  struct sigaction sa = { .sa_handler = on_sigalrm };   // no SA_RESTART: read() returns EINTR
  sigaction(SIGALRM, &sa, NULL);
  alarm(ALARM_TIMEOUT_S);
  double t0 = mono_ms();
  unsigned long data = 0;
  ssize_t n = read(fd, &data, sizeof data);
  double waited = mono_ms() - t0;
  alarm(0);
  ioctl(fd, RTC_AIE_OFF, 0);
  if (n != (ssize_t)sizeof data) { say("FAIL alarm %d: read returned %zd after %.0f ms (errno %d)\n", i, n, waited, errno); return 1; }
  // data: the low byte is the event flags (RTC_IRQF 0x80 | RTC_AF 0x20 for an alarm), the rest a count.
  say("alarm-read %d flags 0x%02lx count %lu after %.0f ms\n", i, data & 0xff, data >> 8, waited);
  return (data & RTC_AF) ? 0 : 1;
}

static int rtc_checks(void) {
  char s[256], line[256];
  if (slurp("/sys/class/rtc/rtc0/name", s, sizeof s) < 0) { say("FAIL no /sys/class/rtc/rtc0 (errno %d)\n", errno); return 1; }
  say("rtc0-name %s\n", s);
  char date[32], tim[32];
  if (slurp("/sys/class/rtc/rtc0/date", date, sizeof date) == 0 && slurp("/sys/class/rtc/rtc0/time", tim, sizeof tim) == 0)
    say("sysfs-time %s %s\n", date, tim);

  int fd = open("/dev/rtc0", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { say("FAIL open /dev/rtc0: errno %d\n", errno); return 1; }
  struct rtc_time now;
  if (ioctl(fd, RTC_RD_TIME, &now) < 0) { say("FAIL RTC_RD_TIME: errno %d\n", errno); close(fd); return 1; }
  fmt_tm(&now, s, sizeof s);
  say("rtc-time %s epoch %lld\n", s, rtc_epoch(&now));

  long before = pl031_irq_count(line, sizeof line);
  say("irq-before %ld\n", before);

  for (int i = 1; i <= ALARMS; i++) if (one_alarm(fd, i) != 0) { close(fd); return 1; }
  long after = pl031_irq_count(line, sizeof line);
  say("irq-after %ld\n", after);
  say("irq-line %s\n", line);
  if (ioctl(fd, RTC_RD_TIME, &now) == 0) { fmt_tm(&now, s, sizeof s); say("rtc-time-end %s epoch %lld\n", s, rtc_epoch(&now)); }
  close(fd);
  return before >= 0 && after >= before + ALARMS ? 0 : 1;
}

/** The value of `key=` on the kernel command line if it is a SHA-256 in hex, else "none". */
static const char *cmdline_sha256(const char *key, char *out, size_t size) {
  char line[4096];
  snprintf(out, size, "none");
  if (slurp("/proc/cmdline", line, sizeof line) < 0) return out;
  size_t k = strlen(key);
  for (char *save, *a = strtok_r(line, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
    if (strncmp(a, key, k) != 0 || a[k] != '=') continue;
    const char *v = a + k + 1;
    if (strlen(v) == SHA256_HEX && strspn(v, "0123456789abcdef") == SHA256_HEX) snprintf(out, size, "%s", v);
  }
  return out;
}

/** True when `word` (e.g. "l2.rtc=none") is one of the kernel command line's words. */
static int cmdline_has(const char *word) {
  char line[4096];
  if (slurp("/proc/cmdline", line, sizeof line) < 0) return 0;
  for (char *save, *a = strtok_r(line, " ", &save); a; a = strtok_r(NULL, " ", &save)) if (strcmp(a, word) == 0) return 1;
  return 0;
}

/** The PCI and NVMe part: 0 passed, 1 failed, 2 skipped (no NVMe function). `others`: then the
 *  views of the other functions (the guest's; not in L1, where they are L1's own devices). */
static int pci_nvme_checks(const char *want, const char *expected, int others) {
  char bdf[64] = "";
  int rc;
  if (pci_enumerate(want, bdf, sizeof bdf) < 0) {
    if (want) say("nvme-skip %s is not a PCI NVMe function (class 0x010802)\n", want);
    else say("nvme-skip no PCI NVMe function (class 0x010802)\n");
    bdf[0] = 0;
    rc = 2;
  } else rc = nvme_checks(bdf, expected);
  if (others) pci_view_others(bdf);
  return rc;
}

/** The SHA-256 of a file, read in pieces (the host's check of sha256.c). */
static int hash_file(const char *path) {
  static uint8_t buf[1 << 16];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { fprintf(stderr, "init sha256: %s: %s\n", path, strerror(errno)); return 1; }
  struct sha256 s;
  sha256_init(&s);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) sha256_update(&s, buf, (size_t)n);
  close(fd);
  if (n < 0) { fprintf(stderr, "init sha256: %s: %s\n", path, strerror(errno)); return 1; }
  char hex[SHA256_HEX + 1];
  sha256_final_hex(&s, hex);
  printf("sha256 %s\n", hex);
  return 0;
}

/** Not PID 1: the modes in the header, on stdout; exit 0 on success, 1 on failure, 2 on bad usage. */
static int as_program(int argc, char **argv) {
  to_stdout = 1;
  const char *mode = argc > 1 ? argv[1] : "", *want = NULL, *expect = NULL;
  if (strcmp(mode, "sha256") == 0 && argc == 3) return hash_file(argv[2]);
  int bad = 0;
  for (int i = 2; i < argc && !bad; i += 2) {
    if (i + 1 >= argc) bad = 1;
    else if (strcmp(argv[i], "--bdf") == 0) want = argv[i + 1];
    else if (strcmp(argv[i], "--expect") == 0 && strcmp(mode, "nvme") == 0) expect = argv[i + 1];
    else if (strcmp(argv[i], "--sysfs") == 0 && strcmp(mode, "pci") == 0) sysfs_root = argv[i + 1];
    else bad = 1;
  }
  if (!bad && strcmp(mode, "nvme") == 0) {
    char from_cmdline[SHA256_HEX + 1];
    return pci_nvme_checks(want, expect ? expect : cmdline_sha256("vfiokit.disk_sha256", from_cmdline, sizeof from_cmdline), 0) == 0 ? 0 : 1;
  }
  if (!bad && strcmp(mode, "pci") == 0) {
    char bdf[64];
    if (pci_enumerate(want, bdf, sizeof bdf) < 0) { say("nvme-skip no PCI NVMe function (class 0x010802)\n"); return 1; }
    int ok = *pci_view(bdf) != 0;
    pci_view_others(bdf);
    return ok ? 0 : 1;
  }
  fprintf(stderr, "usage: init nvme [--expect HEX] [--bdf BDF] | init pci [--sysfs DIR] [--bdf BDF] | init sha256 FILE\n"
                  "(as PID 1 it is the L2 guest's /init and powers the machine off when done)\n");
  return 2;
}

int main(int argc, char **argv) {
  if (getpid() != 1) return as_program(argc, argv);
  mkdir("/proc", 0755); mkdir("/sys", 0755); mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  say("init running, uptime %.3f s\n", boot_ms() / 1e3);
  // `l2.rtc=none`: the VMM passed no RTC through (a run with other devices alone), so the RTC
  // part is skipped instead of failing for want of /dev/rtc0.
  int rc = 0;
  if (cmdline_has("l2.rtc=none")) say("rtc-skip l2.rtc=none on the command line\n");
  else rc = rtc_checks();
  char expected[SHA256_HEX + 1];
  int nvme = pci_nvme_checks(NULL, cmdline_sha256("l2.disk_sha256", expected, sizeof expected), 1);
  if (nvme == 1) rc = 1;
  if (bar_checks() == 1) rc = 1;
  say("%s\n", rc == 0 ? "PASS" : "FAIL");
  // The verdict is also the way out, so the VMM knows it without the console (a `quiet` boot
  // prints none of the above): PASS powers off (PSCI SYSTEM_OFF, "shutdown"), FAIL resets
  // (PSCI SYSTEM_RESET, "reset", as a panic does with panic=-1).
  say("%s\n", rc == 0 ? "power-off" : "reset");
  sync();
  reboot(rc == 0 ? RB_POWER_OFF : RB_AUTOBOOT);
  say("FAIL reboot returned: errno %d\n", errno);
  return 1;   // the kernel panics when init exits: with panic=-1 that is a PSCI reset the VMM sees
}
