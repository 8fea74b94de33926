// The libc boundary: one method per system call, bound with koffi. Every method returns what the
// raw Linux system call returns: a non-negative result, or -errno on failure (errno is read with
// koffi.errno() on the line right after the failed call, before anything else can overwrite it).
// That convention keeps errno without any state, and a fake (test/support/fake-libc.ts) can
// stand in for every method to inject the errors the lab cannot provoke.
// Binding is lazy: koffi and libc.so.6 load on the first call of a method (then stay loaded),
// so importing vfiokit on a machine without koffi's native binary fails only when a syscall is made.
// Not responsible for: turning failures into errors (sys.ts), policy, struct layouts, lifetimes.
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

/** The koffi call that lets a caller watch an fd on Node's event loop (uv_poll). */
export interface PollWatch { close(): void }

export interface Libc {
  open(path: string, flags: number, mode: number): number;
  close(fd: number): number;
  /** ioctl(fd, request, arg) with a pointer argument: the buffer (or NULL) is passed in place. */
  ioctl(fd: number, request: number, arg: Uint8Array | null): number;
  /** ioctl(fd, request, value) for requests that take an integer by value (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, KVM_CREATE_VM, ...). */
  ioctlValue(fd: number, request: number, value: number | bigint): number;
  /** ioctl with a pointer argument on a libuv thread-pool thread (koffi's `.async`), for a call
   *  that blocks (KVM_RUN) while the event loop goes on; resolves with the result or -errno.
   *  The buffer must stay untouched until it resolves. */
  ioctlAsync(fd: number, request: number, arg: Uint8Array | null): Promise<number>;
  /** Returns the address, or -errno (addresses are below 2^63 on Linux user space, so never negative). */
  mmap(addr: bigint, length: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  munmap(addr: bigint, length: bigint): number;
  /** offset: a bigint, or a number when exact (koffi takes either for an int64_t). */
  pread(fd: number, buf: Uint8Array, count: number, offset: bigint | number): number;
  pwrite(fd: number, buf: Uint8Array, count: number, offset: bigint | number): number;
  read(fd: number, buf: Uint8Array, count: number): number;
  write(fd: number, buf: Uint8Array, count: number): number;
  /** readlink(2): the link's target into buf (not NUL-terminated), its length. */
  readlink(path: string, buf: Uint8Array, size: number): number;
  eventfd(initval: number, flags: number): number;
  /** tgkill(2): signal `sig` to thread `tid` of thread group `tgid` (a vCPU thread out of KVM_RUN). */
  tgkill(tgid: number, tid: number, sig: number): number;
  epoll_create1(flags: number): number;
  epoll_ctl(epfd: number, op: number, fd: number, event: Uint8Array | null): number;
  epoll_wait(epfd: number, events: Uint8Array, maxevents: number, timeoutMs: number): number;
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  memfd_create(name: string, flags: number): number;
  ftruncate(fd: number, length: bigint): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** Not a syscall: a zero-copy ArrayBuffer over `len` bytes at `addr` (koffi.view). */
  view(addr: bigint, len: number): ArrayBuffer;
  /** Not a syscall: watch fd for readability on Node's event loop (koffi.node.poll, uv_poll). */
  watchReadable(fd: number, onReadable: () => void): PollWatch;
}

// Flags and constants of the calls above (Linux generic values, the same on x86_64 and arm64).
/** open(2) flag: read only. */
export const O_RDONLY = 0o0;
/** open(2) flag: write only. */
export const O_WRONLY = 0o1;
/** open(2) flag: read and write. */
export const O_RDWR = 0o2;
/** open(2) flag: close the fd on exec. */
export const O_CLOEXEC = 0o2000000;
/** open(2) flag: non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** mmap(2) protection: no access. */
export const PROT_NONE = 0x0;
/** mmap(2) protection: readable. */
export const PROT_READ = 0x1;
/** mmap(2) protection: writable. */
export const PROT_WRITE = 0x2;
/** mmap(2) flag: a shared mapping (writes reach the file or device). */
export const MAP_SHARED = 0x01;
/** mmap(2) flag: a private copy-on-write mapping. */
export const MAP_PRIVATE = 0x02;
/** mmap(2) flag: memory not backed by a file (fd -1). */
export const MAP_ANONYMOUS = 0x20;
/** eventfd(2) flag: each read takes 1 from the counter. */
export const EFD_SEMAPHORE = 0o1;
/** eventfd(2) flag: a read of a zero counter fails with EAGAIN instead of blocking. */
export const EFD_NONBLOCK = 0o4000;
/** eventfd(2) flag: close the fd on exec. */
export const EFD_CLOEXEC = 0o2000000;
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001, EPOLLOUT = 0x004, EPOLLERR = 0x008, EPOLLHUP = 0x010;
export const POLLIN = 0x001, POLLOUT = 0x004, POLLERR = 0x008, POLLHUP = 0x010, POLLNVAL = 0x020;
export const MFD_CLOEXEC = 0x1, MFD_HUGETLB = 0x4;
export const F_GETFD = 1, F_SETFD = 2, F_GETFL = 3, F_SETFL = 4, FD_CLOEXEC = 1;
/** struct pollfd: int fd (0), short events (4), short revents (6). */
export const SIZEOF_POLLFD = 8;
/** struct epoll_event: u32 events (0), u64 data (4 on x86_64 where it is packed, 8 elsewhere). */
export const SIZEOF_EPOLL_EVENT = process.arch === 'x64' ? 12 : 16;
export const EPOLL_EVENT_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

type Fn = (...args: unknown[]) => unknown;
/** A koffi function's `.async` form: the arguments, then a Node-style callback. */
type AsyncFn = { async(...args: [...unknown[], (err: unknown, result: unknown) => void]): void };
interface Bound {
  koffi: typeof Koffi;
  open: Fn; close: Fn; ioctl: Fn; ioctlValue: Fn; mmap: Fn; munmap: Fn; pread: Fn; pwrite: Fn; read: Fn; write: Fn; readlink: Fn;
  eventfd: Fn; tgkill: Fn; epoll_create1: Fn; epoll_ctl: Fn; epoll_wait: Fn; poll: Fn; memfd_create: Fn; ftruncate: Fn; fcntl: Fn;
}

// The one piece of module state: libc, loaded once on first use. Loading is not policy.
let bound: Bound | undefined;

function bind(): Bound {
  if (bound) return bound;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  koffi.alias('vfiokit_ssize_t', 'intptr_t');
  // Variadic C functions (open, ioctl, fcntl) get fixed prototypes: with integer and pointer
  // arguments the x86_64 and AArch64 Linux calling conventions pass them as for a fixed call, and
  // a fixed prototype is the fast path in koffi (docs/NODE.md).
  bound = {
    koffi,
    open: lib.func('int open(const char *path, int flags, unsigned int mode)'),
    close: lib.func('int close(int fd)'),
    ioctl: lib.func('ioctl', 'int', ['int', 'unsigned long', 'void *']),
    ioctlValue: lib.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
    mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
    munmap: lib.func('int munmap(void *addr, size_t length)'),
    pread: lib.func('vfiokit_ssize_t pread(int fd, void *buf, size_t count, int64_t offset)'),
    pwrite: lib.func('vfiokit_ssize_t pwrite(int fd, void *buf, size_t count, int64_t offset)'),
    read: lib.func('vfiokit_ssize_t read(int fd, void *buf, size_t count)'),
    write: lib.func('vfiokit_ssize_t write(int fd, void *buf, size_t count)'),
    readlink: lib.func('vfiokit_ssize_t readlink(const char *path, void *buf, size_t size)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    tgkill: lib.func('int tgkill(int tgid, int tid, int sig)'),
    epoll_create1: lib.func('int epoll_create1(int flags)'),
    epoll_ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
    epoll_wait: lib.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    ftruncate: lib.func('int ftruncate(int fd, int64_t length)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
  };
  return bound;
}

const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** The Libc over the real C library. Nothing loads until a method is called. */
export function realLibc(): Libc {
  return {
    open(path, flags, mode) { const b = bind(); const r = b.open(path, flags, mode) as number; return r === -1 ? -b.koffi.errno() : r; },
    close(fd) { const b = bind(); const r = b.close(fd) as number; return r === -1 ? -b.koffi.errno() : r; },
    ioctl(fd, request, arg) { const b = bind(); const r = b.ioctl(fd, request, arg) as number; return r === -1 ? -b.koffi.errno() : r; },
    ioctlValue(fd, request, value) { const b = bind(); const r = b.ioctlValue(fd, request, value) as number; return r === -1 ? -b.koffi.errno() : r; },
    // errno in the callback is the pool thread's after the call: koffi (since 3.2) saves it there
    // and restores it around the callback (docs/NODE.md), so it is read on the callback's first line.
    ioctlAsync(fd, request, arg) {
      const b = bind();
      return new Promise((resolve, reject) => {
        (b.ioctl as unknown as AsyncFn).async(fd, request, arg, (err, r) => {
          if (err) { reject(err); return; }
          resolve(r === -1 ? -b.koffi.errno() : (r as number));
        });
      });
    },
    mmap(addr, length, prot, flags, fd, offset) {
      const b = bind();
      const r = b.mmap(addr === 0n ? null : addr, length, prot, flags, fd, offset) as bigint | null;
      if (r === null || BigInt(r) === MAP_FAILED) return -BigInt(b.koffi.errno());
      return BigInt(r);
    },
    munmap(addr, length) { const b = bind(); const r = b.munmap(addr, length) as number; return r === -1 ? -b.koffi.errno() : r; },
    pread(fd, buf, count, offset) { const b = bind(); const r = Number(b.pread(fd, buf, count, offset)); return r === -1 ? -b.koffi.errno() : r; },
    pwrite(fd, buf, count, offset) { const b = bind(); const r = Number(b.pwrite(fd, buf, count, offset)); return r === -1 ? -b.koffi.errno() : r; },
    read(fd, buf, count) { const b = bind(); const r = Number(b.read(fd, buf, count)); return r === -1 ? -b.koffi.errno() : r; },
    write(fd, buf, count) { const b = bind(); const r = Number(b.write(fd, buf, count)); return r === -1 ? -b.koffi.errno() : r; },
    readlink(path, buf, size) { const b = bind(); const r = Number(b.readlink(path, buf, size)); return r === -1 ? -b.koffi.errno() : r; },
    eventfd(initval, flags) { const b = bind(); const r = b.eventfd(initval, flags) as number; return r === -1 ? -b.koffi.errno() : r; },
    tgkill(tgid, tid, sig) { const b = bind(); const r = b.tgkill(tgid, tid, sig) as number; return r === -1 ? -b.koffi.errno() : r; },
    epoll_create1(flags) { const b = bind(); const r = b.epoll_create1(flags) as number; return r === -1 ? -b.koffi.errno() : r; },
    epoll_ctl(epfd, op, fd, event) { const b = bind(); const r = b.epoll_ctl(epfd, op, fd, event) as number; return r === -1 ? -b.koffi.errno() : r; },
    epoll_wait(epfd, events, maxevents, timeoutMs) { const b = bind(); const r = b.epoll_wait(epfd, events, maxevents, timeoutMs) as number; return r === -1 ? -b.koffi.errno() : r; },
    poll(fds, nfds, timeoutMs) { const b = bind(); const r = b.poll(fds, nfds, timeoutMs) as number; return r === -1 ? -b.koffi.errno() : r; },
    memfd_create(name, flags) { const b = bind(); const r = b.memfd_create(name, flags) as number; return r === -1 ? -b.koffi.errno() : r; },
    ftruncate(fd, length) { const b = bind(); const r = b.ftruncate(fd, length) as number; return r === -1 ? -b.koffi.errno() : r; },
    fcntl(fd, cmd, arg) { const b = bind(); const r = b.fcntl(fd, cmd, arg) as number; return r === -1 ? -b.koffi.errno() : r; },
    view(addr, len) { return bind().koffi.view(addr, len); },
    watchReadable(fd, onReadable) {
      const h = bind().koffi.node.poll(fd, { readable: true }, () => onReadable());
      return { close: () => h.close() };
    },
  };
}
