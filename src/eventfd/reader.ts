// An IRQ thread for one IRQ: a plain blocking read() on one blocking eventfd, the cheapest wake-up
// a thread can have (the floor IrqWaiter's epoll_wait sits above: docs/BENCH.md, "IRQ wake-up").
// Another thread stops a read with IrqReader.wake(fd), which adds WAKE_UNIT to the same counter,
// so the woken read tells a wake from the IRQs it carries by the counter's high bits.
// Not responsible for: creating or closing the eventfd (DeviceIrq.triggerEventfd({ blocking: true })
// makes it and disable() closes it), waiting on several eventfds (IrqWaiter), what an IRQ means.
import { VfioError } from '../errors.js';
import { processSys, syscallError, type Sys } from '../../shim/sys.js';
import { F_GETFL, O_NONBLOCK } from '../../shim/libc.js';
import { EINTR, errnoEntry } from '../../shim/errno.js';
import { checkFd, checkOptObject } from '../../shim/args.js';

/** What IrqReader.wake adds to the eventfd's counter. A device signals 1 per interrupt, so the
 *  interrupts between two reads stay below it (2^40: over a trillion) and the counter's maximum
 *  (2^64 - 2) holds 2^24 wakes on top. */
export const IRQ_READER_WAKE_UNIT = 1n << 40n;

const closedError = (): VfioError => new VfioError({ kind: 'closed', message: 'the IRQ reader was closed', hint: 'create a new IrqReader' });

/** Options of {@link IrqReader}'s constructor (none a VMM needs today). */
export interface IrqReaderOptions {
  /** @internal The syscall layer (unit tests pass createSys(fakeLibc)); default: the real C library. */
  sys?: Sys;
}

/**
 * An IRQ thread's wait on one IRQ: blocks the calling thread in a plain read() of one blocking
 * eventfd (made by {@link DeviceIrq.triggerEventfd} with `{ blocking: true }`) and returns how
 * many times it fired. No epoll is involved, so it wakes at the floor of a thread (docs/BENCH.md);
 * for several IRQs on one thread use {@link IrqWaiter}. There is no timeout: another thread stops
 * a blocked wait with {@link IrqReader.wake}. It owns nothing: the eventfd stays its IRQ's.
 *
 * @example
 * ```ts
 * import { IrqReader } from 'vfiokit';
 *
 * // In a Worker: the eventfd came from the main thread (irq.triggerEventfd({ blocking: true })).
 * declare const efd: number;
 * const reader = new IrqReader(efd);
 * for (;;) {
 *   const n = reader.wait(); // blocks
 *   if (n > 0n) console.log(`IRQ x${n}`); // inject into the guest here
 *   if (reader.woken) break;
 * }
 * reader.close();
 * // The main thread stops it with: IrqReader.wake(efd), then disables the IRQ once it stopped.
 * ```
 */
export class IrqReader {
  /** The eventfd read. */
  readonly fd: number;
  /** True when the last wait() returned because of wake() (it may carry IRQs too). */
  woken = false;
  #sys: Sys;
  #closed = false;
  // The eventfd counter is a native-endian u64: one BigUint64Array read makes it a bigint.
  #counterBytes = new Uint8Array(8);
  #counter = new BigUint64Array(this.#counterBytes.buffer);

  /** Checks that `fd` is open and blocking (fcntl F_GETFL). Throws VfioError 'bad-argument' for a
   *  non-blocking fd (a read would return EAGAIN at once) and the errno kind of fcntl (EBADF). */
  constructor(fd: number, opts: IrqReaderOptions = {}) {
    checkFd('fd', fd);
    opts = checkOptObject('opts', opts);
    this.#sys = opts.sys ?? processSys();
    const r = this.#sys.libc.fcntl(fd, F_GETFL, 0);
    if (r < 0) {
      const e = errnoEntry(-r);
      throw new VfioError({ kind: e.kind, errno: -r, errnoName: e.name, syscall: 'fcntl', message: `cannot read the flags of fd ${fd}: ${e.text}`, hint: 'pass an open eventfd (DeviceIrq.triggerEventfd({ blocking: true }) makes one)' });
    }
    if (r & O_NONBLOCK) throw new VfioError({ kind: 'bad-argument', message: `fd ${fd} is non-blocking: a read would not wait`, hint: 'make the eventfd with triggerEventfd({ blocking: true }), or use an IrqWaiter' });
    this.fd = fd;
  }

  /** Makes the blocked wait() of the reader of `fd` return (with woken = true). Safe from any
   *  thread (a write of IRQ_READER_WAKE_UNIT to the eventfd); call it only while the eventfd is
   *  open. Throws the errno kind of write.
   */
  static wake(fd: number): void;
  /** @internal with the syscall layer of the unit tests */
  static wake(fd: number, sys: Sys): void;
  static wake(fd: number, sys: Sys = processSys()): void { checkFd('fd', fd); sys.eventfdWrite(fd, IRQ_READER_WAKE_UNIT); }

  /** True once close() has run. */
  get closed(): boolean { return this.#closed; }

  /**
   * Blocks in read() until the eventfd fires or wake() is called, then returns how many times it
   * fired since the last read (0n: only a wake, woken is true; or a signal, EINTR: check your stop
   * condition and wait again).
   * @throws VfioError 'closed', 'syscall' (the read failing otherwise than EINTR).
   */
  wait(): bigint {
    if (this.#closed) throw closedError();
    this.woken = false;
    const r = this.#sys.libc.read(this.fd, this.#counterBytes, 8);
    if (r === -EINTR) return 0n;
    if (r !== 8) throw syscallError('read', r < 0 ? -r : 5 /* EIO: a short read */, `of eventfd ${this.fd}`);
    const count = this.#counter[0]!;
    if (count < IRQ_READER_WAKE_UNIT) return count;
    this.woken = true;
    return count % IRQ_READER_WAKE_UNIT;
  }

  /** Ends the reader (the eventfd stays open: its IRQ owns it). Closing twice is harmless. */
  close(): void { this.#closed = true; }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}
