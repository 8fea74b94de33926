// Demonstration 3: the mini-vmm boots a Linux kernel (the lab's own arm64 Image) with the pl031
// passed through, and the guest kernel's rtc-pl031 driver runs the device: dev.platform() places
// it, hands its registers to the VMM as a KVM memslot over the VFIO mapping (no exits) and wires
// its alarm IRQ to KVM (VFIO eventfd -> KVM irqfd + resample -> vGICv3), exactly as runGuest
// does for the bare-metal guest. The guest's tree is vfiokit's (the board from linuxBoardDtb, the
// passthrough's node merged in with mergeFdt). The console is a pl011 earlycon on a minimal model (pl011.ts).
//
// Guest physical map: vmm.ts's LAYOUT (GICD 0x0800_0000, GICR 0x080a_0000, the UART at 0x0900_0000,
// the platform bus at 0x0c00_0000), RAM at 0x4000_0000 (LINUX_RAM_SIZE):
//   RAM + 2 MiB + text_offset   the Image (arm64 booting.rst: a 2 MiB-aligned base)
//   top of RAM - 2 MiB          the DTB (8-byte aligned, at most 2 MiB)
//   just below the DTB          the initrd (4 KiB aligned), which must not reach the Image's end
// Boot state (booting.rst): x0 = DTB, x1..x3 = 0, pc = the Image's first byte; KVM's vCPU reset
// gives EL1h with DAIF masked and the MMU off.
//
// With `pci`: demonstration 4, the PCI functions behind the VMM's host bridge (pci.ts,
// passthrough.ts), an ITS for their MSIs, and the VM's GSI routing table (KvmIrqRoutes).
//
// Close order: the passthroughs (the pl031's: irqfd, memslot, its bus; each PCI function's:
// irqfds, memslots), the routing table, the VM, the devices (as vmm.ts's Machine.close).
// Not responsible for: the KVM calls (kvm.ts), the device (vfiokit), the tree (dtb.ts), the UART
// model (pl011.ts), what the guest prints (linux/init.c).
import { KvmIrqRoutes, mergeFdt, openDevice, type DmaMappingRecord, type PciPassthrough, type PciPassthroughStats, type PlatformPassthrough, type VfioDevice } from '../../src/index';
import { KVM_CAP_MSI_DEVID } from '../../src/sys-api';
import { completeMmioRead, REG_PC, xreg, type Exit } from './abi';
import { FIRST_DEVICE_PHANDLE, linuxBoardDtb } from './dtb';
import { Vm } from './kvm';
import { PciFunction, type PciFunctionCounts } from './passthrough';
import { EcamHost, PCI_LAYOUT, type EcamCounts } from './pci';
import { Pl011Console, PL011_SIZE } from './pl011';
import { LAYOUT } from './vmm';

/** Guest RAM of the Linux guest: room for the Image (about 10 MiB with its bss), the initrd, and a
 *  kernel that has little to do; small, so the nested guest's memmap init stays short. */
export const LINUX_RAM_SIZE = 0x1000_0000n;   // 256 MiB
/** Where the Image goes: the first 2 MiB-aligned address above RAM's start (plus text_offset). */
export const IMAGE_BASE_OFFSET = 0x20_0000n;
/** The DTB sits 2 MiB below the top of RAM (booting.rst: at most 2 MiB, 8-byte aligned). */
export const DTB_MAX = 0x20_0000n;
/** Exits after which a Linux run is stopped as runaway. The earlycon costs three exits per console
 *  byte (FR, DR, FR), and a verbose boot prints about 10 to 20 KB: 1M leaves a wide margin without
 *  letting a guest that spins on an unbacked register run forever. */
export const LINUX_MAX_EXITS = 1_000_000;
/** The arm64 Image header (Documentation/arch/arm64/booting.rst): text_offset @8, image_size @16,
 *  the magic "ARM\x64" @56. */
const IMAGE_MAGIC = 0x644d_5241, IMAGE_MAGIC_AT = 56, IMAGE_TEXT_OFFSET_AT = 8, IMAGE_SIZE_AT = 16;
/** pl031 registers the VMM reads or writes itself (not on the guest's path). */
const PL031_DR = 0x00, PL031_IMSC = 0x10, PL031_ICR = 0x1c;

/** The default kernel command line: the pl011 earlycon at the UART, kept after boot (there is no
 *  other console); /dev/kmsg not rate-limited (the init reports through it); panic=-1 turns a
 *  panic into a PSCI reset the VMM sees instead of a hang. */
export const LINUX_BOOTARGS = `earlycon=pl011,mmio32,0x${LAYOUT.console.toString(16)} keep_bootcon rdinit=/init printk.devkmsg=on panic=-1`;

export interface ImageHeader { textOffset: bigint; imageSize: bigint }
/** Reads the arm64 Image header; throws when the bytes are not an arm64 Image. */
export function parseImageHeader(image: Uint8Array): ImageHeader {
  if (image.byteLength < 64) throw new Error(`kernel image of ${image.byteLength} bytes is shorter than the 64-byte arm64 header`);
  const dv = new DataView(image.buffer, image.byteOffset, 64);   // a copy of a file, not device memory
  if (dv.getUint32(IMAGE_MAGIC_AT, true) !== IMAGE_MAGIC) throw new Error('kernel image has no arm64 magic "ARM\\x64" at offset 56: pass arch/arm64/boot/Image (uncompressed)');
  const imageSize = dv.getBigUint64(IMAGE_SIZE_AT, true);
  // image_size 0: a kernel older than 3.17, whose effective size is unknown; refuse it.
  if (imageSize === 0n) throw new Error('kernel image_size is 0 (pre-3.17 kernel): its memory footprint is unknown');
  return { textOffset: dv.getBigUint64(IMAGE_TEXT_OFFSET_AT, true), imageSize };
}

export interface LinuxLayout { kernel: bigint; kernelEnd: bigint; initrd: { start: bigint; end: bigint }; dtb: bigint }
/** Where the Image, the initrd and the DTB go in RAM (see the header); throws when they do not fit. */
export function linuxLayout(ram: { gpa: bigint; size: bigint }, header: ImageHeader, imageBytes: number, initrdBytes: number): LinuxLayout {
  const kernel = ram.gpa + IMAGE_BASE_OFFSET + header.textOffset;
  const footprint = header.imageSize > BigInt(imageBytes) ? header.imageSize : BigInt(imageBytes);
  const kernelEnd = kernel + footprint;
  const dtb = ram.gpa + ram.size - DTB_MAX;
  const start = (dtb - BigInt(initrdBytes)) & ~0xfffn;
  if (start < kernelEnd) throw new Error(`RAM of ${ram.size} bytes is too small: the initrd (${initrdBytes} bytes) would overlap the kernel's ${footprint} bytes`);
  return { kernel, kernelEnd, initrd: { start, end: start + BigInt(initrdBytes) }, dtb };
}

export interface LinuxRunOptions {
  /** arch/arm64/boot/Image. */
  kernel: Uint8Array;
  /** A gzip'd newc cpio (linux/build.mjs). */
  initrd: Uint8Array;
  /** The host's DTB (/sys/firmware/fdt), where guestNodeFor finds the device's node. */
  hostDtb: Uint8Array;
  /** Default the lab's pl031, "9010000.pl031". */
  device?: string;
  /** PCI functions to pass through (host names, bound to vfio-pci), enumerated by the guest at
   *  00:01.0, 00:02.0, ... behind the VMM's host bridge (pci.ts), with an ITS for their MSIs. */
  pci?: string[];
  ramSize?: bigint;
  bootargs?: string;
  /** Appended to the command line (after `bootargs`, with a space). */
  append?: string;
  maxExits?: number;
  /** KVM_RUN on a libuv thread (Vcpu.stepAsync), so Node's event loop runs while the guest does.
   *  Default false: KVM_RUN on this thread, and the event loop gets a turn between exits
   *  (EVENT_LOOP_TURN_MS). Under nested TCG a thread-pool hop per exit made a verbose boot about
   *  45 times slower (docs/mini-vmm.md). */
  asyncRun?: boolean;
  /** Each console line as it arrives, with ms since the vCPU first entered the guest. */
  onLine?: (line: string, ms: number) => void;
}

/** KVM_RUN returns by cause. */
export interface LinuxExitCounts {
  /** The earlycon's UART: data writes, FR polls, anything else. */
  uartWrites: number; uartFrReads: number; uartOther: number;
  /** The pl031's window (0 with the memslot). */
  device: number;
  /** The host bridge's ECAM window (config reads and writes, probes of empty functions). */
  ecam: number;
  /** Trapped accesses inside a PCI function's BARs: the MSI-X table and PBA, and the rest. */
  msix: number; barTraps: number;
  /** Any other address (answered all-ones / dropped), retries (a signal), the end. */
  stray: number; retry: number; end: number;
}

/** One passed-through PCI function, as the run left it (read before close). */
export interface LinuxPciReport {
  /** The host's name, and where the guest enumerated it. */
  name: string; guestAddress: string;
  devid: number; intxGsi: number | undefined;
  /** Where the passthrough put the MSI-X table and PBA in the guest's view (PciPassthrough.relocation). */
  relocation: PciPassthrough['relocation'];
  stats: PciPassthroughStats;
  counts: PciFunctionCounts;
  /** The DMA mappings of the device during the run (guest RAM). */
  dma: DmaMappingRecord[];
}

export interface LinuxReport {
  /** The guest's console (earlycon output), "\r\n" as "\n". */
  console: string;
  /** Console lines with the ms (since the first KVM_RUN) at which each completed, and the exit
   *  counts at that moment (so that a phase between two lines can be told apart). */
  lines: { ms: number; text: string; counts: LinuxExitCounts }[];
  placement: { regionGpa: bigint; spi: number; intid: number };
  layout: LinuxLayout;
  dtbBytes: number;
  /** The kernel command line the guest got. */
  bootargs: string;
  /** 'shutdown' (PSCI SYSTEM_OFF), 'reset' (a panic with panic=-1), 'max-exits', or the failing exit. */
  end: string;
  exits: number;
  counts: LinuxExitCounts;
  /** The ECAM window's own counts (reads and writes that reached a function, probes of empty ones, bad widths). */
  ecam: EcamCounts;
  pci: LinuxPciReport[];
  /** KVM_SET_GSI_ROUTING calls over the run (0 without PCI). */
  routeCommits: number;
  /** First few stray addresses, for diagnosis. */
  strayAddrs: string[];
  /** ms from runLinux's start (before opening any device) to the first KVM_RUN. */
  setupMs: number;
  /** ms from the first KVM_RUN to the end of the run. */
  runMs: number;
  /** ms spent inside KVM_RUN (the rest is the VMM's exit handling). */
  inKvmMs: number;
  /** The longest single KVM_RUN, in ms, and the console line that followed it: the guest blocked
   *  in read() on /dev/rtc0 shows here as the alarm's delay, spent with the VMM asleep in KVM_RUN. */
  longestRun: { ms: number; before: string };
  /** The host's view of the same RTC (DR through the VMM's own mapping), before and after the run. */
  hostRtc: { before: number; after: number };
}

/** With KVM_RUN on this thread, Node's event loop gets a turn (one setImmediate: the poll phase
 *  before it runs the callbacks of ready fds, vfiokit's eventfd watchers among them) before each
 *  exit that is not the console's, so that a masked MSI-X vector's fire has set its pending bit
 *  before the guest's next MSI-X access is handled, and at least this often between console exits.
 *  While the guest runs (or idles) inside KVM_RUN nothing of the VMM's runs: the interrupt paths
 *  the guest waits on are in-kernel (irqfds), so nothing needs to. */
export const EVENT_LOOP_TURN_MS = 50;
const loopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** SPIs are 32..1019 as INTIDs; the routing table keeps identity routes for all the vGIC has. */
const irqchipPins = (nrIrqs: number): number => nrIrqs - 32;

/** Boots the kernel with the device passed through (and the PCI functions, if any) and runs it to
 *  PSCI SYSTEM_OFF (or reset, a failing exit, or maxExits). Without asyncRun the thread blocks
 *  in each KVM_RUN, and the event loop runs between exits (EVENT_LOOP_TURN_MS); onLine is the
 *  live view. */
export async function runLinux(opts: LinuxRunOptions): Promise<LinuxReport> {
  const t00 = process.hrtime.bigint();
  const header = parseImageHeader(opts.kernel);
  const ramSize = opts.ramSize ?? LINUX_RAM_SIZE;
  const ram = { gpa: LAYOUT.ram.gpa, size: ramSize };
  const layout = linuxLayout(ram, header, opts.kernel.byteLength, opts.initrd.byteLength);
  const deviceName = opts.device ?? '9010000.pl031';
  const pciNames = opts.pci ?? [];
  const asyncRun = opts.asyncRun ?? false;
  const bootargs = [opts.bootargs ?? LINUX_BOOTARGS, opts.append].filter(Boolean).join(' ');
  const ecam = new EcamHost(PCI_LAYOUT.ecam.base, PCI_LAYOUT.ecam.buses);
  let dev: VfioDevice | undefined;
  let vm: Vm | undefined;
  let routes: KvmIrqRoutes | undefined;
  let pt: PlatformPassthrough | undefined;
  const fns: PciFunction[] = [];
  let ok = false;
  try {
    dev = openDevice(deviceName);
    // A quiet device: no alarm armed or pending from an earlier user (through the trap path).
    dev.region(0).write32(PL031_IMSC, 0); dev.region(0).write32(PL031_ICR, 1);

    vm = Vm.create();
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    if (pciNames.length) {
      vm.addIts(PCI_LAYOUT.its);
      // With an ITS, KVM wants the requester ID with every MSI: what KvmIrqRoutes' devid is for.
      if (vm.checkExtension(KVM_CAP_MSI_DEVID) !== 1) throw new Error('KVM does not ask for a device ID with MSIs although the VM has an ITS (KVM_CAP_MSI_DEVID)');
    }
    const mem = vm.addRam(ram.gpa, ram.size);
    const at = (gpa: bigint): number => Number(gpa - ram.gpa);
    mem.bytes.set(opts.kernel, at(layout.kernel));
    mem.bytes.set(opts.initrd, at(layout.initrd.start));
    vm.addVfioFile(dev.kvmVfioFile);
    const vcpu = vm.addVcpu();
    vm.initGic();   // the passthroughs' irqfds need the vGIC ready
    const board = linuxBoardDtb({
      ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bootargs, initrd: layout.initrd,
      ...(pciNames.length ? { pci: { its: PCI_LAYOUT.its, ecam: PCI_LAYOUT.ecam, mmio32: PCI_LAYOUT.mmio32, intxSpis: PCI_LAYOUT.intxSpis } } : {}),
    });
    const theVm = vm;
    let slot = -1;
    pt = dev.platform({
      bus: LAYOUT.bus, hostDtb: opts.hostDtb, interruptParent: board.gicPhandle, dt: { firstPhandle: FIRST_DEVICE_PHANDLE }, kvm: { vmFd: vm.fd },
      mapMemory: (s) => { slot = theVm.mapHost(s.gpa, s.size, s.hostAddress); },
      unmapMemory: () => theVm.unmapHost(slot),
    });
    const region = pt.placement.regions[0]!, spi = pt.placement.irqs[0]!;
    const regs = region.maps[0]!.mapping, size = region.size;
    const placement = { regionGpa: region.address, spi: spi.spi, intid: spi.intid };
    const dtb = mergeFdt(board.dtb, pt.dtNode().dtb, '/');
    if (BigInt(dtb.byteLength) > DTB_MAX) throw new Error(`guest DTB of ${dtb.byteLength} bytes is over the 2 MiB the boot protocol allows`);
    mem.bytes.set(dtb, at(layout.dtb));
    if (pciNames.length) {
      // After initGic: the vGIC's init installs KVM's default table, which would replace ours.
      routes = new KvmIrqRoutes(vm.fd, { irqchipPins: irqchipPins(LAYOUT.nrIrqs) });
      for (const [i, name] of pciNames.entries()) {
        fns.push(PciFunction.open({
          device: name, at: { bus: 0, dev: PCI_LAYOUT.firstSlot + i, fn: 0 }, vm, routes, ecam,
          ram: { gpa: ram.gpa, size: ram.size, hva: mem.hva }, intxSpis: PCI_LAYOUT.intxSpis,
        }));
      }
    }
    for (const [id, v] of [[xreg(0), layout.dtb], [xreg(1), 0n], [xreg(2), 0n], [xreg(3), 0n], [REG_PC, layout.kernel]] as [bigint, bigint][]) vcpu.setReg(id, v);

    const hostBefore = regs.read32(PL031_DR);
    const lines: { ms: number; text: string; counts: LinuxExitCounts }[] = [];
    const counts: LinuxExitCounts = { uartWrites: 0, uartFrReads: 0, uartOther: 0, device: 0, ecam: 0, msix: 0, barTraps: 0, stray: 0, retry: 0, end: 0 };
    const t0 = process.hrtime.bigint();
    const setupMs = Number(t0 - t00) / 1e6;
    const sinceStart = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    const uart = new Pl011Console(LAYOUT.console, (text) => { const ms = sinceStart(); lines.push({ ms, text, counts: { ...counts } }); opts.onLine?.(text, ms); });
    const strayAddrs: string[] = [];
    const maxExits = opts.maxExits ?? LINUX_MAX_EXITS;
    let end = '', exits = 0, inKvm = 0n, longest = 0n, longestAt = 0, lastTurn = process.hrtime.bigint();
    while (end === '') {
      const r0 = process.hrtime.bigint();
      const e: Exit = asyncRun ? await vcpu.stepAsync() : vcpu.step();
      const r1 = process.hrtime.bigint();
      const took = r1 - r0;
      inKvm += took;
      const consoleExit = e.kind === 'mmio' && e.addr >= LAYOUT.console && e.addr - LAYOUT.console < PL011_SIZE;
      if (!asyncRun && (!consoleExit || r1 - lastTurn > BigInt(EVENT_LOOP_TURN_MS) * 1_000_000n)) {
        await loopTurn();
        lastTurn = process.hrtime.bigint();
      }
      if (took > longest) { longest = took; longestAt = lines.length; }
      exits++;
      if (e.kind === 'mmio') {
        let reply: bigint | undefined;
        const u = uart.handle(e.addr, e.len, e.isWrite, e.data);
        if (u.handled) {
          reply = u.reply;
          const off = e.addr - LAYOUT.console;
          if (e.isWrite && off === 0n) counts.uartWrites++; else if (!e.isWrite && off === 0x18n) counts.uartFrReads++; else counts.uartOther++;
        } else if (ecam.contains(e.addr)) {
          counts.ecam++;
          reply = ecam.handle(e.addr, e.len, e.isWrite, e.data).reply;
        } else {
          const p = pciMmio(fns, e.addr, e.len, e.isWrite, e.data);
          if (p) { reply = p.reply; if (p.msix) counts.msix++; else counts.barTraps++; }
          else if (e.addr >= region.address && e.addr - region.address < size) counts.device++;
          else { counts.stray++; if (strayAddrs.length < 8) strayAddrs.push(`${e.isWrite ? 'W' : 'R'}${e.len}@0x${e.addr.toString(16)}`); }
        }
        if (!e.isWrite) completeMmioRead(vcpu.run, e.len, reply ?? (1n << BigInt(8 * e.len)) - 1n);
      } else if (e.kind === 'retry') counts.retry++;
      else { counts.end++; end = e.kind === 'system-event' ? e.event : `${e.reason} (0x${e.detail.toString(16)})`; }
      if (end === '' && exits >= maxExits) end = 'max-exits';
    }
    const runMs = sinceStart();
    const hostAfter = regs.read32(PL031_DR);
    // Housekeeping through the VMM's own mapping: leave the alarm masked whatever the guest did.
    regs.write32(PL031_IMSC, 0);
    const pci = fns.map((f): LinuxPciReport => ({
      name: f.name, guestAddress: `0000:${hex2(f.at.bus)}:${hex2(f.at.dev)}.${f.at.fn}`, devid: f.devid, intxGsi: f.intxGsi, relocation: f.pci.relocation,
      stats: f.stats(), counts: { ...f.counts }, dma: f.dev.dmaMappings(),
    }));
    const report: LinuxReport = {
      console: uart.text(), lines, placement, layout, dtbBytes: dtb.byteLength, bootargs, end, exits, counts, ecam: { ...ecam.counts }, pci,
      routeCommits: routes?.commits ?? 0, strayAddrs, setupMs,
      runMs, inKvmMs: Number(inKvm) / 1e6, longestRun: { ms: Number(longest) / 1e6, before: lines[longestAt]?.text ?? '' }, hostRtc: { before: hostBefore, after: hostAfter },
    };
    ok = true;
    return report;
  } finally {
    // The passthroughs (irqfds, memslots) while the VM is open; the routing table; the VM
    // (KVM-VFIO lets go of the devices' files); the devices.
    const steps: (() => void)[] = [
      () => pt?.close(), ...fns.map((f) => () => f.close()), () => routes?.close(), () => vm?.close(),
      ...fns.map((f) => () => f.closeDevice()), () => dev?.close(),
    ];
    let first: unknown;
    for (const step of steps) { try { step(); } catch (e) { first ??= e; } }
    // A failed run's own error wins; a clean run that cannot close cleanly fails with the first.
    if (ok && first !== undefined) throw first;   // eslint-disable-line no-unsafe-finally
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** A trapped access inside one of the functions' BARs, or undefined when it is none of theirs. */
function pciMmio(fns: PciFunction[], gpa: bigint, len: number, isWrite: boolean, data: bigint): { reply?: bigint; msix: boolean } | undefined {
  for (const f of fns) {
    const r = f.mmio(gpa, len, isWrite, data);
    if (r.handled) return { ...(r.reply === undefined ? {} : { reply: r.reply }), msix: r.msix ?? false };
  }
  return undefined;
}
