// One dispatcher for the eventfds of every device: each eventfd is watched on Node's own event
// loop (koffi.node.poll, i.e. uv_poll), so no libuv threadpool thread is held per IRQ and the
// handler runs on the main thread. bench/irq-dispatch.mjs measured the options; docs/DESIGN.md
// has the figures and the choice. On wake-up the eventfd is read (which resets its counter) and
// the handler receives how many times it was signalled since the last read.
// Not responsible for: what an IRQ means (the IRQ machine decides), nor creating eventfds.
import { VfioError } from '../errors.js';
import { ReportThinner, reportNote } from '../reports.js';
import type { ReadCounterFn, WatchFn } from '../../shim/sys.js';

export type { ReadCounterFn, WatchFn };

/** Handles an eventfd's signals: `count` is how many times it was signalled since the last read (at least 1). */
export type IrqHandler = (count: bigint) => void;

interface Entry { handler: IrqHandler; watch: { close(): void }; label: string }

/**
 * Delivers eventfd signals to handlers on the main thread: each eventfd is watched on Node's own
 * event loop (uv_poll through koffi), read when readable (which resets its counter), and its
 * handler called with the count. {@link DeviceIrq.onTrigger} uses the process's one dispatcher;
 * a VMM rarely makes its own. The eventfds stay the caller's: remove() and close() only stop
 * watching. For lower wake-up latency, wait in a thread of your own ({@link IrqWaiter}).
 */
export class IrqDispatcher {
  #watch: WatchFn;
  #readCounter: ReadCounterFn;
  #entries = new Map<number, Entry>();
  #closed = false;
  #defaultErrors = new ReportThinner<[unknown, string]>(([e, label], n) => { console.error(`vfiokit: IRQ handler for ${label} threw${reportNote(n)}:`, e); });
  /** Handler exceptions are not allowed to kill the loop: they are counted and reported here,
   * each one. Default: console.error, thinned as {@link reportShown} says (a handler that throws
   * on every IRQ would otherwise print one per IRQ). Replace it to route them to the VMM's log.
   */
  onHandlerError: (error: unknown, label: string) => void = (e, label) => { this.#defaultErrors.report([e, label]); };
  /** How many handler calls have thrown since the dispatcher was made. */
  handlerErrors = 0;

  /** `watch` starts watching an fd for readability (the shim's uv_poll), `readCounter` reads an eventfd's counter (0n when nothing is pending). */
  constructor(watch: WatchFn, readCounter: ReadCounterFn) {
    this.#watch = watch;
    this.#readCounter = readCounter;
  }

  /** Starts delivering signals of `fd` to `handler`. One handler per fd.
   * `label` names the fd in error reports. Throws VfioError 'closed', 'bad-state' (the fd has a handler already).
   */
  add(fd: number, handler: IrqHandler, label = `eventfd ${fd}`): void {
    if (this.#closed) throw new VfioError({ kind: 'closed', message: 'the IRQ dispatcher was closed', hint: 'create a new one' });
    if (this.#entries.has(fd)) throw new VfioError({ kind: 'bad-state', message: `${label} already has a handler`, hint: 'remove it first' });
    const entry: Entry = { handler, label, watch: { close() {} } };
    entry.watch = this.#watch(fd, () => this.#fire(fd, entry));
    this.#entries.set(fd, entry);
  }

  #fire(fd: number, entry: Entry): void {
    if (this.#entries.get(fd) !== entry) return;
    const count = this.#readCounter(fd);
    if (count === 0n) return;
    try { entry.handler(count); } catch (e) { this.handlerErrors++; this.onHandlerError(e, entry.label); }
  }

  /** Stops watching fd (the fd itself stays open: its owner closes it). Unknown fds are ignored. */
  remove(fd: number): void {
    const e = this.#entries.get(fd);
    if (!e) return;
    this.#entries.delete(fd);
    e.watch.close();
  }

  /** How many fds are watched. */
  get size(): number { return this.#entries.size; }

  /** Stops watching every fd (they stay open) and refuses add() from then on. Closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [...this.#entries.keys()]) this.remove(fd);
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}
