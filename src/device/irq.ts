// The IRQs of an open device, two ways to take them:
// - direct: `device.irqs[i].onTrigger(handler)`: an eventfd as the index's trigger, watched by
//   the process's one IrqDispatcher; mask()/unmask()/disable() are the VFIO_DEVICE_SET_IRQS calls.
//   `triggerEventfd()` is the same trigger left unwatched, for an IRQ thread (IrqWaiter).
// - routed: `device.routeIrqs({ setLine, onMmap })`: the core's IRQ state machine (IrqMachine)
//   decides, this file carries out its actions (assert/deassert the guest line through the VMM's
//   callback, tell the VMM to disable/enable direct MMIO, Node timers, VFIO mask/unmask/trigger,
//   KVM irqfd). The VMM calls trappedAccess() when the guest touches trapped MMIO (the EOI).
// Close order inside: the index is disabled in the kernel (SET_IRQS count 0) before its eventfds
// are unwatched and closed.
// Not responsible for: the guest's interrupt controller (the VMM's setLine), guest memory slots
// (the VMM's onMmap), deciding anything the IRQ machine decides.
import { VfioError } from '../errors.js';
import { ReportThinner, reportNote } from '../reports.js';
import { IrqDispatcher, type IrqHandler } from '../eventfd/dispatcher.js';
import { IrqMachine, ROUTE_KVM, type IrqAction, type PciIrqMode } from '../core/irq-machine.js';
import { VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX } from '../../shim/uapi/vfio.js';
import type { Sys } from '../../shim/sys.js';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../../shim/libc.js';
import { KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE, encodeKvmIrqfd } from '../../shim/uapi/kvm.js';
import * as vfio from '../../shim/vfio.js';
import * as kvm from '../../shim/kvm.js';
import { ctx, rethrowWithContext, Teardown } from './context.js';
import { encodeIrqSet, type IrqSetRequest } from '../vfio/encode.js';
import { checkBigU64, checkFd, checkFn, checkInt, checkInts, checkOptBool, checkOptObject } from '../../shim/args.js';
import type { DeviceKindFacts } from './kinds.js';

/** The VFIO index of each PCI interrupt mode (none: no index is enabled). */
const PCI_MODE_INDEX: Record<PciIrqMode, number | undefined> = { none: undefined, intx: 0, msi: 1, msix: 2 };

const dispatchers = new WeakMap<Sys, IrqDispatcher>();
/** The process's one dispatcher (per Sys: tests with a fake libc get their own). */
export function dispatcherFor(sys: Sys): IrqDispatcher {
  let d = dispatchers.get(sys);
  if (!d) { d = new IrqDispatcher(sys.watch, sys.readCounter); dispatchers.set(sys, d); }
  return d;
}

/** Options of {@link DeviceIrq.triggerEventfd}. */
export interface TriggerEventfdOptions {
  /** Make the eventfd blocking, for an {@link IrqReader} (a thread blocked in a plain read);
   *  default false: non-blocking, for an {@link IrqWaiter} or any poll. */
  blocking?: boolean;
}

/** What an IRQ needs from its device. */
export interface IrqOwner {
  readonly name: string;
  readonly sys: Sys;
  liveFd(): number;
}

function newEventfd(owner: IrqOwner, blocking = false): number {
  return ctx(owner.name, () => owner.sys.eventfd(0, EFD_CLOEXEC | (blocking ? 0 : EFD_NONBLOCK)), { message: 'cannot create an eventfd' });
}

/** VFIO_DEVICE_SET_IRQS with a request encoded by the core. */
function setIrqs(owner: IrqOwner, req: IrqSetRequest, what: string): void {
  setIrqsEncoded(owner, encoded(owner, req), req.index, what);
}

/** A request encoded once, for a struct that never changes for its line (mask, unmask, disable,
 *  a trigger to an eventfd the line keeps): the kernel only reads it. */
function encoded(owner: IrqOwner, req: IrqSetRequest): Uint8Array {
  return ctx(owner.name, () => encodeIrqSet(req));
}

/** VFIO_DEVICE_SET_IRQS with a struct encoded earlier (the message is built only on failure). */
function setIrqsEncoded(owner: IrqOwner, bytes: Uint8Array, index: number, what: string): void {
  try { vfio.deviceSetIrqs(owner.sys, owner.liveFd(), bytes); } catch (e) {
    rethrowWithContext(e, owner.name, { message: () => `cannot ${what} IRQ ${index}` });
  }
}

/**
 * One IRQ index of an open device (a platform interrupt line; for PCI: INTx, MSI, MSI-X, ERR,
 * REQ), taken directly: onTrigger() delivers it to a handler on the main thread, triggerEventfd()
 * hands its eventfd to an IRQ thread ({@link IrqWaiter}); mask()/unmask()/disable() are the
 * VFIO_DEVICE_SET_IRQS calls. For the guest-facing semantics (level lines, EOI, KVM irqfd) route
 * the device's IRQs instead ({@link VfioDevice.routeIrqs}). Built by {@link openDevice}; the
 * device's close() disables it.
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 *
 * const dev = openDevice('9010000.pl031');
 * const irq = dev.irqs[0];
 * if (irq?.ok && irq.eventfdCapable) {
 *   irq.onTrigger((count) => {
 *     console.log(`${irq.name} fired ${count} time(s)`);
 *     if (irq.level) irq.unmask(); // VFIO masked the level line on delivery
 *   });
 * }
 * // ... later
 * dev.close(); // disables the index and closes its eventfd
 * ```
 */
export class DeviceIrq {
  /** The kernel's IRQ index (for PCI, VFIO_PCI_INTX_IRQ_INDEX..VFIO_PCI_REQ_IRQ_INDEX). */
  readonly index: number;
  /** "INTX".."REQ" for PCI, "irq0".. for platform/AMBA devices. */
  readonly name: string;
  /** vfio_irq_info.flags: VFIO_IRQ_INFO_EVENTFD, _MASKABLE, _AUTOMASKED, _NORESIZE (see the getters). */
  readonly flags: number;
  /** Vectors in this index (1 for a platform line and INTx; 0 when the device has none here). */
  readonly count: number;
  #owner: IrqOwner;
  #efd = -1;
  /** Set while the routed mode (IrqRouting) owns this index. @internal */
  routed = false;

  /** @internal built by VfioDevice */
  static of(owner: IrqOwner, index: number, name: string, flags: number, count: number, error?: VfioError | (() => VfioError)): DeviceIrq {
    return new DeviceIrq(owner, index, name, flags, count, error);
  }
  private constructor(owner: IrqOwner, index: number, name: string, flags: number, count: number, error?: VfioError | (() => VfioError)) {
    this.#owner = owner; this.index = index; this.name = name; this.flags = flags; this.count = count; this.#error = error;
  }

  /** False when the kernel would not describe this index (vfio-pci's ERR/REQ on a conventional
   *  PCI function) or its reply was malformed; `error` says why, count is 0. */
  get ok(): boolean { return this.#error === undefined; }
  /** Why the index is unusable (built on first read when the kernel simply refused the query). */
  get error(): VfioError | undefined { if (typeof this.#error === 'function') this.#error = this.#error(); return this.#error; }
  #error: VfioError | (() => VfioError) | undefined;

  /** Level-triggered: VFIO masks it on delivery (VFIO_IRQ_INFO_AUTOMASKED) until unmask(). */
  get level(): boolean { return (this.flags & VFIO_IRQ_INFO_AUTOMASKED) !== 0; }
  /** VFIO_IRQ_INFO_MASKABLE: mask() and unmask() work on it. */
  get maskable(): boolean { return (this.flags & VFIO_IRQ_INFO_MASKABLE) !== 0; }
  /** VFIO_IRQ_INFO_EVENTFD: it can signal an eventfd (onTrigger, triggerEventfd, routing). */
  get eventfdCapable(): boolean { return (this.flags & VFIO_IRQ_INFO_EVENTFD) !== 0; }
  /** The trigger eventfd while onTrigger or triggerEventfd is active, else undefined. */
  get eventfd(): number | undefined { return this.#efd >= 0 ? this.#efd : undefined; }

  /**
   * Delivers vector 0 of this index to `handler` (on the main thread, with how many times it
   * fired since the last call): an eventfd becomes the trigger (SET_IRQS DATA_EVENTFD |
   * ACTION_TRIGGER) and the process's dispatcher watches it. A level line stays masked after
   * each delivery until unmask(). Replaces an earlier handler. Throws 'not-supported' for an
   * index without VFIO_IRQ_INFO_EVENTFD, 'bad-state' while routeIrqs() owns it.
   * Syscalls: eventfd2, VFIO_DEVICE_SET_IRQS; the eventfd is read on each wake-up.
   * @param handler - Called with the eventfd's counter (how many signals since the last call);
   *   an exception it throws is counted and logged by the dispatcher, never thrown into the loop.
   * @throws VfioError 'closed', 'bad-state' (routed), 'not-found' (an index the kernel would not
   *   describe), 'not-supported', and the errno kinds of eventfd2 and VFIO_DEVICE_SET_IRQS.
   */
  onTrigger(handler: IrqHandler): void { checkFn('handler', handler); this.#arm(handler); }

  /**
   * Sets an eventfd as the trigger of vector 0, as onTrigger does, but watches it nowhere and
   * returns it: for an IRQ thread of the VMM's own (an IrqWaiter in a worker_threads Worker,
   * which wakes faster than the main thread's event loop; or, with `{ blocking: true }`, an
   * IrqReader: one IRQ on its own thread, blocked in a plain read, the fastest wake-up). The fd is
   * a process-wide number that any thread can wait on; it stays this index's until disable() (or
   * the device's close()), which closes it: remove it from the waiter (or stop the reader) first.
   * Same errors as onTrigger, and 'bad-argument' for opts.
   * @example
   * ```ts
   * import { openDevice, IrqWaiter } from 'vfiokit';
   *
   * const dev = openDevice('9010000.pl031');
   * const efd = dev.irqs[0]!.triggerEventfd();
   * const waiter = new IrqWaiter(); // in an IRQ thread of the VMM's (a Worker), usually
   * waiter.add(efd, 0);
   * for (const f of waiter.wait(1000)) console.log(`IRQ key ${f.key} fired ${f.count}x`);
   * waiter.remove(efd); // before the eventfd closes
   * waiter.close();
   * dev.close();
   * ```
   */
  triggerEventfd(opts: TriggerEventfdOptions = {}): number {
    opts = checkOptObject('opts', opts);
    return this.#arm(null, checkOptBool('opts.blocking', opts.blocking) ?? false);
  }

  #arm(handler: IrqHandler | null, blocking = false): number {
    this.#owner.liveFd();
    if (this.routed) throw new VfioError({ kind: 'bad-state', device: this.#owner.name, message: `IRQ ${this.index} (${this.name}) is routed through the IRQ machine`, hint: 'close the routing first' });
    if (!this.ok) throw new VfioError({ kind: 'not-found', device: this.#owner.name, message: `IRQ ${this.index} (${this.name}) could not be read from the kernel: ${this.error!.message}`, hint: 'this index is unusable; the others are fine' });
    if (!this.eventfdCapable || this.count === 0) throw new VfioError({ kind: 'not-supported', device: this.#owner.name, message: `IRQ ${this.index} (${this.name}) cannot signal an eventfd (flags 0x${this.flags.toString(16)}, count ${this.count})`, hint: 'pick an index with VFIO_IRQ_INFO_EVENTFD' });
    if (this.#efd >= 0) this.disable();
    const efd = newEventfd(this.#owner, blocking);
    try {
      setIrqs(this.#owner, { index: this.index, action: 'trigger', fds: [efd] }, 'set the eventfd trigger of');
      if (handler) dispatcherFor(this.#owner.sys).add(efd, handler, `${this.#owner.name} IRQ ${this.index}`);
    } catch (e) {
      try { this.#owner.sys.close(efd); } catch { /* report the first error */ }
      throw e;
    }
    this.#efd = efd;
    return efd;
  }

  // The mask and unmask structs never change for an index: encoded on first use, then reused.
  #maskReq: Uint8Array | undefined;
  #unmaskReq: Uint8Array | undefined;
  /** VFIO_IRQ_SET_ACTION_MASK of vector 0.
   * @throws VfioError 'closed', and the errno kinds of VFIO_DEVICE_SET_IRQS (EINVAL: not maskable).
   */
  mask(): void { setIrqsEncoded(this.#owner, this.#maskReq ??= encoded(this.#owner, { index: this.index, action: 'mask', count: 1 }), this.index, 'mask'); }
  /** VFIO_IRQ_SET_ACTION_UNMASK of vector 0 (after a level line's delivery).
   * @throws VfioError 'closed', and the errno kinds of VFIO_DEVICE_SET_IRQS.
   */
  unmask(): void { setIrqsEncoded(this.#owner, this.#unmaskReq ??= encoded(this.#owner, { index: this.index, action: 'unmask', count: 1 }), this.index, 'unmask'); }

  /** Disables the index in the kernel (SET_IRQS count 0), then unwatches and closes the eventfd.
   *  Harmless when nothing is set; after the device closed it only releases what is left.
   * @throws VfioError the first failure (SET_IRQS, close), after every step has run.
   */
  disable(): void {
    if (this.#efd < 0) return;
    const efd = this.#efd;
    this.#efd = -1;
    const t = new Teardown();
    t.step(() => setIrqs(this.#owner, { index: this.index, action: 'trigger', count: 0 }, 'disable'));
    t.step(() => dispatcherFor(this.#owner.sys).remove(efd));
    t.step(() => this.#owner.sys.close(efd));
    t.finish();
  }
}

/** vfio-pci's two signalling indexes that are not interrupts of the device: the kernel's
 *  request to have the device back (REQ) and an AER error report (ERR). */
export type PciEventIndex = typeof VFIO_PCI_ERR_IRQ_INDEX | typeof VFIO_PCI_REQ_IRQ_INDEX;

/** The DeviceIrq behind {@link VfioDevice.onRequest} / {@link VfioDevice.onError}, or a
 *  'not-supported' error that says why the kernel does not offer it on this device (`pci`: the
 *  device's kind has vfio-pci's signalling indexes, DeviceKindFacts.eventIrqs).
 *  @internal */
export function pciEventIrq(owner: IrqOwner, pci: boolean, irqs: readonly DeviceIrq[], index: PciEventIndex): DeviceIrq {
  const what = index === VFIO_PCI_REQ_IRQ_INDEX ? 'device request (REQ)' : 'error (ERR)';
  const q = pci ? irqs[index] : undefined;
  if (!q || !q.ok || q.count === 0 || !q.eventfdCapable) {
    throw new VfioError({
      kind: 'not-supported', device: owner.name,
      message: !pci ? `is not a PCI device: only vfio-pci offers the ${what} IRQ`
        : `offers no ${what} IRQ (index ${index}${q?.error ? `: ${q.error.message}` : q ? `, count ${q.count}` : ': absent'})`,
      hint: index === VFIO_PCI_ERR_IRQ_INDEX
        ? 'vfio-pci offers ERR only on a PCI Express function with AER (CONFIG_PCIEAER and an AER capability); without it, errors are not reported to userspace'
        : 'vfio-pci offers REQ on every PCI function it binds; check that the device is bound to vfio-pci',
    });
  }
  return q;
}

/** What {@link VfioDevice.routeIrqs} needs from the VMM: `setLine` (the guest's interrupt controller) and, for the MMIO fast path, `onMmap`; the rest tunes and observes. */
export interface IrqRoutingOptions {
  /** Raise (true) or lower (false) the guest's line for VFIO IRQ `index`. */
  setLine(index: number, level: boolean): void;
  /** Direct MMIO must stop (false: every guest access must trap, so the EOI is seen) or may
   *  resume (true). The VMM owns the guest's memory slots. */
  onMmap?(enabled: boolean): void;
  /** How long after the last EOI direct MMIO stays off (default: the core's 1.1 s, QEMU's). */
  timeoutNs?: bigint;
  /** Which indexes to route (default: every index with VFIO_IRQ_INFO_EVENTFD and count >= 1;
   *  PCI: INTx only). */
  indexes?: number[];
  /** Every action carried out, in order (for logging and tests). */
  onAction?(action: IrqAction): void;
  /** Errors while carrying out actions from an event callback, each one (default: console.error,
   *  thinned as {@link reportShown} says, since a guest's actions can cause one per access). */
  onError?(error: unknown): void;
  /** The clock in ns (default process.hrtime.bigint). */
  now?(): bigint;
}

/** The options' fields, each checked before anything is set up (they are called from event
 *  callbacks later, where a wrong one could only be reported, not refused). @internal */
export function checkRoutingOptions(opts: IrqRoutingOptions): void {
  checkFn('opts.setLine', opts.setLine);
  for (const k of ['onMmap', 'onAction', 'onError', 'now'] as const) if (opts[k] !== undefined) checkFn(`opts.${k}`, opts[k]);
  if (opts.timeoutNs !== undefined) checkBigU64('opts.timeoutNs', opts.timeoutNs);
  if (opts.indexes !== undefined) checkInts('opts.indexes', opts.indexes);
}

/** A routed line: its eventfds, its KVM wiring, and its VFIO_DEVICE_SET_IRQS structs, encoded once
 *  (mask, unmask, disable and the unmask-fd detach when the line is routed; each trigger and the
 *  resample unmask-fd when its eventfd is made), so that no event encodes anything. */
interface Line {
  index: number; userFd: number; irqfd: number; resampleFd: number; vmFd: number; gsi: number;
  req: { mask: Uint8Array; unmask: Uint8Array; disable: Uint8Array; unmaskFdNone: Uint8Array; triggerUser?: Uint8Array; triggerKvm?: Uint8Array; unmaskFdResample?: Uint8Array };
}

function lineRequests(owner: IrqOwner, index: number): Line['req'] {
  return {
    mask: encoded(owner, { index, action: 'mask', count: 1 }),
    unmask: encoded(owner, { index, action: 'unmask', count: 1 }),
    disable: encoded(owner, { index, action: 'trigger', count: 0 }),
    unmaskFdNone: encoded(owner, { index, action: 'unmask', fds: [-1] }),
  };
}

/** What a PCI passthrough (src/pci/) hands {@link IrqRouting.of}: the first interrupt mode, and the
 *  room that carries out the machine's ENABLE_INDEX / DISABLE_INDEX of MSI and MSI-X (their
 *  per-vector eventfds are its own; INTx stays this routing's). @internal */
export interface PciVectorHost {
  /** The mode to start in: 'intx' (the function's INTx routed here) or 'none'. */
  readonly initialMode: 'intx' | 'none';
  /** ENABLE_INDEX of MSI or MSI-X: triggers for vectors [from, count) (from > 0: grown in place). */
  enable(index: number, count: number, from: number): void;
  /** DISABLE_INDEX of MSI or MSI-X has run (the kernel dropped every trigger of the index). */
  disabled(index: number): void;
}

/** Lines to wire to KVM as the routing starts, before any userspace eventfd is their trigger (so
 *  that a line already asserted in the device cannot reach userspace first): the VM fd and the
 *  GSI per IRQ index. @internal */
export interface RoutingWire { vmFd: number; gsis: ReadonlyMap<number, number> }

/**
 * The routed mode: one IrqMachine for the device, lines declared from the kernel's IRQ info,
 * every event's actions carried out in order. close() (or the device's close) disables the
 * indexes in the kernel, then closes the eventfds, cancels the timer and frees the machine.
 */
export class IrqRouting {
  /** The device's IRQ state machine (read its lines' states; don't drive it: the routing does). */
  readonly machine: IrqMachine;
  #owner: IrqOwner;
  #irqs: readonly DeviceIrq[];
  #opts: IrqRoutingOptions;
  #lines = new Map<number, Line>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** The default onError: console.error, thinned (a guest's actions can cause one per access). */
  #defaultErrors = new ReportThinner<unknown>((x, n) => console.error(`vfiokit: ${this.#owner.name}: IRQ routing${reportNote(n)}:`, x));
  #now: () => bigint;
  #vectors: PciVectorHost | undefined;
  /** The machine has PCI's interrupt modes (one VFIO index enabled at a time). */
  #pciModes: boolean;
  /** Vectors enabled per MSI/MSI-X index (what the next in-place ENABLE_INDEX grows from). */
  #enabled = new Map<number, number>();

  /** @internal use device.routeIrqs() (`kind`: the device kind's row, kinds.ts; `wire`: lines wired to KVM from the start; `vectors`: a PCI passthrough's MSI/MSI-X room) */
  static of(owner: IrqOwner, irqs: readonly DeviceIrq[], kind: DeviceKindFacts, opts: IrqRoutingOptions, wire?: RoutingWire, vectors?: PciVectorHost): IrqRouting { return new IrqRouting(owner, irqs, kind, opts, wire, vectors); }
  private constructor(owner: IrqOwner, irqs: readonly DeviceIrq[], kind: DeviceKindFacts, opts: IrqRoutingOptions, wire?: RoutingWire, vectors?: PciVectorHost) {
    this.#owner = owner; this.#irqs = irqs; this.#opts = opts; this.#vectors = vectors; this.#pciModes = kind.machine === 'pci';
    this.#now = opts.now ?? (() => process.hrtime.bigint());
    const indexes = opts.indexes ?? (kind.routedLines === 'intx' ? [0] : irqs.filter((q) => q.eventfdCapable && q.count >= 1).map((q) => q.index));
    for (const i of indexes) {
      const q = irqs[i];
      if (!q) throw new VfioError({ kind: 'not-found', device: owner.name, message: `the device has no IRQ index ${i}`, hint: `indexes are 0..${irqs.length - 1}` });
      if (q.routed || q.eventfd !== undefined) throw new VfioError({ kind: 'bad-state', device: owner.name, message: `IRQ ${i} (${q.name}) already has a handler`, hint: 'disable() it or close the other routing first' });
    }
    this.machine = new IrqMachine(kind.machine, { device: owner.name, timeoutNs: opts.timeoutNs });
    try {
      for (const i of indexes) this.machine.declareLine(i, irqs[i]!.flags, irqs[i]!.count);
      this.machine.start();
      for (const i of indexes) { irqs[i]!.routed = true; this.#lines.set(i, { index: i, userFd: -1, irqfd: -1, resampleFd: -1, vmFd: -1, gsi: 0, req: lineRequests(owner, i) }); }
      if (kind.routedLines === 'intx') { const mode = vectors?.initialMode ?? 'intx'; if (mode !== 'none') this.#run(this.machine.setPciMode(mode)); }
      else for (const i of indexes) if (!wire?.gsis.has(i)) this.#enable(i, 1);
      for (const [i, gsi] of wire?.gsis ?? []) this.#wire(i, wire!.vmFd, gsi);
    } catch (e) {
      try { this.close(); } catch { /* report the first error */ }
      throw e;
    }
  }

  /** True once close() has run. */
  get closed(): boolean { return this.#closed; }

  /** The guest touched trapped MMIO of the device (for an ACTIVE line: its EOI).
   * Call it from the VMM's MMIO exit for every guest access to the device's registers while
   * direct MMIO is off (onMmap(false)).
   * @throws VfioError 'closed', and the errno kinds of the VFIO calls the machine's actions make.
   */
  trappedAccess(): void { this.#live(); this.#run(this.machine.trappedAccess(this.#now())); }

  /**
   * Routes IRQ `index` to KVM: an irqfd eventfd (and for a level line a resample eventfd, so that
   * KVM's EOI unmasks in VFIO) assigned with KVM_IRQFD on `vmFd` at `gsi`, through the machine's
   * wire steps. A signal pending on the userspace eventfd is fed to the machine first; a line
   * that is asserted and not yet EOI'd cannot be wired ('bad-state').
   * @param index - A routed IRQ index.
   * @param vmFd - The KVM VM fd (KVM_CREATE_VM), owned by the VMM.
   * @param gsi - The guest interrupt number KVM injects (on arm64 with a vGIC: the SPI's INTID - 32).
   * @throws VfioError 'closed', 'not-found' (not routed), 'bad-state', and the errno kinds of
   *   eventfd2, KVM_IRQFD ('syscall' EINVAL: no in-kernel interrupt controller) and SET_IRQS.
   */
  wireIrqfd(index: number, vmFd: number, gsi: number): void {
    this.#live();
    checkInt('index', index); checkFd('vmFd', vmFd); checkInt('gsi', gsi, 0, 0xffff_ffff);
    this.#wire(index, vmFd, gsi);
  }

  #wire(index: number, vmFd: number, gsi: number): void {
    const line = this.#line(index);
    if (line.userFd >= 0) {
      const n = this.#owner.sys.eventfdRead(line.userFd);
      if (n > 0n) this.#run(this.machine.fire(index, this.#now()));
    }
    const level = this.#irqs[index]!.level;
    line.irqfd = newEventfd(this.#owner);
    if (level) line.resampleFd = newEventfd(this.#owner);
    line.vmFd = vmFd; line.gsi = gsi;
    try {
      line.req.triggerKvm = encoded(this.#owner, { index, action: 'trigger', fds: [line.irqfd] });
      line.req.unmaskFdResample = level ? encoded(this.#owner, { index, action: 'unmask', fds: [line.resampleFd] }) : undefined;
      this.#run(this.machine.wire(index));
    } catch (e) {
      if (this.machine.line(index).state !== 'wired') this.#closeKvmFds(line);
      throw e;
    }
  }

  /**
   * PCI: switches the interrupt mode through the machine (the old mode off first: INTx is
   * disabled, and its irqfd deassigned, before MSI or MSI-X is enabled) and carries out its
   * actions; the MSI/MSI-X ones go to the passthrough's vector room. An INTx irqfd the switch
   * deassigned has its eventfds closed (wireIrqfd makes new ones).
   * @internal the PCI passthrough's */
  setPciMode(mode: PciIrqMode, count: number): void {
    this.#live();
    try {
      this.#run(this.machine.setPciMode(mode, count));
    } finally {
      const intx = this.#lines.get(0);
      if (intx && intx.irqfd >= 0 && this.machine.line(0).state !== 'wired') this.#closeKvmFds(intx);
    }
  }

  /** Routes IRQ `index` back to userspace delivery and closes its irqfd eventfds.
   * @throws VfioError 'closed', 'not-found' (not routed), 'bad-state', the errno kinds of KVM_IRQFD and SET_IRQS.
   */
  unwireIrqfd(index: number): void {
    this.#live();
    checkInt('index', index);
    const line = this.#line(index);
    this.#run(this.machine.unwire(index));
    this.#closeKvmFds(line);
  }

  #closeKvmFds(line: Line): void {
    for (const fd of [line.irqfd, line.resampleFd]) if (fd >= 0) { try { this.#owner.sys.close(fd); } catch { /* nothing to do */ } }
    line.irqfd = -1; line.resampleFd = -1; line.vmFd = -1;
    line.req.triggerKvm = undefined; line.req.unmaskFdResample = undefined;
  }

  #line(index: number): Line {
    const l = this.#lines.get(index);
    if (!l) throw new VfioError({ kind: 'not-found', device: this.#owner.name, message: `IRQ ${index} is not routed`, hint: `routed indexes: ${[...this.#lines.keys()].join(', ') || 'none'}` });
    return l;
  }

  #live(): void {
    if (this.#closed) throw new VfioError({ kind: 'closed', device: this.#owner.name, message: 'the IRQ routing was closed', hint: 'call device.routeIrqs() again' });
    this.#owner.liveFd();
  }

  /** Enables vectors [0, count) of `index` with userspace eventfds as triggers. */
  #enable(index: number, count: number): void {
    const line = this.#line(index);
    if (count !== 1) throw new VfioError({ kind: 'not-supported', device: this.#owner.name, message: `routing ${count} vectors of IRQ ${index} through the userspace machine`, hint: 'route MSI/MSI-X vectors to KVM irqfds directly' });
    setIrqsEncoded(this.#owner, this.#triggerUser(line), index, 'set the eventfd trigger of');
  }

  /** The request that makes the line's userspace eventfd its trigger; the eventfd is made (and
   *  watched) on first use: a line wired from the start has none until it is unwired. */
  #triggerUser(line: Line): Uint8Array {
    if (line.userFd < 0) {
      const index = line.index;
      line.userFd = newEventfd(this.#owner);
      line.req.triggerUser = encoded(this.#owner, { index, action: 'trigger', fds: [line.userFd] });
      dispatcherFor(this.#owner.sys).add(line.userFd, () => this.#event(() => this.machine.fire(index, this.#now())), `${this.#owner.name} IRQ ${index} (routed)`);
    }
    return line.req.triggerUser!;
  }

  /** An event from a callback (eventfd, timer): errors go to onError, never up the event loop. */
  #event(f: () => IrqAction[]): void {
    if (this.#closed) return;
    try { this.#run(f()); } catch (e) { if (this.#opts.onError) this.#opts.onError(e); else this.#defaultErrors.report(e); }
  }

  #run(actions: IrqAction[]): void {
    for (const a of actions) {
      this.#opts.onAction?.(a);
      this.#do(a);
    }
  }

  #do(a: IrqAction): void {
    const o = this.#owner;
    switch (a.kind) {
      case 'assert-line': this.#opts.setLine(a.index, true); return;
      case 'deassert-line': this.#opts.setLine(a.index, false); return;
      case 'mmap-disable': this.#opts.onMmap?.(false); return;
      case 'mmap-enable': this.#opts.onMmap?.(true); return;
      case 'arm-timer': {
        if (this.#timer) clearTimeout(this.#timer);
        const delayMs = Math.max(0, Number((a.arg - this.#now()) / 1_000_000n)) + 1;
        this.#timer = setTimeout(() => { this.#timer = undefined; this.#event(() => this.machine.timer(this.#now())); }, delayMs);
        this.#timer.unref?.();
        return;
      }
      case 'cancel-timer': if (this.#timer) clearTimeout(this.#timer); this.#timer = undefined; return;
      case 'mask': setIrqsEncoded(o, this.#line(a.index).req.mask, a.index, 'mask'); return;
      case 'unmask': setIrqsEncoded(o, this.#line(a.index).req.unmask, a.index, 'unmask'); return;
      case 'kvm-irqfd-assign': case 'kvm-irqfd-deassign': {
        const l = this.#line(a.index);
        const resample = a.kind === 'kvm-irqfd-assign' && a.arg === 1n;
        const req = encodeKvmIrqfd({
          fd: l.irqfd, gsi: l.gsi, resamplefd: resample ? l.resampleFd : 0,
          flags: a.kind === 'kvm-irqfd-deassign' ? KVM_IRQFD_FLAG_DEASSIGN : resample ? KVM_IRQFD_FLAG_RESAMPLE : 0,
        });
        ctx(o.name, () => kvm.irqfd(o.sys, l.vmFd, req), {
          message: `cannot ${a.kind === 'kvm-irqfd-assign' ? 'assign' : 'deassign'} the irqfd of IRQ ${a.index} at GSI ${l.gsi}`,
          hint: (e) => e.errnoName === 'EINVAL' ? 'the VM needs an in-kernel interrupt controller (on arm64 a vGIC) and a GSI it routes' : e.hint,
        });
        return;
      }
      case 'set-trigger': {
        const l = this.#line(a.index);
        const req = a.arg === ROUTE_KVM ? l.req.triggerKvm ?? encoded(o, { index: a.index, action: 'trigger', fds: [l.irqfd] }) : this.#triggerUser(l);
        setIrqsEncoded(o, req, a.index, 'set the trigger of');
        return;
      }
      case 'set-unmask-fd': {
        const l = this.#line(a.index);
        const req = a.arg === 1n ? l.req.unmaskFdResample ?? encoded(o, { index: a.index, action: 'unmask', fds: [l.resampleFd] }) : l.req.unmaskFdNone;
        setIrqsEncoded(o, req, a.index, 'set the unmask eventfd of');
        return;
      }
      case 'disable-index':
        setIrqsEncoded(o, this.#line(a.index).req.disable, a.index, 'disable');
        if (this.#vectors && a.index !== 0) { this.#enabled.set(a.index, 0); this.#vectors.disabled(a.index); }
        return;
      case 'enable-index':
        if (this.#vectors && a.index !== 0) {
          const count = Number(a.arg), from = this.#enabled.get(a.index) ?? 0;
          this.#vectors.enable(a.index, count, from);
          this.#enabled.set(a.index, count);
        } else this.#enable(a.index, Number(a.arg));
        return;
    }
  }

  /** Disables every routed index in the kernel, then closes its eventfds; cancels the timer and
   *  frees the machine. Closing twice is harmless.
   * @throws VfioError the first failure of a step, after every step has run.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const t = new Teardown();
    // PCI has one interrupt mode at a time, and vfio-pci refuses (EINVAL) to disable an index
    // that is not the current one: only the mode's index is disabled.
    let active: number | undefined;
    if (this.#pciModes) t.step(() => { active = PCI_MODE_INDEX[this.machine.info().pciMode]; });
    for (const line of this.#lines.values()) {
      if (line.irqfd >= 0 && line.vmFd >= 0) {
        t.step(() => { kvm.irqfd(this.#owner.sys, line.vmFd, encodeKvmIrqfd({ fd: line.irqfd, gsi: line.gsi, flags: KVM_IRQFD_FLAG_DEASSIGN })); });
      }
      if (!this.#pciModes || line.index === active) t.step(() => setIrqsEncoded(this.#owner, line.req.disable, line.index, 'disable'));
      if (line.userFd >= 0) {
        const fd = line.userFd;
        t.step(() => dispatcherFor(this.#owner.sys).remove(fd));
        t.step(() => this.#owner.sys.close(fd));
        line.userFd = -1;
      }
      this.#closeKvmFds(line);
      const q = this.#irqs[line.index];
      if (q) q.routed = false;
    }
    t.step(() => this.machine.close());
    t.finish();
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}
