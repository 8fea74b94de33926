// An IRQ thread: a blocking wait on many eventfds for a thread of its own (a worker_threads
// Worker), as crosvm's IRQ handler thread and QEMU's iothreads wait. wait() blocks the calling
// thread in epoll_wait, then reads each ready eventfd (which resets its counter) and returns what
// fired. Nothing of Node's event loop is on that path, which is why it wakes faster than the
// main-thread IrqDispatcher (bench/irq-dispatch.mjs; docs/BENCH.md has the figures).
// Another thread stops a wait with IrqWaiter.wake(waiter's wakeFd).
// Not responsible for: creating or closing the IRQ eventfds (DeviceIrq.triggerEventfd() makes
// them and disable() closes them: remove() them from the waiter first), what an IRQ means.
import { VfioError } from '../errors.js';
import { processSys, syscallError, type Sys } from '../../shim/sys.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, EPOLL_CLOEXEC, EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_EVENT_DATA_OFFSET, EPOLLIN, SIZEOF_EPOLL_EVENT } from '../../shim/libc.js';
import { EAGAIN, EINTR, errnoEntry } from '../../shim/errno.js';
import { setU32, u32 } from '../../shim/bytes.js';
import { checkFd, checkInt, checkOptObject } from '../../shim/args.js';

const ENOENT = 2, EBADF = 9;

/** Ready eventfds taken from the kernel per epoll_wait; more stay ready for the next wait(). */
export const IRQ_WAITER_MAX_EVENTS = 64;

/** One eventfd that fired: its key (given to add()), its fd, and its counter (how many times it
 *  was signalled since the last read). */
export interface IrqFired {
  /** The key given to add() (the fd itself by default). */
  key: number;
  /** The eventfd that fired. */
  fd: number;
  /** How many times it was signalled since the last read (at least 1n). */
  count: bigint;
}

const closedError = (): VfioError => new VfioError({ kind: 'closed', message: 'the IRQ waiter was closed', hint: 'create a new IrqWaiter' });

/** Options of {@link IrqWaiter}'s constructor (none a VMM needs today). */
export interface IrqWaiterOptions {
  /** @internal The syscall layer (unit tests pass createSys(fakeLibc)); default: the real C library. */
  sys?: Sys;
}

/**
 * An IRQ thread's wait: blocks the calling thread in epoll_wait on many eventfds (the
 * {@link DeviceIrq.triggerEventfd}s of the IRQs it serves), then reads each ready one and returns
 * what fired. Meant for a worker_threads Worker of the VMM's own (nothing of Node's event loop is
 * on the path, so it wakes faster than the main loop's dispatcher); another thread stops a blocked
 * wait with {@link IrqWaiter.wake}. Owns its epoll fd and wake eventfd (close() closes them),
 * never the eventfds it waits on: remove() one before its owner closes it.
 *
 * @example
 * ```ts
 * import { IrqWaiter } from 'vfiokit';
 *
 * // In a Worker: the IRQ eventfd numbers came from the main thread (triggerEventfd()).
 * declare const eventfds: number[];
 * declare let stopping: boolean;
 * const waiter = new IrqWaiter();
 * eventfds.forEach((fd, i) => waiter.add(fd, i));
 * while (!stopping) {
 *   for (const f of waiter.wait()) console.log(`IRQ ${f.key} x${f.count}`); // inject into the guest here
 * }
 * for (const fd of eventfds) waiter.remove(fd);
 * waiter.close();
 * // The main thread stops it with: IrqWaiter.wake(waiter.wakeFd) (the number, passed to it).
 * ```
 */
export class IrqWaiter {
  /** Write to it (IrqWaiter.wake) from any thread to make a blocked wait() return. */
  readonly wakeFd: number;
  /** True when the last wait() returned because of wake(). */
  woken = false;
  #sys: Sys;
  #epfd: number;
  #keys = new Map<number, number>();
  #events = new Uint8Array(SIZEOF_EPOLL_EVENT * IRQ_WAITER_MAX_EVENTS);
  #ev = new Uint8Array(SIZEOF_EPOLL_EVENT);
  // The eventfd counter is a native-endian u64: one BigUint64Array read makes it a bigint.
  #counterBytes = new Uint8Array(8);
  #counter = new BigUint64Array(this.#counterBytes.buffer);
  #fired: IrqFired[] = [];
  #firedPool: IrqFired[] = [];

  /** Opens the epoll fd and the wake eventfd (both closed by close()).
   * Syscalls: epoll_create1, eventfd2, epoll_ctl. Throws VfioError with the errno kind of the one that failed ('syscall' for EMFILE).
   */
  constructor(opts: IrqWaiterOptions = {}) {
    opts = checkOptObject('opts', opts);
    this.#sys = opts.sys ?? processSys();
    this.#epfd = this.#sys.epollCreate1(EPOLL_CLOEXEC);
    try {
      this.wakeFd = this.#sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      const r = this.#ctl(EPOLL_CTL_ADD, this.wakeFd);
      if (r < 0) { this.#sys.close(this.wakeFd); throw syscallError('epoll_ctl', -r, `of the wake eventfd ${this.wakeFd}`); }
    } catch (e) { this.#sys.close(this.#epfd); throw e; }
  }

  /** Makes the wait() of the waiter whose wakeFd this is return (with woken = true). Call it only
   *  while that waiter is open: its owner closes it after its thread stopped waiting.
   * Safe from any thread (a write of 1 to the eventfd). Throws the errno kind of write.
   */
  static wake(wakeFd: number): void;
  /** @internal with the syscall layer of the unit tests */
  static wake(wakeFd: number, sys: Sys): void;
  static wake(wakeFd: number, sys: Sys = processSys()): void { checkFd('wakeFd', wakeFd); sys.eventfdWrite(wakeFd, 1n); }

  /** True once close() has run. */
  get closed(): boolean { return this.#epfd < 0; }
  /** How many eventfds are waited for (the wake eventfd not counted). */
  get size(): number { return this.#keys.size; }

  /** Waits for `fd` (an eventfd) too; wait() reports it with `key`. Throws 'bad-state' for an fd
   *  already added, and the epoll_ctl error (EBADF: not an open fd) with its errno.
   * Also 'closed' after close().
   */
  add(fd: number, key: number = fd): void {
    this.#live();
    checkFd('fd', fd); checkInt('key', key, Number.MIN_SAFE_INTEGER);
    if (this.#keys.has(fd) || fd === this.wakeFd) throw new VfioError({ kind: 'bad-state', message: `eventfd ${fd} is already waited for`, hint: 'remove() it first' });
    const r = this.#ctl(EPOLL_CTL_ADD, fd);
    if (r < 0) {
      const e = errnoEntry(-r);
      throw new VfioError({ kind: e.kind, errno: -r, errnoName: e.name, syscall: 'epoll_ctl', message: `cannot wait for fd ${fd}: ${e.text}`, hint: 'pass an open eventfd (DeviceIrq.triggerEventfd() makes one)' });
    }
    this.#keys.set(fd, key);
  }

  /** Stops waiting for `fd` (which stays open). Unknown fds are ignored. Remove an eventfd before
   *  it is closed: a closed fd's number can be reused by the next open.
   * Throws the epoll_ctl error (other than ENOENT/EBADF: already gone) with its errno.
   */
  remove(fd: number): void {
    checkFd('fd', fd);
    if (this.closed || !this.#keys.delete(fd)) return;
    const r = this.#ctl(EPOLL_CTL_DEL, fd);
    // ENOENT/EBADF: the kernel already dropped it (the fd was closed); nothing is left to undo.
    if (r < 0 && r !== -ENOENT && r !== -EBADF) throw syscallError('epoll_ctl', -r, `of fd ${fd} on epoll fd ${this.#epfd}`);
  }

  /**
   * Blocks until an added eventfd fires, wake() is called, or `timeoutMs` passes (-1: no limit),
   * then returns what fired. The array and its entries are reused by the next wait(). An empty
   * array means a timeout, a wake (woken is true) or a signal (EINTR): check your stop condition
   * and wait again.
   * @throws VfioError 'closed', 'syscall' (epoll_wait or a read failing otherwise than EINTR/EAGAIN).
   */
  wait(timeoutMs = -1): readonly IrqFired[] {
    this.#live();
    checkInt('timeoutMs', timeoutMs, -1, 0x7fff_ffff);
    this.woken = false;
    const fired = this.#fired;
    fired.length = 0;
    const n = this.#sys.libc.epoll_wait(this.#epfd, this.#events, IRQ_WAITER_MAX_EVENTS, timeoutMs);
    if (n === -EINTR) return fired;
    if (n < 0) throw syscallError('epoll_wait', -n, `on epoll fd ${this.#epfd}`);
    for (let i = 0; i < n; i++) {
      const fd = u32(this.#events, i * SIZEOF_EPOLL_EVENT + EPOLL_EVENT_DATA_OFFSET);
      const wake = fd === this.wakeFd;
      const key = wake ? 0 : this.#keys.get(fd);
      if (key === undefined) continue; // removed by an earlier entry's owner
      const r = this.#sys.libc.read(fd, this.#counterBytes, 8);
      if (r !== 8) {
        if (r === -EAGAIN) continue; // another reader took it
        throw syscallError('read', -r, `of eventfd ${fd}`);
      }
      if (wake) { this.woken = true; continue; }
      const count = this.#counter[0]!;
      const f = this.#firedPool[fired.length] ??= { key: 0, fd: 0, count: 0n };
      f.key = key; f.fd = fd; f.count = count;
      fired.push(f);
    }
    return fired;
  }

  /** Closes the epoll fd and the wake eventfd (not the IRQ eventfds). Closing twice is harmless.
   * Call it once no thread waits in it any more.
   */
  close(): void {
    if (this.closed) return;
    const epfd = this.#epfd;
    this.#epfd = -1;
    this.#keys.clear();
    try { this.#sys.close(epfd); } finally { this.#sys.close(this.wakeFd); }
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  #live(): void { if (this.closed) throw closedError(); }

  /** epoll_ctl with the fd as the event's data: 0 or -errno. */
  #ctl(op: number, fd: number): number {
    setU32(this.#ev, 0, EPOLLIN);
    setU32(this.#ev, EPOLL_EVENT_DATA_OFFSET, fd);
    setU32(this.#ev, EPOLL_EVENT_DATA_OFFSET + 4, 0);
    return this.#sys.libc.epoll_ctl(this.#epfd, op, fd, this.#ev);
  }
}
