// IrqMachine: the TypeScript face of the core's IRQ state machine (assembly/irq/machine.ts, whose
// header holds the state table). One per passed-through device. Each event returns the ordered
// actions the caller must carry out (assert a guest line, unmap MMIO, VFIO unmask, arm a timer...).
// Not responsible for: carrying the actions out; eventfds, ioctls and timers belong to the device
// layer, which feeds the events back here.
//
// Time: every `now` is a bigint of NANOSECONDS on one monotonic clock (process.hrtime.bigint()).
// An ARM_TIMER action's `arg` is an absolute deadline on that clock; the device has one timer and
// arming replaces it.

import { bindExports, core, type Core, type CoreFn } from './loader.js';
import { VfioError } from '../errors.js';
import { checkStatus } from './status.js';

import { VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_NORESIZE } from '../vfio/uapi.js';
import { badArgument, checkBigU64, checkInt, checkObject, checkOneOf, checkOptObject, checkString } from '../../shim/args.js';
/** struct vfio_irq_info flags, defined once in src/vfio/uapi.ts (re-exported for this module's users). */
export { VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_NORESIZE };
/** Flags of a level-triggered line as vfio-platform reports it (flags 0x7 in the lab's pl031). */
export const LEVEL_FLAGS = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
/** Flags of an edge-triggered line as vfio-platform reports it. */
export const EDGE_FLAGS = VFIO_IRQ_INFO_EVENTFD;

/** Action kinds, by their code in the core's 16-byte record (docs/irq-machine.md). */
export const ACTION_KINDS = [
  undefined, 'assert-line', 'deassert-line', 'mmap-disable', 'mmap-enable', 'arm-timer',
  'cancel-timer', 'mask', 'unmask', 'kvm-irqfd-assign', 'kvm-irqfd-deassign', 'set-trigger',
  'set-unmask-fd', 'disable-index', 'enable-index',
] as const;
/** The name of an {@link IrqAction}'s step; docs/irq-machine.md's table says what the host does for each. */
export type IrqActionKind = Exclude<(typeof ACTION_KINDS)[number], undefined>;

/** set-trigger's argument: which eventfd becomes the line's trigger. */
export const ROUTE_USER = 0n;
/** set-trigger's argument for the KVM irqfd eventfd ({@link ROUTE_USER}: the userspace one). */
export const ROUTE_KVM = 1n;

/** One step for the host. `arg`: arm-timer deadline (ns); kvm-irqfd-assign 1n = with resamplefd;
 *  set-trigger ROUTE_USER/ROUTE_KVM; set-unmask-fd 1n = the resamplefd, 0n = clear; enable-index
 *  the vector count; 0n otherwise. */
export interface IrqAction {
  /** What to do. */
  readonly kind: IrqActionKind;
  /** The VFIO IRQ index the step is for. */
  readonly index: number;
  /** The step's argument (see above); 0n when it has none. */
  readonly arg: bigint;
}

/** Which rules an {@link IrqMachine} follows: vfio-platform's (one line per index, any index) or PCI's (INTx, MSI, MSI-X modes). */
export type DeviceKind = 'platform' | 'pci';
/** A PCI device's interrupt mode ({@link IrqMachine.setPciMode}). */
export type PciIrqMode = 'none' | 'intx' | 'msi' | 'msix';
/** A line's state: 'inactive', 'pending' (queued behind the active line), 'active' (asserted, awaiting its EOI), 'active-pending' (an edge line fired again while active), 'wired' (routed to a KVM irqfd). */
export type LineState = 'inactive' | 'pending' | 'active' | 'active-pending' | 'wired';
/** The device's state: 'config' (declaring lines), 'idle-mapped' (direct MMIO on), 'idle-trapped' (MMIO trapped, waiting for the timer), 'busy' (a line is active). */
export type MachineState = 'config' | 'idle-mapped' | 'idle-trapped' | 'busy';

/** A line's state and counters, from {@link IrqMachine.line}. */
export interface LineInfo {
  /** The line's state. */
  state: LineState;
  /** Events fed by fire(). */
  fires: bigint;
  /** Times the line was asserted to the guest. */
  delivered: bigint;
  /** Fires merged into one already pending (or into an active level line). */
  coalesced: bigint;
  /** EOIs taken (trapped accesses while the line was active). */
  eois: bigint;
  /** Unmask actions issued (level lines). */
  unmasks: bigint;
  /** Fires that could not be delivered (e.g. while wired, or in a PCI mode other than INTx). */
  dropped: bigint;
  /** The vfio_irq_info flags the line was declared with. */
  flags: number;
  /** Vectors declared (1 for a platform line and INTx). */
  count: number;
}

/** The device-level state, from {@link IrqMachine.info}. */
export interface MachineInfo {
  /** The device's state. */
  state: MachineState;
  /** Direct MMIO is on (the VMM's guest mapping of the registers is in place). */
  mapped: boolean;
  /** The device's timer is armed (see `deadline`). */
  timerArmed: boolean;
  /** The armed timer's deadline (ns, on the host's clock); meaningless when not armed. */
  deadline: bigint;
  /** The ACTIVE line, or undefined. */
  active: number | undefined;
  /** Lines pending behind the active one. */
  queueLength: number;
  /** PCI: the current interrupt mode ('none' for a platform device). */
  pciMode: PciIrqMode;
  /** PCI: vectors enabled in that mode. */
  pciCount: number;
  /** How long direct MMIO stays off after the last EOI (ns; default 1.1 s, QEMU's). */
  timeoutNs: bigint;
}

const LINE_STATES: readonly (LineState | undefined)[] = [undefined, 'inactive', 'pending', 'active', 'active-pending', 'wired'];
const MACHINE_STATES: readonly (MachineState | undefined)[] = [undefined, 'config', 'idle-mapped', 'idle-trapped', 'busy'];
const PCI_MODES: readonly PciIrqMode[] = ['none', 'intx', 'msi', 'msix'];
const KINDS: readonly DeviceKind[] = ['platform', 'pci'];

/** Bytes of one action record and the most actions an event yields (assembly/irq/machine.ts). */
export const ACTION_SIZE = 16;
const MAX_ACTIONS_PER_EVENT = 16;
const OUT_CAP = ACTION_SIZE * MAX_ACTIONS_PER_EVENT;

const IRQ_EXPORTS = [
  'create', 'free', 'set_timeout', 'declare_line', 'start', 'fire', 'trapped_access', 'timer', 'wire', 'unwire',
  'pci_set_mode', 'line_info', 'machine_info',
] as const;
type IrqExports = Readonly<Record<(typeof IRQ_EXPORTS)[number], CoreFn>>;

let bound: { c: Core; x: IrqExports; out: number; u32: Uint32Array; u64: BigUint64Array } | undefined;
function exportsOf(): NonNullable<typeof bound> {
  if (bound) return bound;
  const c = core();
  const x = bindExports(c, 'irq_', IRQ_EXPORTS);
  // The action buffer: the start of the transient half of scratch (docs/ABI.md). IRQ events take
  // no input in scratch, and nothing is kept there between calls.
  const out = c.transientPtr;
  bound = { c, x, out, u32: new Uint32Array(c.u8.buffer), u64: new BigUint64Array(c.u8.buffer) };
  return bound;
}

/** Reads `n` 16-byte action records at `ptr` (16-aligned, little-endian like Wasm memory). */
function readActions(u32: Uint32Array, u64: BigUint64Array, ptr: number, n: number): IrqAction[] {
  const out: IrqAction[] = [];
  for (let i = 0; i < n; i++) {
    const p = ptr + i * ACTION_SIZE;
    const code = u32[p >>> 2]!;
    const kind = ACTION_KINDS[code];
    if (kind === undefined) throw new VfioError({ kind: 'core-bug', message: `the IRQ machine returned unknown action ${code}`, hint: 'this is a bug in vfiokit; please report it' });
    out.push({ kind, index: u32[(p + 4) >>> 2]!, arg: u64[(p + 8) >>> 3]! });
  }
  return out;
}

/** A device's IRQ machine. Declare its lines, start(), then feed events; close() frees it. */
/**
 * The core's IRQ state machine for one device (docs/irq-machine.md has the rules): the host
 * feeds it events (a line's eventfd fired, the guest touched trapped MMIO, the timer expired,
 * wire/unwire to KVM) and carries out the {@link IrqAction}s it returns, in order. It touches no
 * fd, clock or guest: {@link IrqRouting} is the host that does, for a {@link VfioDevice}.
 * Times are nanoseconds on one monotonic clock (process.hrtime.bigint()); an earlier `now` than
 * the last event's is refused. Holds a slot of the core (64 at most) until close().
 *
 * Errors: VfioError 'bad-state' (an event in the wrong state: before start(), a wired line, no
 * timer armed, INTx off), 'not-found' (an undeclared index), 'bad-argument' (declared twice,
 * bad flags or count, time going backwards), 'not-supported' (a call for the other device
 * kind), 'no-space' (64 machines in use), 'closed', 'core-bug'.
 *
 * @example
 * ```ts
 * import { IrqMachine } from 'vfiokit/core';
 *
 * using m = new IrqMachine('platform', { device: 'pl031' });
 * m.declareLine(0, { level: true });
 * m.start();
 * const t0 = process.hrtime.bigint();
 * console.log(m.fire(0, t0).map((a) => a.kind));               // ['mmap-disable', 'assert-line']
 * console.log(m.trappedAccess(t0 + 1000n).map((a) => a.kind)); // ['deassert-line', 'unmask', 'arm-timer']
 * ```
 */
export class IrqMachine implements Disposable {
  /** The rules this machine follows ('platform' or 'pci'). */
  readonly kind: DeviceKind;
  /** The device name used in error messages, if given. */
  readonly device: string | undefined;
  private handle: number;

  /** Takes a slot in the core's machine table ('no-space' when all MAX_MACHINES are in use).
   * `opts.timeoutNs`: how long direct MMIO stays off after the last EOI (default 1.1 s); 'bad-argument' outside 0..2^64-1.
   */
  constructor(kind: DeviceKind, opts: { device?: string; timeoutNs?: bigint } = {}) {
    checkOneOf('kind', kind, KINDS); opts = checkOptObject('opts', opts);
    if (opts.timeoutNs !== undefined) checkBigU64('opts.timeoutNs', opts.timeoutNs);
    if (opts.device !== undefined) checkString('opts.device', opts.device);
    const { x } = exportsOf();
    this.kind = kind;
    this.device = opts.device;
    this.handle = 0;
    const h = x.create(kind === 'pci' ? 1 : 0);
    this.check(h, 'create an IRQ machine');
    this.handle = h;
    if (opts.timeoutNs !== undefined) {
      this.check(x.set_timeout(h, BigInt.asIntN(64, opts.timeoutNs)), 'set the mmap timeout');
    }
  }

  /** True once close() has run. */
  get closed(): boolean { return this.handle === 0; }

  /** Declares VFIO IRQ index `index` from its vfio_irq_info: raw flags, or {level} for a
   *  vfio-platform line (level = AUTOMASKED). count: 1 for platform lines and INTx.
   * Only before start(). Indexes below 64 (below 5 for PCI).
   */
  declareLine(index: number, flags: number | { level: boolean }, count = 1): void {
    checkInt('index', index, 0, 0xffff_ffff); checkInt('count', count, 0, 0xffff_ffff);
    if (typeof flags === 'number') checkInt('flags', flags, 0, 0xffff_ffff); else if (typeof checkObject<{ level: unknown }>('flags', flags).level !== 'boolean') badArgument('flags.level', flags.level, 'a boolean');
    const f = typeof flags === 'number' ? flags : flags.level ? LEVEL_FLAGS : EDGE_FLAGS;
    this.check(exportsOf().x.declare_line(this.live(), index, f >>> 0, count >>> 0), `declare IRQ ${index}`, index);
  }

  /** Ends configuration; events are accepted from now on. */
  start(): void { this.check(exportsOf().x.start(this.live()), 'start the IRQ machine'); }

  /** The userspace eventfd of IRQ `index` was signalled at `now` (ns). */
  fire(index: number, now: bigint): IrqAction[] {
    checkInt('index', index, 0, 0xffff_ffff); checkBigU64('now', now);
    return this.event((x, h, out, cap) => x.fire(h, index, u64(now), out, cap), `fire IRQ ${index}`, index);
  }

  /** The guest accessed trapped MMIO at `now`: the EOI of the ACTIVE line, if any. */
  trappedAccess(now: bigint): IrqAction[] {
    checkBigU64('now', now);
    return this.event((x, h, out, cap) => x.trapped_access(h, u64(now), out, cap), 'take a trapped access');
  }

  /** The timer armed by an arm-timer action expired; `now` is the clock at the callback. */
  timer(now: bigint): IrqAction[] {
    checkBigU64('now', now);
    return this.event((x, h, out, cap) => x.timer(h, u64(now), out, cap), 'take a timer event');
  }

  /** Routes IRQ `index` to KVM irqfd: the ordered steps to carry out. */
  wire(index: number): IrqAction[] {
    checkInt('index', index, 0, 0xffff_ffff);
    return this.event((x, h, out, cap) => x.wire(h, index, out, cap), `wire IRQ ${index} to irqfd`, index);
  }

  /** Routes IRQ `index` back to userspace delivery: the ordered steps. */
  unwire(index: number): IrqAction[] {
    checkInt('index', index, 0, 0xffff_ffff);
    return this.event((x, h, out, cap) => x.unwire(h, index, out, cap), `unwire IRQ ${index}`, index);
  }

  /** PCI: switches the interrupt mode; the old mode is switched off first. */
  setPciMode(mode: PciIrqMode, count = mode === 'none' ? 0 : 1): IrqAction[] {
    const m = PCI_MODES.indexOf(checkOneOf('mode', mode, PCI_MODES)); checkInt('count', count, 0, 0xffff_ffff);
    return this.event((x, h, out, cap) => x.pci_set_mode(h, m, count >>> 0, out, cap), `switch to ${mode} with ${count} vectors`);
  }

  /** State and counters of IRQ `index`. */
  line(index: number): LineInfo {
    checkInt('index', index, 0, 0xffff_ffff);
    const { x, c } = exportsOf();
    const st = x.line_info(this.live(), index);
    this.check(st, `read IRQ ${index}`, index);
    return {
      state: LINE_STATES[st]!, fires: c.result(0), delivered: c.result(1), coalesced: c.result(2),
      eois: c.result(3), unmasks: c.result(4), dropped: c.result(5), flags: Number(c.result(6)), count: Number(c.result(7)),
    };
  }

  /** The device-level state. */
  info(): MachineInfo {
    const { x, c } = exportsOf();
    const st = x.machine_info(this.live());
    this.check(st, 'read the IRQ machine');
    const active = c.result(3);
    return {
      state: MACHINE_STATES[st]!, mapped: c.result(0) === 1n, timerArmed: c.result(1) === 1n,
      deadline: c.result(2), active: active === 0xffff_ffff_ffff_ffffn ? undefined : Number(active),
      queueLength: Number(c.result(4)), pciMode: PCI_MODES[Number(c.result(5))]!, pciCount: Number(c.result(6)),
      timeoutNs: c.result(7),
    };
  }

  /** Frees the machine's slot in the core. Closing twice is harmless. */
  close(): void {
    if (this.handle === 0) return;
    exportsOf().x.free(this.handle);
    this.handle = 0;
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  private live(): number {
    if (this.handle === 0) throw new VfioError({ kind: 'closed', message: 'the IRQ machine is closed', hint: 'create a new IrqMachine', device: this.device });
    return this.handle;
  }

  private event(call: (x: IrqExports, h: number, out: number, cap: number) => number, what: string, index?: number): IrqAction[] {
    const { x, out, u32, u64 } = exportsOf();
    const n = call(x, this.live(), out, OUT_CAP);
    this.check(n, what, index);
    return readActions(u32, u64, out, n);
  }

  private check(status: number, what: string, index?: number): void {
    checkStatus(exportsOf().c, status, { what: `cannot ${what}`, hint: index === undefined ? undefined : `IRQ index ${index}`, device: this.device });
  }
}

/** A bigint in [0, 2^64) as the signed value a Wasm i64 parameter takes. */
function u64(v: bigint): bigint {
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new VfioError({ kind: 'bad-argument', message: `time ${v} ns is not an unsigned 64-bit value` });
  return BigInt.asIntN(64, v);
}
