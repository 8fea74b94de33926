// One dispatcher for the eventfds of every device: each eventfd is watched on Node's own event
// loop (koffi.node.poll, i.e. uv_poll), so no libuv threadpool thread is held per IRQ and the
// handler runs on the main thread. bench/irq-dispatch.mjs measured the options; docs/DESIGN.md
// has the figures and the choice. On wake-up the eventfd is read (which resets its counter) and
// the handler receives how many times it was signalled since the last read.
// Not responsible for: what an IRQ means (the IRQ machine decides), nor creating eventfds.
import { VfioError } from '../errors.js';
import type { ReadCounterFn, WatchFn } from '../../shim/sys.js';

export type { ReadCounterFn, WatchFn };

export type IrqHandler = (count: bigint) => void;

interface Entry { handler: IrqHandler; watch: { close(): void }; label: string }

export class IrqDispatcher {
  #watch: WatchFn;
  #readCounter: ReadCounterFn;
  #entries = new Map<number, Entry>();
  #closed = false;
  /** Handler exceptions are not allowed to kill the loop: they are counted and reported here. */
  onHandlerError: (error: unknown, label: string) => void = (e, label) => { console.error(`vfiokit: IRQ handler for ${label} threw:`, e); };
  handlerErrors = 0;

  constructor(watch: WatchFn, readCounter: ReadCounterFn) {
    this.#watch = watch;
    this.#readCounter = readCounter;
  }

  /** Starts delivering signals of `fd` to `handler`. One handler per fd. */
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

  get size(): number { return this.#entries.size; }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [...this.#entries.keys()]) this.remove(fd);
  }
  [Symbol.dispose](): void { this.close(); }
}
