// The mini-vmm: one vCPU, a vGICv3, 64 KiB of RAM, a console, and one passed-through platform
// device (the pl031) whose registers are a memslot over its VFIO mapping and whose IRQ goes
// VFIO -> eventfd -> KVM irqfd -> vGIC with no VMM code on the path. The guest learns where
// things are from registers (x0 DTB, x1 device, x2 INTID, x3 console, x4 GICD, x5 GICR).
//
// Guest physical map (QEMU virt's, so a real kernel would feel at home):
//   0x0800_0000 GICD 64 KiB | 0x080a_0000 GICR 128 KiB | 0x0900_0000 console (unbacked)
//   0x0c00_0000 platform bus, 32 MiB, SPIs 112..127 (PlatformBus places the device in it)
//   0x4000_0000 RAM 64 KiB: the guest image at +0, the DTB at +0x8000
//
// Every KVM_RUN return is a VMM wake-up, recorded with the console position at that moment, so
// a report can say how many wake-ups happened while the guest waited for an interrupt.
// Not responsible for: the KVM calls (kvm.ts), opening the device (passthrough.ts), the DTB (fdt.ts).
import { PlatformBus } from '../../src/placement';
import { completeMmioRead, REG_PC, SPI_BASE, xreg, type Exit } from './abi';
import { MmioConsole } from './console';
import { Vm, type Vcpu } from './kvm';
import { PassthroughDevice } from './passthrough';

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
}

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
  /** Per "wait" the guest printed: VMM wake-ups until its next console byte, and the time blocked. */
  waits: { wakeups: number; blockedNs: bigint }[];
}

export interface RunOptions {
  /** The flat guest image (guest/pl031.S assembled). */
  guest: Uint8Array;
  /** Builds the guest DTB once the placement is known (fdt.ts); none: x0 = 0. */
  dtb?: (p: Placement, dev: PassthroughDevice) => Uint8Array;
  device?: { name: string; bus: string };
  /** Wire the device IRQ through irqfd (default true). */
  irq?: boolean;
  /** How the guest reaches the device's registers: 'memslot' (default: a KVM memslot over the
   *  VFIO mapping, no exits) or 'trap' (no memslot: each access exits and the VMM forwards it to
   *  the mapping with one 32-bit Atomics access), the slow path, for comparison. */
  deviceMmio?: 'memslot' | 'trap';
  /** Called with each complete console line as it arrives (the run blocks the thread: this is the live view). */
  onLine?: (line: string, ms: number) => void;
}

/** Runs the guest to PSCI SYSTEM_OFF (or a failing exit) and reports what the VMM saw. */
export function runGuest(opts: RunOptions): RunReport {
  const devName = opts.device ?? { name: '9010000.pl031', bus: 'amba' };
  const bus = new PlatformBus(LAYOUT.bus);
  let dev: PassthroughDevice | undefined;
  let vm: Vm | undefined;
  try {
    dev = PassthroughDevice.open(devName.name, devName.bus);
    const region = bus.placeRegion(dev.region.size);
    const irq = bus.placeIrq(undefined, { device: region.device });
    const placement: Placement = { regionGpa: region.address, spi: irq.spi, intid: irq.intid };

    vm = Vm.create();
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    const ram = vm.addRam(LAYOUT.ram.gpa, LAYOUT.ram.size);
    if (opts.guest.byteLength > LAYOUT.dtbOffset) throw new Error(`guest image of ${opts.guest.byteLength} bytes overlaps the DTB at +0x${LAYOUT.dtbOffset.toString(16)}`);
    ram.bytes.set(opts.guest, 0);
    const trap = opts.deviceMmio === 'trap';
    if (!trap) vm.mapHost(region.address, dev.region.size, dev.region.hva);
    const vcpu = vm.addVcpu();
    vm.initGic();
    if (opts.irq ?? true) {
      const w = dev.wireIrq();
      vm.irqfd(w.trigger, irq.spi, w.resample);
    }
    let dtbGpa = 0n;
    if (opts.dtb) {
      const dtb = opts.dtb(placement, dev);
      if (dtb.byteLength > Number(LAYOUT.ram.size) - LAYOUT.dtbOffset) throw new Error(`guest DTB of ${dtb.byteLength} bytes does not fit in RAM`);
      ram.bytes.set(dtb, LAYOUT.dtbOffset);
      dtbGpa = LAYOUT.ram.gpa + BigInt(LAYOUT.dtbOffset);
    }
    const regs: [bigint, bigint][] = [
      [xreg(0), dtbGpa], [xreg(1), region.address], [xreg(2), BigInt(irq.intid)],
      [xreg(3), LAYOUT.console], [xreg(4), LAYOUT.gicd], [xreg(5), LAYOUT.gicr], [REG_PC, LAYOUT.ram.gpa],
    ];
    for (const [id, v] of regs) vcpu.setReg(id, v);

    const report = runLoop(vcpu, new MmioConsole(LAYOUT.console), { base: region.address, size: dev.region.size, regs: trap ? dev.regs : undefined }, opts.onLine);
    // Housekeeping through the VMM's own mapping: leave the alarm masked whatever the guest did.
    Atomics.store(dev.regs, 0x10 / 4, 0);
    return { ...report, placement };
  } finally {
    // The VM's memslot points into the device mapping: the VM goes first.
    try { vm?.close(); } finally { try { dev?.close(); } finally { bus.close(); } }
  }
}

interface DeviceWindow { base: bigint; size: bigint; /** Set when accesses are forwarded (trap mode). */ regs: Uint32Array | undefined }

/** Forwards one trapped access to the device mapping: naturally aligned 32-bit only (the pl031's
 *  registers are 32-bit); anything else reads all-ones and is dropped (counted by the caller). */
function forward(regs: Uint32Array, off: bigint, len: number, isWrite: boolean, data: bigint): bigint | undefined {
  if (len !== 4 || off % 4n !== 0n) return undefined;
  const i = Number(off / 4n);
  if (isWrite) { Atomics.store(regs, i, Number(data & 0xffff_ffffn)); return 0n; }
  return BigInt(Atomics.load(regs, i) >>> 0);
}

function runLoop(vcpu: Vcpu, con: MmioConsole, dev: DeviceWindow,
                 onLine?: (line: string, ms: number) => void): Omit<RunReport, 'placement'> {
  const exits: ExitRecord[] = [];
  let forwarded = 0, forwardNs = 0n;
  const start = process.hrtime.bigint();
  let lineStart = 0;
  let deviceExits = 0, strayExits = 0, end = 'max-exits';
  while (exits.length < MAX_EXITS) {
    const t0 = process.hrtime.bigint();
    const exit = vcpu.step();
    exits.push({ exit, runNs: process.hrtime.bigint() - t0, at: con.length });
    if (exit.kind === 'mmio') {
      const c = con.handle(exit.addr, exit.len, exit.isWrite, exit.data);
      if (onLine && c.handled && exit.isWrite && exit.data === 0x0an) {
        onLine(con.text().slice(lineStart, -1), Number(process.hrtime.bigint() - start) / 1e6);
        lineStart = con.length;
      }
      let reply = c.reply;
      if (!c.handled) {
        if (exit.addr >= dev.base && exit.addr - dev.base < dev.size) {
          deviceExits++;
          if (dev.regs) {
            const f0 = process.hrtime.bigint();
            const v = forward(dev.regs, exit.addr - dev.base, exit.len, exit.isWrite, exit.data);
            forwardNs += process.hrtime.bigint() - f0;
            if (v === undefined) strayExits++; else { forwarded++; reply = v; }
          }
        } else strayExits++;
      }
      if (!exit.isWrite) completeMmioRead(vcpu.run, exit.len, reply ?? (1n << BigInt(8 * exit.len)) - 1n);
      continue;
    }
    if (exit.kind === 'retry') continue;
    end = exit.kind === 'system-event' ? exit.event : `${exit.reason} (0x${exit.detail.toString(16)})`;
    break;
  }
  const text = con.text();
  return { console: text, exits, deviceExits, forwarded, forwardNs, strayExits, consoleDropped: con.dropped, end, waits: waitsIn(text, exits) };
}

/** For each "wait\n" the guest printed: how the VMM's thread spent the wait. The exit that writes
 *  console byte k is recorded with at = k, so the wait is the run of exits with at === (position
 *  after "wait\n"). It ends with the guest's first action after taking the IRQ: its first MMIO
 *  exit (the "I" of "IRQ" with the memslot, the pl031 ICR write in trap mode). `wakeups` counts the
 *  KVM_RUN returns before that exit (a signal, a userspace IRQ path, anything not the guest's own
 *  access); `blockedNs` is the time the thread spent inside KVM_RUN up to and including it. */
export function waitsIn(text: string, exits: ExitRecord[]): { wakeups: number; blockedNs: bigint }[] {
  const out: { wakeups: number; blockedNs: bigint }[] = [];
  for (let i = text.indexOf('wait\n'); i >= 0; i = text.indexOf('wait\n', i + 1)) {
    const span = exits.filter((e) => e.at === i + 5);
    const end = span.findIndex((e) => e.exit.kind === 'mmio');
    const upto = end < 0 ? span : span.slice(0, end + 1);
    out.push({ wakeups: end < 0 ? span.length : end, blockedNs: upto.reduce((s, e) => s + e.runNs, 0n) });
  }
  return out;
}
