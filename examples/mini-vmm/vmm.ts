// The mini-vmm: one vCPU, a vGICv3, 64 KiB of RAM, a console, and one passed-through platform
// device (the pl031), taken with vfiokit's public API as any VMM would: openDevice(), then
// dev.platform(...), which places the device on the platform bus, hands its register page to the
// VMM as guest memory (mapMemory: a KVM memslot over the VFIO mapping), wires IRQ 0 to KVM (an
// irqfd plus a resample eventfd for the level line, so the guest's EOI unmasks it in VFIO, with no
// VMM code on the path) and gives the guest's DT node. The guest learns where things are from
// registers (x0 DTB, x1 device, x2 INTID, x3 console, x4 GICD, x5 GICR).
//
// Guest physical map (QEMU virt's, so a real kernel would feel at home):
//   0x0800_0000 GICD 64 KiB | 0x080a_0000 GICR 128 KiB | 0x0900_0000 console (unbacked)
//   0x0c00_0000 platform bus, 32 MiB, SPIs 112..127 (the passthrough places the device in it)
//   0x4000_0000 RAM 64 KiB: the guest image at +0, the DTB at +0x8000
//
// Every KVM_RUN return is a VMM wake-up, recorded with the console position at that moment, so
// a report can say how many wake-ups happened while the guest waited for an interrupt.
// Two comparisons run the same guest with KVM_RUN on a libuv thread (Vcpu.stepAsync), so the event
// loop is free for the IRQ: runGuestRelay relays it through the VMM's event loop (the passthrough
// leaves the IRQ alone, routeIrqs: false; VFIO's trigger, taken with irqs[0].onTrigger -> VMM ->
// KVM irqfd eventfd; KVM resample -> VMM -> irqs[0].unmask()); runGuestMachine is the userspace
// IRQ mode, QEMU's vfio-platform scheme, through vfiokit's IRQ state machine (the passthrough with
// setLine instead of kvm): on VFIO's trigger the machine turns direct MMIO off (unmapMemory: the
// memslot is deleted) and raises the SPI with KVM_IRQ_LINE; the guest's next device access traps,
// the VMM hands it to the passthrough (mmioRead/mmioWrite, which tell the machine), and the
// machine lowers the line and unmasks VFIO; 1.1 s later mapMemory brings the memslot back.
// Close order (Machine.close): the passthrough (its irqfd deassigned and its memslot removed while
// the VM fd is open), the VM (the KVM-VFIO device lets go of the device fd), the VMM's own relay
// eventfds, the device (mappings, IRQs, fds; its bus went with the passthrough).
// Not responsible for: the KVM calls (vfiokit/vmm's Vm), the device (vfiokit), the board's DTB (dtb.ts).
import { readFileSync } from 'node:fs';
import { mergeFdt, openDevice, type Mapping, type PlatformPassthrough, type VfioDevice } from '../../src/index';
import { answerNisv, BOARD, completeMmioRead, REG_PC, setUpNisv, Vm, xreg, type Exit, type NisvPolicy, type Vcpu } from '../../src/vmm-api';
import { MmioConsole } from './console';
import { boardDtb, FIRST_DEVICE_PHANDLE } from './dtb';
import { EFD_CLOEXEC, EFD_NONBLOCK, hostSys } from '../../src/sys-api';

export const LAYOUT = Object.freeze({
  // The board's (vfiokit/vmm's layout.ts); the bare-metal guest's console is a byte sink at the UART's address.
  gicd: BOARD.gicd, gicr: BOARD.gicr, console: BOARD.uart,
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
  /** Accesses KVM could not decode (KVM_EXIT_ARM_NISV), each answered with an external data abort. */
  nisvAborts: number;
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
  /** Builds the guest DTB once the placement is known (dtb.ts); default: the board (dtb.ts) with
   *  the passthrough's own node merged in. */
  dtb?: (p: Placement, dev: VfioDevice) => Uint8Array;
  /** The host's DTB, where the passthrough finds the device's node (default /sys/firmware/fdt). */
  hostDtb?: Uint8Array;
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
  vm: Vm; vcpu: Vcpu;
  /** What the VMM does about an access KVM cannot decode (vfiokit/vmm's setUpNisv). */
  nisv: NisvPolicy; dev: VfioDevice; pt: PlatformPassthrough; regs: Mapping; placement: Placement; window: DeviceWindow;
  /** Relay mode: the two eventfds the VMM handed to KVM's irqfd (trigger in, resample out). */
  relay?: { trigger: number; resample: number };
  close(): void;
}

/** pl031 registers the VMM itself touches (housekeeping before and after the run). */
const PL031_IMSC = 0x10, PL031_ICR = 0x1c;

/** Builds the VM, passes the device through (dev.platform: placement, memslot, IRQ, node), loads
 *  the guest and its DTB, sets the registers. `irq` 'irqfd': the passthrough wires the line to
 *  KVM; 'machine': it routes the line through the userspace IRQ machine (setLine = KVM_IRQ_LINE,
 *  the memslot removed and restored through unmapMemory/mapMemory); 'relay': it leaves the line
 *  alone, KVM gets two of the VMM's eventfds (returned), and the VMM carries events between them. */
interface BuildHooks {
  /** Machine mode: each line change and MMIO switch the machine asked for. */
  event?: (what: IrqEvent) => void;
  /** Machine mode: an error while carrying out actions from an event callback. */
  error?: (e: unknown) => void;
}

function build(opts: RunOptions, irq: IrqMode, hooks: BuildHooks = {}): Machine {
  const onEvent = hooks.event ?? ((): void => {});
  const sys = hostSys();
  let dev: VfioDevice | undefined;
  let vm: Vm | undefined;
  let pt: PlatformPassthrough | undefined;
  const ownFds: number[] = [];
  const close = (): void => {
    try { pt?.close(); } finally {
      try { vm?.close(); } finally {
        try { for (const fd of ownFds) sys.close(fd); } finally { dev?.close(); }
      }
    }
  };
  try {
    dev = openDevice(opts.device ?? '9010000.pl031');
    // Start from a quiet device: no alarm armed or pending from an earlier user, so nothing is
    // delivered before the line is wired (a register write through the trap path).
    dev.region(0).write32(PL031_IMSC, 0); dev.region(0).write32(PL031_ICR, 1);

    vm = Vm.create();
    const nisv = setUpNisv(vm);
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    const ram = vm.addRam(LAYOUT.ram.gpa, LAYOUT.ram.size);
    if (opts.guest.byteLength > LAYOUT.dtbOffset) throw new Error(`guest image of ${opts.guest.byteLength} bytes overlaps the DTB at +0x${LAYOUT.dtbOffset.toString(16)}`);
    ram.bytes.set(opts.guest, 0);
    // The group (legacy container) or the device cdev (iommufd), as KVM's VFIO device wants it.
    vm.addVfioFile(dev.kvmVfioFile);
    const vcpu = vm.addVcpu();
    vm.initGic();   // irqfds need the vGIC ready

    // The device's memslot: made on the first mapMemory, deleted (size 0) and restored as the
    // userspace IRQ machine asks. 'trap' mode installs none: every access exits and is forwarded.
    const theVm = vm;
    const trap = opts.deviceMmio === 'trap';
    let slot = -1;
    const board = boardDtb({ ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr } });
    let relay: { trigger: number; resample: number } | undefined;
    pt = dev.platform({
      bus: LAYOUT.bus, hostDtb: opts.hostDtb ?? new Uint8Array(readFileSync('/sys/firmware/fdt')),
      interruptParent: board.gicPhandle, dt: { firstPhandle: FIRST_DEVICE_PHANDLE },
      mapMemory: (s) => {
        if (trap) return;
        if (slot < 0) { slot = theVm.mapHost(s.gpa, s.size, s.hostAddress); return; }
        onEvent('mmap-on'); theVm.setHostSlot(slot, s.gpa, s.size, s.hostAddress);
      },
      unmapMemory: (s) => { if (slot < 0) return; onEvent('mmap-off'); theVm.setHostSlot(slot, s.gpa, 0n, s.hostAddress); },
      ...(irq === 'irqfd' ? { kvm: { vmFd: vm.fd } }
        : irq === 'machine' ? { setLine: (line, level) => { onEvent(level ? 'assert' : 'deassert'); theVm.irqLine(line.spi, level); }, ...(hooks.error ? { onError: hooks.error } : {}) }
        : { routeIrqs: false }),
    });
    const region = pt.placement.regions[0]!, spi = pt.placement.irqs[0]!;
    const placement: Placement = { regionGpa: region.address, spi: spi.spi, intid: spi.intid };
    if (irq === 'relay') {
      relay = { trigger: sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), resample: -1 };
      ownFds.push(relay.trigger);
      relay.resample = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      ownFds.push(relay.resample);
      vm.irqfd(relay.trigger, spi.spi, relay.resample);
    }
    const dtb = opts.dtb ? opts.dtb(placement, dev) : mergeFdt(board.dtb, pt.dtNode().dtb, '/');
    if (dtb.byteLength > Number(LAYOUT.ram.size) - LAYOUT.dtbOffset) throw new Error(`guest DTB of ${dtb.byteLength} bytes does not fit in RAM`);
    ram.bytes.set(dtb, LAYOUT.dtbOffset);
    const dtbGpa = LAYOUT.ram.gpa + BigInt(LAYOUT.dtbOffset);
    const cpuRegs: [bigint, bigint][] = [
      [xreg(0), dtbGpa], [xreg(1), region.address], [xreg(2), BigInt(spi.intid)],
      [xreg(3), LAYOUT.console], [xreg(4), LAYOUT.gicd], [xreg(5), LAYOUT.gicr], [REG_PC, LAYOUT.ram.gpa],
    ];
    for (const [id, v] of cpuRegs) vcpu.setReg(id, v);
    // Whatever traps in the device's window (everything in 'trap' mode; in machine mode the
    // accesses while the memslot is gone, the EOI among them) goes to the passthrough.
    const window: DeviceWindow = { base: region.address, size: region.size, regs: pt };
    return { vm, vcpu, nisv, dev, pt, regs: region.maps[0]!.mapping, placement, window, close, ...(relay ? { relay } : {}) };
  } catch (e) { close(); throw e; }
}
/** Runs the guest to PSCI SYSTEM_OFF (or a failing exit) and reports what the VMM saw. The IRQ
 *  goes VFIO -> KVM irqfd -> vGIC; the VMM thread blocks in KVM_RUN between exits. */
export function runGuest(opts: RunOptions): RunReport {
  const m = build(opts, 'irqfd');
  try {
    const exits = new ExitLog(m.window, opts.onLine, { vcpu: m.vcpu, policy: m.nisv });
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
  const exits = new ExitLog(m.window, opts.onLine, { vcpu: m.vcpu, policy: m.nisv });
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
  log = new ExitLog(m.window, opts.onLine, { vcpu: m.vcpu, policy: m.nisv });
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
  /** Where trapped accesses in the window go (the passthrough: through its mapping or the device
   *  fd, and to the IRQ machine in the userspace mode); undefined: nowhere (counted as device exits). */
  regs: Pick<PlatformPassthrough, 'mmioRead' | 'mmioWrite'> | undefined;
}

/** What the VMM does with each exit, and the record of them: one place for both run loops. */
export class ExitLog {
  readonly exits: ExitRecord[] = [];
  readonly con = new MmioConsole(LAYOUT.console);
  readonly relayWakeups: { what: IrqEvent; at: number }[] = [];
  deviceExits = 0; strayExits = 0; forwarded = 0; forwardNs = 0n; nisvAborts = 0;
  end = '';
  #lineStart = 0;
  readonly #start = process.hrtime.bigint();
  /** `nisv`: the vCPU and the VM's policy (setUpNisv) for an access KVM cannot decode; without it
   *  such an exit ends the run. */
  constructor(private readonly dev: DeviceWindow, private readonly onLine?: (line: string, ms: number) => void,
              private readonly nisv?: { vcpu: Vcpu; policy: NisvPolicy }) {}
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
            const regs = this.dev.regs;
            const v = exit.isWrite ? (regs.mmioWrite(exit.addr, exit.len, exit.data) ? 0n : undefined) : regs.mmioRead(exit.addr, exit.len);
            this.forwardNs += process.hrtime.bigint() - f0;
            if (v === undefined) this.strayExits++; else { this.forwarded++; reply = v; }
          }
        } else this.strayExits++;
      }
      if (!exit.isWrite) completeMmioRead(run, exit.len, reply ?? (1n << BigInt(8 * exit.len)) - 1n);
    } else if (exit.kind === 'nisv' && this.nisv) {
      try { answerNisv(this.nisv.vcpu, this.nisv.policy, exit.faultIpa); this.nisvAborts++; } catch (e) { this.end = e instanceof Error ? e.message : String(e); }
    } else if (exit.kind !== 'retry') {
      this.end = exit.kind === 'system-event' ? exit.event : exit.kind === 'nisv' ? `KVM_EXIT_ARM_NISV at 0x${exit.faultIpa.toString(16)}` : `${exit.reason} (0x${exit.detail.toString(16)})`;
    }
    if (!this.done && this.exits.length >= MAX_EXITS) this.end = 'max-exits';
  }

  report(placement: Placement): RunReport {
    const text = this.con.text();
    return {
      console: text, exits: this.exits, placement, deviceExits: this.deviceExits, forwarded: this.forwarded, forwardNs: this.forwardNs,
      strayExits: this.strayExits, nisvAborts: this.nisvAborts, consoleDropped: this.con.dropped, end: this.end, relayWakeups: this.relayWakeups,
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
