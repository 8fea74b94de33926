// The checked layer: the Libc calls with every -errno turned into a VfioError that keeps errno,
// its name, the syscall (for an ioctl, its uapi name: "ioctl(VFIO_GROUP_GET_STATUS)") and a kind
// from the errno table. One method per system call; it does what the call does and nothing else.
// Not responsible for: retrying (EINTR is reported, not retried), owning fds or mappings (src/
// does), adding the device or region to messages (src/ does), struct layouts.
import { VfioError } from '../src/errors';
import type { MappingSys } from '../src/mapping';
import type { ReadCounterFn, WatchFn } from '../src/irq/dispatcher';
import { EAGAIN, errnoEntry } from './errno';
import { ioctlName } from './ioctl';
import type { Libc } from './libc';

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

export interface Sys extends MappingSys {
  readonly libc: Libc;
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  /** ioctl with a struct (or string) buffer the kernel reads and/or fills in place. Returns the
   *  kernel's non-negative result (a new fd for VFIO_GROUP_GET_DEVICE_FD, KVM_CREATE_DEVICE...). */
  ioctl(fd: number, request: number, arg: Uint8Array | null, name?: string): number;
  /** ioctl with an integer argument passed by value. */
  ioctlValue(fd: number, request: number, value: number | bigint, name?: string): number;
  /** mmap(NULL, len, prot, flags, fd, offset): the address. */
  mmap(len: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  munmap(addr: bigint, len: bigint): void;
  view(addr: bigint, len: number): ArrayBuffer;
  /** pread into buf (all of it unless count is given): bytes read (short reads are returned, not retried). */
  pread(fd: number, buf: Uint8Array, offset: bigint, count?: number): number;
  pwrite(fd: number, buf: Uint8Array, offset: bigint, count?: number): number;
  read(fd: number, buf: Uint8Array, count?: number): number;
  write(fd: number, buf: Uint8Array, count?: number): number;
  eventfd(initval: number, flags: number): number;
  /** Reads the 8-byte counter of an eventfd; 0n when nothing was pending (EAGAIN on a non-blocking fd). */
  eventfdRead(fd: number): bigint;
  /** Adds `value` to the counter of an eventfd. */
  eventfdWrite(fd: number, value: bigint): void;
  epollCreate1(flags: number): number;
  epollCtl(epfd: number, op: number, fd: number, event: Uint8Array | null): void;
  /** Fills `events` (maxevents = its length / SIZEOF_EPOLL_EVENT); returns how many are ready. */
  epollWait(epfd: number, events: Uint8Array, maxevents: number, timeoutMs: number): number;
  /** poll over `nfds` struct pollfd in `fds`; returns how many have revents. */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, length: bigint): void;
  fcntl(fd: number, cmd: number, arg?: number): number;
  /** WatchFn for the IRQ dispatcher: koffi.node.poll on Node's loop. */
  watch: WatchFn;
  /** ReadCounterFn for the IRQ dispatcher: eventfdRead. */
  readCounter: ReadCounterFn;
}

function check(call: string, r: number, detail?: string): number {
  if (r < 0) throw syscallError(call, -r, detail);
  return r;
}

/** The checked layer over `libc` (realLibc() in production, a fake in tests). */
export function createSys(libc: Libc): Sys {
  const counter = new Uint8Array(8);
  const counterView = new DataView(counter.buffer); // a private 8-byte buffer, not a device register
  const sys: Sys = {
    libc,
    open: (path, flags, mode = 0) => check('open', libc.open(path, flags, mode), path),
    close: (fd) => { check('close', libc.close(fd), `fd ${fd}`); },
    ioctl: (fd, request, arg, name = ioctlName(request)) => check(`ioctl(${name})`, libc.ioctl(fd, request, arg), `on fd ${fd}`),
    ioctlValue: (fd, request, value, name = ioctlName(request)) => check(`ioctl(${name})`, libc.ioctlValue(fd, request, value), `on fd ${fd}`),
    mmap(len, prot, flags, fd, offset) {
      const r = libc.mmap(0n, len, prot, flags, fd, offset);
      if (r < 0n) throw syscallError('mmap', Number(-r), `of ${len} bytes at offset 0x${offset.toString(16)} of fd ${fd}`);
      return r;
    },
    munmap: (addr, len) => { check('munmap', libc.munmap(addr, len), `of ${len} bytes at 0x${addr.toString(16)}`); },
    view: (addr, len) => libc.view(addr, len),
    pread: (fd, buf, offset, count = buf.byteLength) => check('pread', libc.pread(fd, buf, count, offset), `of fd ${fd} at 0x${offset.toString(16)}`),
    pwrite: (fd, buf, offset, count = buf.byteLength) => check('pwrite', libc.pwrite(fd, buf, count, offset), `of fd ${fd} at 0x${offset.toString(16)}`),
    read: (fd, buf, count = buf.byteLength) => check('read', libc.read(fd, buf, count), `of fd ${fd}`),
    write: (fd, buf, count = buf.byteLength) => check('write', libc.write(fd, buf, count), `of fd ${fd}`),
    eventfd: (initval, flags) => check('eventfd', libc.eventfd(initval, flags)),
    eventfdRead(fd) {
      const r = libc.read(fd, counter, 8);
      if (r === -EAGAIN) return 0n;
      check('read', r, `of eventfd ${fd}`);
      return counterView.getBigUint64(0, true);
    },
    eventfdWrite(fd, value) {
      counterView.setBigUint64(0, BigInt.asUintN(64, value), true);
      check('write', libc.write(fd, counter, 8), `of eventfd ${fd}`);
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
