// The mini-vmm: one vCPU, a vGICv3, 64 KiB of RAM, a console, and one passed-through platform
// device (the pl031), taken with vfiokit's public API as any VMM would: openDevice(), region 0's
// Mapping installed as a KVM memslot (hostAddress), and IRQ 0 wired to KVM with
// routeIrqs(...).wireIrqfd() (for a level line: an irqfd plus a resample eventfd, so the guest's
// EOI unmasks the line in VFIO), with no VMM code on the path. The guest learns where things are
// from registers (x0 DTB, x1 device, x2 INTID, x3 console, x4 GICD, x5 GICR).
//
// Guest physical map (QEMU virt's, so a real kernel would feel at home):
//   0x0800_0000 GICD 64 KiB | 0x080a_0000 GICR 128 KiB | 0x0900_0000 console (unbacked)
//   0x0c00_0000 platform bus, 32 MiB, SPIs 112..127 (PlatformBus places the device in it)
//   0x4000_0000 RAM 64 KiB: the guest image at +0, the DTB at +0x8000
//
// Every KVM_RUN return is a VMM wake-up, recorded with the console position at that moment, so
// a report can say how many wake-ups happened while the guest waited for an interrupt.
// Two comparisons run the same guest with KVM_RUN on a libuv thread (Vcpu.stepAsync), so the event
// loop is free for the IRQ: runGuestRelay relays it through the VMM's event loop (VFIO's trigger,
// taken with irqs[0].onTrigger -> VMM -> KVM irqfd eventfd; KVM resample -> VMM ->
// irqs[0].unmask()); runGuestMachine is the userspace IRQ mode, QEMU's vfio-platform scheme,
// through vfiokit's IRQ state machine (routeIrqs without wireIrqfd): on VFIO's trigger the
// machine turns direct MMIO off (the memslot is deleted) and raises the SPI with KVM_IRQ_LINE;
// the guest's next device access traps, the VMM forwards it and reports it (trappedAccess), and
// the machine lowers the line and unmasks VFIO; 1.1 s later the memslot comes back.
// Close order (Machine.close): the IRQ routing (its irqfd deassigned while the VM fd is open),
// the VM (its memslot points into the device's mapping; the KVM-VFIO device lets go of the device
// fd), the VMM's own relay eventfds, the device (mapping, IRQs, fds), the bus.
// Not responsible for: the KVM calls (kvm.ts), the device (vfiokit), the DTB (dtb.ts).
import { openDevice, PlatformBus, type IrqRouting, type Mapping, type VfioDevice } from '../../src/index';
import { completeMmioRead, REG_PC, xreg, type Exit } from './abi';
import { MmioConsole } from './console';
import { Vm, type Vcpu } from './kvm';
import { EFD_CLOEXEC, EFD_NONBLOCK, hostSys } from '../../src/sys-api';

export const LAYOUT = Object.freeze({
  gicd: 0x0800_0000n, gicr: 0x080a_0000n, console: 0x0900_0000n,
  bus: { base: 0x0c00_0000n, size: 0x0200_0000n, spiFirst: 112, spiCount: 16 },
  ram: { gpa: 0x4000_0000n, size: 0x1_0000n }, dtbOffset: 0x8000,
  /** vGIC lines: 32 private + 224 SPIs, enough for the bus's SPIs (INTID up to 159). */
  nrIrqs: 256,
});
/** Exits after which a run is stopped as runaway (the pl031 guest makes about 90). */
export const MAX_EXITS = 10_000;

export interface ExitRecord {
  /** The decoded exit. */
  exit: Exit;
  /** Nanoseconds the KVM_RUN call that ended in this exit blocked the VMM thread. */
  runNs: bigint;
  /** Console bytes written before this exit (a console write exit is byte number `at`). */
  at: number;
  /** Nanoseconds the VMM spent handling this exit (forwarding, the IRQ machine, the console). */
  handleNs: bigint;
}

export type IrqEvent = 'trigger' | 'resample' | 'assert' | 'deassert' | 'mmap-off' | 'mmap-on';
/** How the device's IRQ reaches the vGIC: KVM irqfd (no VMM code), relayed by the VMM's event
 *  loop, or vfiokit's userspace state machine driving KVM_IRQ_LINE. */
export type IrqMode = 'irqfd' | 'relay' | 'machine';

export interface Placement { regionGpa: bigint; spi: number; intid: number }

export interface RunReport {
  console: string;
  exits: ExitRecord[];
  placement: Placement;
  /** MMIO exits whose address falls in the passed-through region: each would be a trap the memslot should have avoided. */
  deviceExits: number;
  /** Device exits the VMM forwarded to the mapping ('trap' mode), and the time spent doing so. */
  forwarded: number;
  forwardNs: bigint;
  /** MMIO exits that were neither the console nor the device (answered all-ones / dropped). */
  strayExits: number;
  consoleDropped: number;
  /** How the run ended: 'shutdown' (PSCI SYSTEM_OFF), or the failing exit. */
  end: string;
  /** Per "wait" the guest printed: VMM wake-ups until the guest's first access after the IRQ, and the time blocked. */
  waits: { wakeups: number; blockedNs: bigint }[];
  /** Relay and machine modes: each time the VMM's event loop woke for the IRQ path, with the
   *  console position then (machine: the actions that show the event: assert = VFIO's trigger,
   *  deassert = the EOI trap, mmap-on = the timer). */
  relayWakeups: { what: IrqEvent; at: number }[];
}

export interface RunOptions {
  /** The flat guest image (guest/pl031.S assembled). */
  guest: Uint8Array;
  /** Builds the guest DTB once the placement is known (dtb.ts); none: x0 = 0. */
  dtb?: (p: Placement, dev: VfioDevice) => Uint8Array;
  /** The device's name (default the lab's pl031, "9010000.pl031"); openDevice finds its bus. */
  device?: string;
  /** How the guest reaches the device's registers: 'memslot' (default: a KVM memslot over the
   *  VFIO mapping, no exits) or 'trap' (no memslot: each access exits and the VMM forwards it to
   *  the mapping with one 32-bit Atomics access), the slow path, for comparison. */
  deviceMmio?: 'memslot' | 'trap';
  /** Called with each complete console line as it arrives (the run blocks the thread: this is the live view). */
  onLine?: (line: string, ms: number) => void;
}

/** Everything a run owns, built in the order the kernel needs; close() undoes it. */
interface Machine {
  vm: Vm; vcpu: Vcpu; dev: VfioDevice; regs: Mapping; placement: Placement; window: DeviceWindow;
  /** Relay mode: the two eventfds the VMM handed to KVM's irqfd (trigger in, resample out). */
  relay?: { trigger: number; resample: number };
  /** Machine mode: the routing whose machine the VMM feeds trapped accesses to. */
  routing?: IrqRouting;
  close(): void;
}

/** pl031 registers the VMM itself touches (housekeeping before and after the run). */
const PL031_IMSC = 0x10, PL031_ICR = 0x1c;

/** Places the device, builds the VM around it, loads the guest and its DTB, sets the registers.
 *  `irq` 'irqfd': routeIrqs().wireIrqfd(): VFIO's eventfds go straight to KVM; 'relay': the VMM
 *  takes VFIO's trigger (onTrigger), KVM gets two of the VMM's eventfds (returned), and the VMM
 *  carries events between them. */
interface BuildHooks {
  /** Machine mode: each line change and MMIO switch the machine asked for. */
  event?: (what: IrqEvent) => void;
  /** Machine mode: an error while carrying out actions from an event callback. */
  error?: (e: unknown) => void;
}

function build(opts: RunOptions, irq: IrqMode, hooks: BuildHooks = {}): Machine {
  const onEvent = hooks.event ?? ((): void => {});
  const bus = new PlatformBus(LAYOUT.bus);
  const sys = hostSys();
  let dev: VfioDevice | undefined;
  let vm: Vm | undefined;
  let routing: IrqRouting | undefined;
  const ownFds: number[] = [];
  const close = (): void => {
    try { routing?.close(); } finally {
      try { vm?.close(); } finally {
        try { for (const fd of ownFds) sys.close(fd); } finally { try { dev?.close(); } finally { bus.close(); } }
      }
    }
  };
  try {
    dev = openDevice(opts.device ?? '9010000.pl031');
    const regs = dev.regions[0]!.map();
    const size = BigInt(regs.size);
    // Start from a quiet device: no alarm armed or pending from an earlier user, so nothing is
    // delivered before the line is wired.
    regs.write32(PL031_IMSC, 0); regs.write32(PL031_ICR, 1);
    const region = bus.placeRegion(size);
    const spi = bus.placeIrq(undefined, { device: region.device });
    const placement: Placement = { regionGpa: region.address, spi: spi.spi, intid: spi.intid };

    vm = Vm.create();
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    const ram = vm.addRam(LAYOUT.ram.gpa, LAYOUT.ram.size);
    if (opts.guest.byteLength > LAYOUT.dtbOffset) throw new Error(`guest image of ${opts.guest.byteLength} bytes overlaps the DTB at +0x${LAYOUT.dtbOffset.toString(16)}`);
    ram.bytes.set(opts.guest, 0);
    const trap = opts.deviceMmio === 'trap';
    const slot = trap ? -1 : vm.mapHost(region.address, size, regs.hostAddress);
    // The group (legacy container) or the device cdev (iommufd), as KVM's VFIO device wants it.
    vm.addVfioFile(dev.kvmVfioFile);
    const vcpu = vm.addVcpu();
    vm.initGic();
    let relay: { trigger: number; resample: number } | undefined;
    if (irq === 'irqfd') {
      // Wired in the same tick it is routed, and the device was quieted above, so the machine
      // never asserts the line in userspace: setLine has nothing to do (the vGIC is KVM's).
      routing = dev.routeIrqs({ indexes: [0], setLine: () => {} });
      routing.wireIrqfd(0, vm.fd, spi.spi);
    } else if (irq === 'machine') {
      // The machine asks for the line (KVM_IRQ_LINE on the vGIC) and for direct MMIO off/on (the
      // memslot deleted/restored, from the event loop while the vCPU runs on its thread).
      const theVm = vm;
      routing = dev.routeIrqs({
        indexes: [0],
        setLine: (_i, level) => { onEvent(level ? 'assert' : 'deassert'); theVm.irqLine(spi.spi, level); },
        onMmap: (on) => { onEvent(on ? 'mmap-on' : 'mmap-off'); if (slot >= 0) theVm.setHostSlot(slot, region.address, on ? size : 0n, regs.hostAddress); },
        ...(hooks.error ? { onError: hooks.error } : {}),
      });
    } else {
      relay = { trigger: sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), resample: -1 };
      ownFds.push(relay.trigger);
      relay.resample = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      ownFds.push(relay.resample);
      vm.irqfd(relay.trigger, spi.spi, relay.resample);
    }
    let dtbGpa = 0n;
    if (opts.dtb) {
      const dtb = opts.dtb(placement, dev);
      if (dtb.byteLength > Number(LAYOUT.ram.size) - LAYOUT.dtbOffset) throw new Error(`guest DTB of ${dtb.byteLength} bytes does not fit in RAM`);
      ram.bytes.set(dtb, LAYOUT.dtbOffset);
      dtbGpa = LAYOUT.ram.gpa + BigInt(LAYOUT.dtbOffset);
    }
    const cpuRegs: [bigint, bigint][] = [
      [xreg(0), dtbGpa], [xreg(1), region.address], [xreg(2), BigInt(spi.intid)],
      [xreg(3), LAYOUT.console], [xreg(4), LAYOUT.gicd], [xreg(5), LAYOUT.gicr], [REG_PC, LAYOUT.ram.gpa],
    ];
    for (const [id, v] of cpuRegs) vcpu.setReg(id, v);
    // Machine mode forwards whatever traps (the memslot is gone while a line is active), then
    // tells the machine: for an active line that access is its EOI.
    const machine = irq === 'machine' ? routing : undefined;
    const window: DeviceWindow = { base: region.address, size, regs: trap || machine ? regs : undefined, afterAccess: machine && (() => machine.trappedAccess()) };
    return { vm, vcpu, dev, regs, placement, window, close, ...(relay ? { relay } : {}), ...(machine ? { routing: machine } : {}) };
  } catch (e) { close(); throw e; }
}
/** Runs the guest to PSCI SYSTEM_OFF (or a failing exit) and reports what the VMM saw. The IRQ
 *  goes VFIO -> KVM irqfd -> vGIC; the VMM thread blocks in KVM_RUN between exits. */
export function runGuest(opts: RunOptions): RunReport {
  const m = build(opts, 'irqfd');
  try {
    const exits = new ExitLog(m.window, opts.onLine);
    while (!exits.done) { const t0 = process.hrtime.bigint(); const e = m.vcpu.step(); exits.handle(e, process.hrtime.bigint() - t0, m.vcpu.run); }
    // Housekeeping through the VMM's own mapping: leave the alarm masked whatever the guest did.
    m.regs.write32(PL031_IMSC, 0);
    return exits.report(m.placement);
  } finally { m.close(); }
}

/** The same run with the IRQ relayed by the VMM (the path irqfd replaces): KVM_RUN runs on a
 *  libuv thread, and the event loop carries VFIO's trigger to KVM's irqfd and KVM's resample to
 *  VFIO's unmask eventfd. Each carried event is a VMM wake-up. */
export async function runGuestRelay(opts: RunOptions): Promise<RunReport> {
  const m = build(opts, 'relay');
  const sys = hostSys();
  const irq = m.dev.irqs[0]!;
  const exits = new ExitLog(m.window, opts.onLine);
  const relay = m.relay!;
  // VFIO -> VMM -> KVM: vfiokit's dispatcher reads VFIO's trigger eventfd and calls us.
  irq.onTrigger(() => { exits.relay('trigger'); sys.eventfdWrite(relay.trigger, 1n); });
  // KVM -> VMM -> VFIO: KVM signals the resample eventfd when the guest EOIs; the line is level,
  // so VFIO keeps it masked until we unmask.
  const watch = sys.watch(relay.resample, () => { sys.eventfdRead(relay.resample); exits.relay('resample'); irq.unmask(); });
  try {
    while (!exits.done) { const t0 = process.hrtime.bigint(); const e = await m.vcpu.stepAsync(); exits.handle(e, process.hrtime.bigint() - t0, m.vcpu.run); }
    m.regs.write32(PL031_IMSC, 0);
    return exits.report(m.placement);
  } finally {
    watch.close();
    m.close();
  }
}

/** The pl031 guest in the userspace IRQ mode: vfiokit's state machine (routeIrqs, no irqfd)
 *  raises and lowers the SPI with KVM_IRQ_LINE and switches the memslot off while a line is
 *  active, so the guest's acknowledge traps and is forwarded; KVM_RUN runs on a libuv thread so
 *  the event loop takes VFIO's trigger. Each IRQ costs the VMM wake-ups (recorded in
 *  relayWakeups: assert, deassert, mmap-off/on). An error in the machine's actions ends the run. */
export async function runGuestMachine(opts: RunOptions): Promise<RunReport> {
  let log: ExitLog | undefined;
  let failure: unknown;
  const m = build(opts, 'machine', { event: (w) => log?.relay(w), error: (e) => { failure ??= e; } });
  log = new ExitLog(m.window, opts.onLine);
  try {
    while (!log.done) {
      const t0 = process.hrtime.bigint();
      const e = await m.vcpu.stepAsync();
      log.handle(e, process.hrtime.bigint() - t0, m.vcpu.run);
      if (failure !== undefined) throw failure;
    }
    m.regs.write32(PL031_IMSC, 0);
    return log.report(m.placement);
  } finally { m.close(); }
}

export interface DeviceWindow {
  base: bigint; size: bigint;
  /** Set when accesses are forwarded (trap mode; machine mode while direct MMIO is off). */
  regs: Mapping | undefined;
  /** Called after each forwarded access (machine mode: IrqRouting.trappedAccess). */
  afterAccess?: (() => void) | undefined;
}

/** Forwards one trapped access to the device mapping: naturally aligned 32-bit only (the pl031's
 *  registers are 32-bit); anything else reads all-ones and is dropped (counted by the caller). */
function forward(regs: Mapping, off: bigint, len: number, isWrite: boolean, data: bigint): bigint | undefined {
  if (len !== 4 || off % 4n !== 0n) return undefined;
  const o = Number(off);
  if (isWrite) { regs.write32(o, Number(data & 0xffff_ffffn)); return 0n; }
  return BigInt(regs.read32(o));
}

/** What the VMM does with each exit, and the record of them: one place for both run loops. */
export class ExitLog {
  readonly exits: ExitRecord[] = [];
  readonly con = new MmioConsole(LAYOUT.console);
  readonly relayWakeups: { what: IrqEvent; at: number }[] = [];
  deviceExits = 0; strayExits = 0; forwarded = 0; forwardNs = 0n;
  end = '';
  #lineStart = 0;
  readonly #start = process.hrtime.bigint();
  constructor(private readonly dev: DeviceWindow, private readonly onLine?: (line: string, ms: number) => void) {}
  get done(): boolean { return this.end !== ''; }
  relay(what: IrqEvent): void { this.relayWakeups.push({ what, at: this.con.length }); }

  handle(exit: Exit, runNs: bigint, run: Uint8Array): void {
    const h0 = process.hrtime.bigint();
    const rec: ExitRecord = { exit, runNs, at: this.con.length, handleNs: 0n };
    this.exits.push(rec);
    try { this.#handle(exit, run); } finally { rec.handleNs = process.hrtime.bigint() - h0; }
  }

  #handle(exit: Exit, run: Uint8Array): void {
    if (exit.kind === 'mmio') {
      const c = this.con.handle(exit.addr, exit.len, exit.isWrite, exit.data);
      if (this.onLine && c.handled && exit.isWrite && exit.len === 1 && (exit.data & 0xffn) === 0x0an) {
        this.onLine(this.con.text().slice(this.#lineStart, -1), Number(process.hrtime.bigint() - this.#start) / 1e6);
        this.#lineStart = this.con.length;
      }
      let reply = c.reply;
      if (!c.handled) {
        if (exit.addr >= this.dev.base && exit.addr - this.dev.base < this.dev.size) {
          this.deviceExits++;
          if (this.dev.regs) {
            const f0 = process.hrtime.bigint();
            const v = forward(this.dev.regs, exit.addr - this.dev.base, exit.len, exit.isWrite, exit.data);
            this.forwardNs += process.hrtime.bigint() - f0;
            if (v === undefined) this.strayExits++; else { this.forwarded++; reply = v; }
            this.dev.afterAccess?.();
          }
        } else this.strayExits++;
      }
      if (!exit.isWrite) completeMmioRead(run, exit.len, reply ?? (1n << BigInt(8 * exit.len)) - 1n);
    } else if (exit.kind !== 'retry') {
      this.end = exit.kind === 'system-event' ? exit.event : `${exit.reason} (0x${exit.detail.toString(16)})`;
    }
    if (!this.done && this.exits.length >= MAX_EXITS) this.end = 'max-exits';
  }

  report(placement: Placement): RunReport {
    const text = this.con.text();
    return {
      console: text, exits: this.exits, placement, deviceExits: this.deviceExits, forwarded: this.forwarded, forwardNs: this.forwardNs,
      strayExits: this.strayExits, consoleDropped: this.con.dropped, end: this.end, relayWakeups: this.relayWakeups,
      waits: waitsIn(text, this.exits, this.relayWakeups),
    };
  }
}

/** For each "wait\n" the guest printed: how the VMM's thread spent the wait. The exit that writes
 *  console byte k is recorded with at = k, so the wait is the run of exits with at === (position
 *  after "wait\n"). It ends with the guest's first action after taking the IRQ: its first MMIO
 *  exit (the "I" of "IRQ" with the memslot, the pl031 ICR write in trap mode). `wakeups` counts the
 *  KVM_RUN returns before that exit (a signal, anything not the guest's own access) plus the
 *  `extra` wake-ups at that position (the relay's); `blockedNs` is the time spent inside KVM_RUN
 *  up to and including that exit. */
export function waitsIn(text: string, exits: ExitRecord[], extra: { at: number }[] = []): { wakeups: number; blockedNs: bigint }[] {
  const out: { wakeups: number; blockedNs: bigint }[] = [];
  for (let i = text.indexOf('wait\n'); i >= 0; i = text.indexOf('wait\n', i + 1)) {
    const span = exits.filter((e) => e.at === i + 5);
    const end = span.findIndex((e) => e.exit.kind === 'mmio');
    const upto = end < 0 ? span : span.slice(0, end + 1);
    const relayed = extra.filter((x) => x.at === i + 5).length;
    out.push({ wakeups: (end < 0 ? span.length : end) + relayed, blockedNs: upto.reduce((s, e) => s + e.runNs, 0n) });
  }
  return out;
}
