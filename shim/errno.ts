// The errno table as data: number, name, what it says, the VfioError kind it maps to and a
// default hint. Numbers are the asm-generic ones that x86_64 and arm64 both use (alpha, mips,
// sparc and parisc differ; vfiokit does not run there). test/unit/shim/errno.test.ts checks them
// against koffi.os.errno on the running machine.
// Not responsible for: context (device, region): src/ adds it.
import { getSystemErrorName } from 'node:util';
import type { VfioErrorKind } from './error.js';

/** One row of the errno table: how vfiokit names, explains and classifies an errno. */
export interface ErrnoEntry {
  /** The errno (asm-generic numbering). */
  readonly errno: number;
  /** Its symbolic name ('EBUSY'). */
  readonly name: string;
  /** What it says, for messages ('device or resource busy'). */
  readonly text: string;
  /** The VfioError kind it maps to. */
  readonly kind: VfioErrorKind;
  /** What to do about it, when there is a general answer. */
  readonly hint?: string;
}

const PERMISSION_HINT = 'run as root, or give this user read/write access to the device node (a udev rule or chown) and CAP_IPC_LOCK or a high enough RLIMIT_MEMLOCK for DMA mappings';

export const ERRNO_TABLE: readonly ErrnoEntry[] = Object.freeze([
  { errno: 1, name: 'EPERM', text: 'operation not permitted', kind: 'permission', hint: PERMISSION_HINT },
  { errno: 2, name: 'ENOENT', text: 'no such file or directory', kind: 'not-found', hint: 'check the path; a VFIO group node appears only once its devices are bound to a VFIO driver' },
  { errno: 4, name: 'EINTR', text: 'interrupted system call', kind: 'syscall', hint: 'a signal arrived during the call; retry it' },
  { errno: 5, name: 'EIO', text: 'input/output error', kind: 'syscall', hint: 'the device did not answer; check dmesg' },
  { errno: 6, name: 'ENXIO', text: 'no such device or address', kind: 'not-found', hint: 'the device or the region offset does not exist' },
  { errno: 9, name: 'EBADF', text: 'bad file descriptor', kind: 'syscall', hint: 'the fd is closed or was never open: a lifetime bug in the caller' },
  { errno: 11, name: 'EAGAIN', text: 'resource temporarily unavailable', kind: 'syscall', hint: 'nothing is ready on a non-blocking fd; wait for readiness' },
  { errno: 12, name: 'ENOMEM', text: 'cannot allocate memory', kind: 'syscall', hint: 'the kernel is out of memory or the locked-memory limit (RLIMIT_MEMLOCK) is too low for DMA mappings' },
  { errno: 13, name: 'EACCES', text: 'permission denied', kind: 'permission', hint: PERMISSION_HINT },
  { errno: 14, name: 'EFAULT', text: 'bad address', kind: 'syscall', hint: 'a buffer or address passed to the kernel is not mapped: a bug in the caller' },
  { errno: 16, name: 'EBUSY', text: 'device or resource busy', kind: 'busy', hint: 'another process or an open fd holds the device or group; close it there first (device fds close before their group)' },
  { errno: 17, name: 'EEXIST', text: 'file exists', kind: 'syscall', hint: 'the mapping, slot or file already exists; remove it first' },
  { errno: 19, name: 'ENODEV', text: 'no such device', kind: 'not-found', hint: 'the device is not there or not bound to a VFIO driver; check /sys/bus/*/devices/*/driver' },
  { errno: 22, name: 'EINVAL', text: 'invalid argument', kind: 'syscall', hint: 'an argument is outside what the kernel accepts (argsz, flags, index, alignment or length)' },
  { errno: 24, name: 'EMFILE', text: 'too many open files', kind: 'syscall', hint: 'raise the open-file limit (ulimit -n) or close fds' },
  { errno: 25, name: 'ENOTTY', text: 'inappropriate ioctl for device', kind: 'not-supported', hint: 'the fd is not of the kind this ioctl is for, or this kernel lacks the feature' },
  { errno: 28, name: 'ENOSPC', text: 'no space left on device', kind: 'no-space', hint: 'an address space or a table in the kernel is full' },
  { errno: 38, name: 'ENOSYS', text: 'function not implemented', kind: 'not-supported', hint: 'this kernel lacks the system call' },
  { errno: 90, name: 'EMSGSIZE', text: 'message too long', kind: 'no-space', hint: 'the output array passed to the kernel is too small; query again with the count it wrote back' },
  { errno: 95, name: 'EOPNOTSUPP', text: 'operation not supported', kind: 'not-supported', hint: 'the kernel or the device lacks the feature' },
  { errno: 110, name: 'ETIMEDOUT', text: 'connection timed out', kind: 'syscall' },
]);

const BY_ERRNO = new Map(ERRNO_TABLE.map((e) => [e.errno, e]));

/** The entry for errno, or a generic one (kind 'syscall') for numbers not in the table, named as
 *  Node names it (util.getSystemErrorName: 'EPROTO' for 71), or `E<number>` when Node does not
 *  know the number either. */
export function errnoEntry(errno: number): ErrnoEntry {
  return BY_ERRNO.get(errno) ?? { errno, name: systemErrorName(errno), text: `errno ${errno}`, kind: 'syscall' };
}

function systemErrorName(errno: number): string {
  let name: string | undefined;
  try { name = getSystemErrorName(-errno); } catch { /* not a negative integer: no name */ }
  return name !== undefined && /^E[A-Z0-9]+$/.test(name) ? name : `E${errno}`;
}

/** Numbers the shim itself compares against. */
export const EAGAIN = 11, EINTR = 4, EMSGSIZE = 90;
