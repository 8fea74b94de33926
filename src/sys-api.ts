// `vfiokit/sys`: the system calls a VMM makes on fds and memory of its own (its KVM fds, its
// eventfds, its guest RAM), through the same checked layer vfiokit uses: every failure is a
// VfioError with errno, its name and the call. A small set on purpose: what a VMM beside
// vfiokit needs and JavaScript cannot do (ioctl, mmap, a zero-copy view, eventfds, watching an fd
// on Node's loop), and the _IOC helpers to compute its own ioctl numbers. Nothing here owns
// anything: what the caller opens or maps, the caller closes or unmaps.
// test/unit/api/exports.test.ts pins every name below; docs/API.md says why it is an entry point
// of its own.
import { processSys } from './device/context.js';

/** The system calls of `vfiokit/sys`. Each throws a VfioError (kind from the errno, errno and its
 *  name kept, the call named: for an ioctl, the `name` given). */
export interface HostSys {
  /** open(2): the new fd. */
  open(path: string, flags: number, mode?: number): number;
  /** close(2). The fd is gone even when this throws (Linux releases it anyway). */
  close(fd: number): void;
  /** ioctl(2) with a struct (or no) argument that the kernel reads and/or fills in place; the
   *  kernel's non-negative result (a new fd for KVM_CREATE_VCPU, ...). A buffer shorter than
   *  the size the request number names is refused before the call (kind 'bad-argument'). */
  ioctl(fd: number, request: number, arg: Uint8Array | null, name?: string): number;
  /** ioctl(2) on a libuv thread-pool thread, for a call that blocks (KVM_RUN) while the event
   *  loop goes on; errno is kept as for ioctl. `arg` must stay untouched until it settles. Each
   *  pending call holds one of libuv's threads (four unless UV_THREADPOOL_SIZE says otherwise). */
  ioctlAsync(fd: number, request: number, arg: Uint8Array | null, name?: string): Promise<number>;
  /** ioctl(2) with an integer argument passed by value. */
  ioctlValue(fd: number, request: number, value: number | bigint, name?: string): number;
  /** mmap(NULL, len, prot, flags, fd, offset): the address (fd -1 with MAP_ANONYMOUS). */
  mmap(len: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  /** munmap(2). Drop every view of the range first: touching one afterwards is SIGSEGV. */
  munmap(addr: bigint, len: bigint): void;
  /** A zero-copy ArrayBuffer over `len` bytes at `addr` (a mapping of the caller's). About 2 us
   *  to make: make one per mapping (docs/NODE.md). */
  view(addr: bigint, len: number): ArrayBuffer;
  /** eventfd(2): the new fd. */
  eventfd(initval: number, flags: number): number;
  /** Reads an eventfd's counter (resetting it); 0n when nothing was pending on a non-blocking one. */
  eventfdRead(fd: number): bigint;
  /** Adds `value` to an eventfd's counter. */
  eventfdWrite(fd: number, value: bigint): void;
  /** Calls `onReadable` on Node's event loop whenever `fd` is readable, until close(). */
  watch(fd: number, onReadable: () => void): { close(): void };
}

/** The process's checked system-call layer over the C library: the one openDevice uses. */
export function hostSys(): HostSys { return processSys(); }

export { O_RDWR, O_CLOEXEC, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, EFD_NONBLOCK, EFD_CLOEXEC } from '../shim/libc.js';
export { _IO, _IOR, _IOW, _IOWR } from '../shim/ioctl.js';
