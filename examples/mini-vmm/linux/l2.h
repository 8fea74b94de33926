// What the L2 /init's parts share (init.c, nvme.c): the report line writer and small file helpers.
#ifndef L2_L2_H
#define L2_L2_H
#include <stddef.h>

/** One report line "l2: ..." (fmt ends with "\n"): to /dev/kmsg when /init is PID 1 in the guest,
 *  to stdout when it runs as a normal program (the same checks in L1, or a host-side test). */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Reads a small file into buf (NUL-terminated, trailing newlines removed); -1 on failure. */
int slurp(const char *path, char *buf, size_t size);
/** The sum of the per-CPU counts of one /proc/interrupts line ("NN:  c0  c1 ..."); -1 without a label. */
long irq_line_total(const char *line);
/** CLOCK_MONOTONIC and CLOCK_BOOTTIME in milliseconds. */
double mono_ms(void);
double boot_ms(void);

/** Prefix for every /sys path the PCI part reads ("" in a guest; a fake tree in a host test). */
extern const char *sysfs_root;
struct dirent;
/** `<sysfs_root>/sys/bus/pci/devices/<bdf>/<file>` ("" for the function's directory). */
void pci_path(char *out, size_t size, const char *bdf, const char *file);
/** A sysfs attribute of a PCI function holding one number ("0x1b36", "42"); -1 when unreadable. */
long pci_attr(const char *bdf, const char *file);
/** scandir() helpers: entries other than "." and "..", sorted by name. */
int no_dots(const struct dirent *d);
int by_name(const struct dirent **a, const struct dirent **b);
/** Prints `pci <bdf> <vendor>:<device>` for every PCI function and finds the NVMe function (class
 *  0x010802; `want`, when given, must be one); 0 with its name in `bdf`, -1 when there is none. */
int pci_enumerate(const char *want, char *bdf, size_t size);
/** Prints the `pci-view <bdf> ...` lines of a function's config space as sysfs shows it; returns
 *  the interrupt mode its config says is on: "msix", "msi" or "intx" ("" when unreadable). */
const char *pci_view(const char *bdf);
/** Prints the `pci-view` lines of every other function: neither the NVMe function `nvme` ("" when
 *  there is none) nor a bridge (the VMM's host bridge). These are the other passed-through
 *  functions (the lab's edu), which have no checks of their own: their view is the report. */
void pci_view_others(const char *nvme);
/** The NVMe checks on function `bdf`: wait for its namespace, hash the pattern, write and read
 *  back, report interrupts and figures (docs in nvme.c). `expected`: 64 hex digits or "none".
 *  0 when every check passed. */
int nvme_checks(const char *bdf, const char *expected);
/** The BAR check of every ivshmem function (bar.c): BAR 2's placement and a marker written at its
 *  first and last 8 bytes through sysfs resource2. 0 passed, 1 failed, 2 no such function. */
int bar_checks(void);

#endif
