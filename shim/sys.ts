// The checked layer: the Libc calls with every -errno turned into a VfioError that keeps errno,
// its name, the syscall (for an ioctl, its uapi name: "ioctl(VFIO_GROUP_GET_STATUS)") and a kind
// from the errno table. One method per system call; it does what the call does and nothing else.
// Not responsible for: retrying (EINTR is reported, not retried), owning fds or mappings (src/
// does), adding the device or region to messages (src/ does), struct layouts.
import { VfioError } from './error.js';
import { EAGAIN, errnoEntry } from './errno.js';
import { ioctlName } from './ioctl.js';
import { realLibc, type Libc } from './libc.js';
import { setU64, u32, u64 } from './bytes.js';
import { badArgument, checkBigU64, checkBytes, checkFd, checkFn, checkInt, checkString } from './args.js';

/** Builds the VfioError for a failed call. `call` names the syscall as it appears in messages. */
export function syscallError(call: string, errno: number, detail?: string): VfioError {
  const e = errnoEntry(errno);
  // VfioError appends "(syscall: ENAME)", so an ioctl leads with its bare uapi name here.
  const lead = /^ioctl\((.*)\)$/.exec(call)?.[1] ?? call;
  return new VfioError({
    kind: e.kind, errno, errnoName: e.name, syscall: call,
    message: `${lead}${detail ? ` ${detail}` : ''} failed: ${e.text}`,
    ...(e.hint === undefined ? {} : { hint: e.hint }),
  });
}

/** Refuses a struct whose leading u32 length (VFIO argsz, iommufd size) exceeds its buffer: the
 *  kernel trusts that length for what it reads and writes (a region info's capability chain, say). */
export function argszFits(call: string, buf: Uint8Array): void {
  fits(call, buf, 4, 'the leading length field');
  fits(call, buf, u32(buf, 0), 'an argsz');
}

/** ioctl with a struct led by its own u32 length (VFIO argsz, iommufd size), checked to fit first
 *  (the call's name is built only for the error). */
export function argszIoctl(sys: Sys, fd: number, request: number, buf: Uint8Array, name: string): number {
  if (!(buf && buf.byteLength >= 4 && u32(buf, 0) <= buf.byteLength)) argszFits(`ioctl(${name})`, buf);
  return sys.ioctl(fd, request, buf, name);
}

/** What a zero-copy mapping needs from the shim: the mmap family only (src/mapping.ts's Mapping
 *  takes this, so a test can map through less than a whole Sys). */
export interface MappingSys {
  /** mmap(NULL, len, prot, flags, fd, offset): the address. */
  mmap(len: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  /** munmap(2). */
  munmap(addr: bigint, len: bigint): void;
  /** An ArrayBuffer over `len` bytes at `addr` (no copy). */
  view(addr: bigint, len: number): ArrayBuffer;
}
/** Watches fd for readability on the event loop; the returned handle stops and frees the watch
 *  (src/eventfd/dispatcher.ts's IrqDispatcher takes one). */
export type WatchFn = (fd: number, onReadable: () => void) => { close(): void };
/** Reads the 8-byte eventfd counter; returns 0 when nothing was pending (EAGAIN on a non-blocking fd). */
export type ReadCounterFn = (fd: number) => bigint;

/** The system calls a VMM makes on fds and memory of its own (its KVM fds, eventfds, guest RAM):
 *  the part of Sys published as `vfiokit/sys`'s HostSys (src/sys-api.ts). Each throws a VfioError
 *  with errno, its name and the call (for an ioctl, the `name` given). Nothing here owns anything. */
export interface HostSys {
  /** open(2): the new fd. */
  open(path: string, flags: number, mode?: number): number;
  /** close(2). The fd is gone even when this throws (Linux releases it anyway). */
  close(fd: number): void;
  /** ioctl with a struct (or string) buffer the kernel reads and/or fills in place. Returns the
   *  kernel's non-negative result (a new fd for VFIO_GROUP_GET_DEVICE_FD, KVM_CREATE_DEVICE...).
   *  A buffer shorter than the size the request number names is refused before the call. */
  ioctl(fd: number, request: number, arg: Uint8Array | null, name?: string): number;
  /** ioctl on a libuv thread-pool thread, for a call that blocks (KVM_RUN) while the event loop
   *  goes on: the same checks and errors as ioctl (errno kept). `arg` must stay untouched until
   *  the promise settles; each pending call holds one of libuv's threads (4 by default). */
  ioctlAsync(fd: number, request: number, arg: Uint8Array | null, name?: string): Promise<number>;
  /** ioctl with an integer argument passed by value. */
  ioctlValue(fd: number, request: number, value: number | bigint, name?: string): number;
  /** mmap(NULL, len, prot, flags, fd, offset): the address (fd -1 with MAP_ANONYMOUS). */
  mmap(len: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  /** munmap(2). Drop every view of the range first: touching one afterwards is SIGSEGV. */
  munmap(addr: bigint, len: bigint): void;
  /** A zero-copy ArrayBuffer over `len` bytes at `addr` (no copy; no syscall), valid until the
   *  memory is unmapped; about 2 us to make (docs/NODE.md). */
  view(addr: bigint, len: number): ArrayBuffer;
  /** eventfd2(2): the new eventfd. */
  eventfd(initval: number, flags: number): number;
  /** Reads the 8-byte counter of an eventfd; 0n when nothing was pending (EAGAIN on a non-blocking fd). */
  eventfdRead(fd: number): bigint;
  /** Adds `value` to the counter of an eventfd. */
  eventfdWrite(fd: number, value: bigint): void;
  /** Calls `onReadable` on Node's event loop whenever `fd` is readable (koffi.node.poll), until
   *  close(); the IRQ dispatcher's WatchFn. */
  watch: WatchFn;
  /** tgkill(2) in this process: signal `sig` to its thread `tid` (a thread blocked in KVM_RUN
   *  returns EINTR when the signal has a handler: how a VMM gets a vCPU out of the guest). */
  tgkill(tid: number, sig: number): void;
}

/**
 * The checked syscall layer vfiokit runs on: one method per system call, each turning the C
 * library's -errno into a VfioError that keeps `errno`, `errnoName`, `syscall` and the errno
 * table's kind and hint. {@link createSys} builds it over the real C library or a fake (tests).
 * It owns nothing: the fds and mappings it returns are the caller's to close.
 */
export interface Sys extends HostSys, MappingSys {
  /** The unchecked C library calls underneath (each returns -errno). */
  readonly libc: Libc;
  /** pread into buf (all of it unless count is given): bytes read (short reads are returned, not
   *  retried). The offset may be a number when it is exact (below 2^53). */
  pread(fd: number, buf: Uint8Array, offset: bigint | number, count?: number): number;
  /** pwrite from buf (all of it unless count is given): bytes written (short writes are returned, not retried). */
  pwrite(fd: number, buf: Uint8Array, offset: bigint | number, count?: number): number;
  /** read(2) into buf: bytes read. */
  read(fd: number, buf: Uint8Array, count?: number): number;
  /** write(2) from buf: bytes written. */
  write(fd: number, buf: Uint8Array, count?: number): number;
  /** epoll_create1(2): the new epoll fd. */
  epollCreate1(flags: number): number;
  /** epoll_ctl(2) with a struct epoll_event (or null for EPOLL_CTL_DEL). */
  epollCtl(epfd: number, op: number, fd: number, event: Uint8Array | null): void;
  /** Fills `events` (maxevents = its length / SIZEOF_EPOLL_EVENT); returns how many are ready. */
  epollWait(epfd: number, events: Uint8Array, maxevents: number, timeoutMs: number): number;
  /** poll over `nfds` struct pollfd in `fds`; returns how many have revents. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /** memfd_create(2): the new memfd. */
  memfdCreate(name: string, flags: number): number;
  /** ftruncate(2). */
  ftruncate(fd: number, length: bigint): void;
  /** fcntl(2) with an integer argument: its result. */
  fcntl(fd: number, cmd: number, arg?: number): number;
  /** ReadCounterFn for the IRQ dispatcher: eventfdRead. */
  readCounter: ReadCounterFn;
}

/** The kernel writes (or reads) through these pointers: a length beyond the JS buffer would let it
 *  touch memory that is not the buffer's. Refused before the call, as kind bad-argument. */
function fits(call: string, buf: Uint8Array | null, need: number, what: string): void {
  const have = buf?.byteLength ?? 0;
  if (!Number.isSafeInteger(need) || need < 0 || need > have) {
    throw new VfioError({ kind: 'bad-argument', syscall: call, message: `${call}: ${what} of ${need} bytes does not fit the ${have}-byte buffer`, hint: 'pass a buffer at least as large as the length' });
  }
}

/** The size field of an _IOR/_IOW/_IOWR request (asm-generic: 14 bits at 16), 0 for _IO. */
function requestSize(request: number): number {
  return Math.floor(request / 2 ** 30) === 0 ? 0 : Math.floor(request / 2 ** 16) & 0x3fff;
}

/** -errno -> VfioError. `detail` may be a function: hot paths (pread/pwrite) build their message
 *  only when the call failed. */
function check(call: string, r: number, detail?: string | (() => string)): number {
  if (r < 0) throw syscallError(call, -r, typeof detail === 'function' ? detail() : detail);
  return r;
}

/** The checked layer over `libc` (realLibc() in production, a fake in tests). */
export function createSys(libc: Libc): Sys {
  const counter = new Uint8Array(8);
  const sys: Sys = {
    libc,
    open: (path, flags, mode = 0) => check('open', libc.open(path, flags, mode), path),
    close: (fd) => { check('close', libc.close(fd), `fd ${fd}`); },
    // The ioctl's name goes into a string only when the call fails (DMA maps are hot).
    ioctl(fd, request, arg, name) {
      const size = requestSize(request);
      if (size > 0 && !((arg?.byteLength ?? 0) >= size)) fits(`ioctl(${name ?? ioctlName(request)})`, arg, size, 'the struct the request number names');
      const r = libc.ioctl(fd, request, arg);
      if (r < 0) throw syscallError(`ioctl(${name ?? ioctlName(request)})`, -r, `on fd ${fd}`);
      return r;
    },
    async ioctlAsync(fd, request, arg, name) {
      const size = requestSize(request);
      if (size > 0 && !((arg?.byteLength ?? 0) >= size)) fits(`ioctl(${name ?? ioctlName(request)})`, arg, size, 'the struct the request number names');
      const r = await libc.ioctlAsync(fd, request, arg);
      if (r < 0) throw syscallError(`ioctl(${name ?? ioctlName(request)})`, -r, `on fd ${fd}`);
      return r;
    },
    ioctlValue(fd, request, value, name) {
      const r = libc.ioctlValue(fd, request, value);
      if (r < 0) throw syscallError(`ioctl(${name ?? ioctlName(request)})`, -r, `on fd ${fd}`);
      return r;
    },
    mmap(len, prot, flags, fd, offset) {
      const r = libc.mmap(0n, len, prot, flags, fd, offset);
      if (r < 0n) throw syscallError('mmap', Number(-r), `of ${len} bytes at offset 0x${offset.toString(16)} of fd ${fd}`);
      return r;
    },
    munmap: (addr, len) => { check('munmap', libc.munmap(addr, len), `of ${len} bytes at 0x${addr.toString(16)}`); },
    view: (addr, len) => libc.view(addr, len),
    // pread/pwrite are the trap path's calls: nothing is allocated unless they fail.
    pread(fd, buf, offset, count = buf.byteLength) {
      fits('pread', buf, count, 'a count');
      const r = libc.pread(fd, buf, count, offset);
      if (r < 0) throw syscallError('pread', -r, `of fd ${fd} at 0x${offset.toString(16)}`);
      return r;
    },
    pwrite(fd, buf, offset, count = buf.byteLength) {
      fits('pwrite', buf, count, 'a count');
      const r = libc.pwrite(fd, buf, count, offset);
      if (r < 0) throw syscallError('pwrite', -r, `of fd ${fd} at 0x${offset.toString(16)}`);
      return r;
    },
    read(fd, buf, count = buf.byteLength) { fits('read', buf, count, 'a count'); return check('read', libc.read(fd, buf, count), `of fd ${fd}`); },
    write(fd, buf, count = buf.byteLength) { fits('write', buf, count, 'a count'); return check('write', libc.write(fd, buf, count), `of fd ${fd}`); },
    eventfd: (initval, flags) => check('eventfd', libc.eventfd(initval, flags)),
    tgkill(tid, sig) { check('tgkill', libc.tgkill(process.pid, tid, sig), `of thread ${tid}`); },
    eventfdRead(fd) {
      const r = libc.read(fd, counter, 8);
      if (r === -EAGAIN) return 0n;
      if (r < 0) throw syscallError('read', -r, `of eventfd ${fd}`);
      return u64(counter, 0);
    },
    eventfdWrite(fd, value) {
      setU64(counter, 0, value);
      const r = libc.write(fd, counter, 8);
      if (r < 0) throw syscallError('write', -r, `of eventfd ${fd}`);
    },
    epollCreate1: (flags) => check('epoll_create1', libc.epoll_create1(flags)),
    epollCtl: (epfd, op, fd, event) => { check('epoll_ctl', libc.epoll_ctl(epfd, op, fd, event), `of fd ${fd} on epoll fd ${epfd}`); },
    epollWait: (epfd, events, maxevents, timeoutMs) => check('epoll_wait', libc.epoll_wait(epfd, events, maxevents, timeoutMs), `on epoll fd ${epfd}`),
    poll: (fds, nfds, timeoutMs) => check('poll', libc.poll(fds, nfds, timeoutMs)),
    memfdCreate: (name, flags) => check('memfd_create', libc.memfd_create(name, flags), name),
    ftruncate: (fd, length) => { check('ftruncate', libc.ftruncate(fd, length), `of fd ${fd}`); },
    fcntl: (fd, cmd, arg = 0) => check('fcntl', libc.fcntl(fd, cmd, arg), `of fd ${fd}`),
    watch: (fd, onReadable) => libc.watchReadable(fd, onReadable),
    readCounter: (fd) => sys.eventfdRead(fd),
  };
  return sys;
}

/** An ioctl request number: the unsigned long of ioctl(2), as _IOC builds it (32 bits). */
const MAX_REQUEST = 0xffff_ffff;
/** The flags and protection words of open, mmap and eventfd: C ints, never negative in use. */
const MAX_FLAGS = 0x7fff_ffff;

function checkRequest(request: unknown, arg: unknown, name: unknown): void {
  checkInt('request', request, 0, MAX_REQUEST);
  if (arg !== null) checkBytes('arg', arg);
  if (name !== undefined) checkString('name', name);
}

/**
 * HostSys with every argument checked before the call, as the rest of the public API checks
 * its arguments (shim/args.ts): a wrong value throws VfioError 'bad-argument' naming it, never a
 * TypeError from koffi's marshalling (a string fd, a number where mmap takes a bigint) and never
 * a syscall on a value the caller did not mean. `vfiokit/sys`'s hostSys() hands this out; vfiokit's
 * own calls go to the unchecked Sys underneath (their arguments are its own). A few type tests per
 * call, nothing allocated unless one fails.
 */
export function checkedHostSys(sys: HostSys): HostSys {
  return {
    open(path, flags, mode) {
      checkString('path', path); checkInt('flags', flags, 0, MAX_FLAGS);
      if (mode !== undefined) checkInt('mode', mode, 0, 0o7777);
      return sys.open(path, flags, mode);
    },
    close(fd) { checkFd('fd', fd); sys.close(fd); },
    ioctl(fd, request, arg, name) { checkFd('fd', fd); checkRequest(request, arg, name); return sys.ioctl(fd, request, arg, name); },
    // Checked before the promise exists: a wrong argument throws here, like every other call,
    // instead of coming back as a rejection.
    ioctlAsync(fd, request, arg, name) { checkFd('fd', fd); checkRequest(request, arg, name); return sys.ioctlAsync(fd, request, arg, name); },
    ioctlValue(fd, request, value, name) {
      checkFd('fd', fd); checkRequest(request, null, name);
      // The unsigned long of ioctl(2): a safe integer, or a bigint of 64 bits (signed or not).
      if (typeof value === 'bigint' ? value < -(1n << 63n) || value >= 1n << 64n : !Number.isSafeInteger(value)) badArgument('value', value, 'a safe integer or a 64-bit bigint');
      return sys.ioctlValue(fd, request, value, name);
    },
    mmap(len, prot, flags, fd, offset) {
      checkBigU64('len', len); checkInt('prot', prot, 0, MAX_FLAGS); checkInt('flags', flags, 0, MAX_FLAGS);
      checkInt('fd', fd, -1, MAX_FLAGS); checkBigU64('offset', offset);
      return sys.mmap(len, prot, flags, fd, offset);
    },
    munmap(addr, len) { checkBigU64('addr', addr); checkBigU64('len', len); sys.munmap(addr, len); },
    view(addr, len) { checkBigU64('addr', addr); checkInt('len', len); return sys.view(addr, len); },
    eventfd(initval, flags) { checkInt('initval', initval, 0, 0xffff_ffff); checkInt('flags', flags, 0, MAX_FLAGS); return sys.eventfd(initval, flags); },
    eventfdRead(fd) { checkFd('fd', fd); return sys.eventfdRead(fd); },
    eventfdWrite(fd, value) { checkFd('fd', fd); checkBigU64('value', value); sys.eventfdWrite(fd, value); },
    watch(fd, onReadable) { checkFd('fd', fd); checkFn('onReadable', onReadable); return sys.watch(fd, onReadable); },
    tgkill(tid, sig) { checkInt('tid', tid, 1, 0x3fff_ffff); checkInt('sig', sig, 1, 64); sys.tgkill(tid, sig); },
  };
}

let defaultSys: Sys | undefined;
/** The process's checked layer over the real C library, created on first use (koffi loads on the
 *  first call through it). Every default in src/ (openDevice, allocDma, IrqWaiter) is this one Sys,
 *  so per-Sys state (the IRQ dispatcher, the shared containers) is the process's. */
export function processSys(): Sys {
  defaultSys ??= createSys(realLibc());
  return defaultSys;
}
