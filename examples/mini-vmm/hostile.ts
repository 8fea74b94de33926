// The mini-vmm against a hostile guest (guest/hostile.S): QEMU's edu (0000:00:02.0) and NVMe
// (0000:00:03.0, for its MSI-X table) behind the VMM's ECAM host bridge (vfiokit's PciPassthrough:
// the guest places the BARs and enables them itself, and can write anything into config space),
// and the pl031 with NO memslot (every register access traps and goes through the
// PlatformPassthrough), the interrupts on KVM irqfds.
// The guest hammers the trapped windows, the ECAM window and an address with nothing behind it at
// every width, writes garbage into config space and the MSI capability, raises interrupt storms,
// writes garbage into the NVMe's MSI-X table and PBA, makes MMIO accesses KVM cannot decode (a load
// or store pair), sets up LPIs and the vGIC's ITS itself and counts a ping-pong of edu MSIs
// delivered by irqfd through it, and aims edu DMA outside its RAM. This file is the VMM's side: it answers every exit (the guest
// never fails the VMM: all-ones reads, dropped writes, an external data abort for an access KVM
// cannot decode: vfiokit/vmm's setUpNisv and answerNisv), classifies and counts each one, keeps
// guest-placed BARs out of everything but the PCI window, and afterwards reads its own memory
// around guest RAM (CANARY) and the guest's counts ("= name hex" lines) for the caller to compare.
// Its own count of the edu's MSIs is the host's: the vfio-msi line of /proc/interrupts (each one
// the host kernel took and signalled to the irqfd), read at each of the guest's "= " lines, while
// the guest waits in that exit (the line goes when the guest turns MSI off: it prints its count
// before); and the MSI route the passthrough gave KVM (the address and data
// the guest wrote, the edu's requester ID).
//
// Guest physical map (the vGIC, ITS, console, PCI windows: vfiokit/vmm's BOARD, as vmm.ts):
//   0x0400_0000 RAM 384 KiB (below edu's 28-bit DMA mask): the image at +0, the parameter block at
//               +HOSTILE_PARAMS (hostile.S P_* and C_*), DMA buffers at +0xc000 / +0xd000, the
//               guest's LPI and ITS tables in five 64 KiB pages from +0x1_0000
//   0x0a00_0000 64 KiB with nothing behind it (HOSTILE_HOLE)
//   0x0c00_0000 platform bus: the pl031 (trapped: no memslot)
//   0x1000_0000 PCI memory window: the guest puts edu's BAR0 at its base, the NVMe's 16 MiB above
//   0x3f00_0000 ECAM: edu at 00:01.0, the NVMe at 00:02.0
// Host memory: one allocDma of three RAM sizes, [CANARY | guest RAM | CANARY]: only the middle is
// guest memory and mapped for DMA (IOVA = guest physical address); the two others are the VMM's
// own, the memory a DMA just outside guest RAM would hit if the IOMMU let it.
// Close order: the passthroughs (irqfds, memslots), the routing table, the VM, the devices, the
// host memory.
// Not responsible for: the guest (guest/hostile.S), the SMMU's fault log or the host's memory
// figures (the caller samples those around the run), the KVM calls (vfiokit/vmm's Vm).
import { allocDma, KvmIrqRoutes, openDevice, type DmaBuffer, type MsiRoute, type DmaMappingRecord, type PciPassthrough, type PciPassthroughStats, type PlatformPassthrough, type PlatformPassthroughStats, type VfioDevice, VFIO_PCI_CONFIG_REGION_INDEX } from '../../src/index';
import { KVM_CAP_MSI_DEVID } from '../../src/sys-api';
import { answerNisv, BarSlots, BOARD, completeMmioRead, EcamHost, intxSpi, PCI_INTERRUPT_PIN, REG_PC, requesterId, setUpNisv, Vm, xreg, type EcamCounts, type Exit, type NisvPolicy } from '../../src/vmm-api';
import { readFileSync } from 'node:fs';
import { MmioConsole } from './console';
import { boardDtb, FIRST_DEVICE_PHANDLE } from './dtb';
import { LAYOUT } from './vmm';

export const HOSTILE_LAYOUT = Object.freeze({
  ram: { gpa: 0x0400_0000n, size: 0x6_0000n },
  /** The guest's LPI and ITS tables (hostile.S ITS_*): 64 KiB into RAM, five 64 KiB pages (KVM's
   *  ITS wants its tables and command queue 64 KiB aligned). */
  itsMem: 0x0401_0000n,
  /** The event ID the guest gives the edu's MSI (its LPI is 8192 + it). */
  msiEvent: 7,
  /** The parameter block's offset in RAM (hostile.S P_*; its counters C_* follow). */
  params: 0x8000,
  /** Where the guest places edu's BAR0: the base of the PCI memory window. */
  bar0: BOARD.pciMmio32.base,
  /** 64 KiB of guest physical space with nothing behind it. */
  hole: { gpa: 0x0a00_0000n, size: 0x1_0000n },
  /** Where edu sits on the host bridge. */
  edu: { bus: 0, dev: 1, fn: 0 },
  /** Where the function with MSI-X (the NVMe) sits, and where the guest places its BAR0. */
  msix: { bus: 0, dev: 2, fn: 0 },
  msixBar0: BOARD.pciMmio32.base + 0x100_0000n,
});
/** QEMU's edu masks DMA addresses to 28 bits: every IOVA the guest aims at is below this. */
export const EDU_DMA_LIMIT = 1n << 28n;
/** Bytes of each DMA the guest aims outside its RAM (hostile.S OUT_LEN): one 4-byte access, which
 *  QEMU's SMMUv3 model turns into one translation fault event (a 16-byte DMA gave four, one per
 *  4-byte access). The host kernel logs at most 10 events per 5 s (arm-smmu-v3's ratelimit), so
 *  MAX_OUTSIDE is below that: every fault shows in the log. */
export const HOSTILE_DMA_LEN = 4;
/** What the VMM's memory around guest RAM holds; any other byte there after the run was written by someone. */
export const CANARY = 0xee;
/** At most this many IOVAs outside RAM (hostile.S reads P_OUT as 8 entries). */
export const MAX_OUTSIDE = 8;
/** A run that has not powered off after this many exits is stopped (the short run makes ~4,000). */
export const HOSTILE_MAX_EXITS = 5_000_000;
/** With KVM_RUN on this thread, the event loop gets a turn at least this often (linux.ts's reason:
 *  the passthrough's eventfd callbacks and onError run there). */
const EVENT_LOOP_TURN_MS = 50;
/** The Arm MSI window every arm64 IOMMU domain reserves for the host's ITS doorbell
 *  (/sys/kernel/iommu_groups/N/reserved_regions "msi"): a DMA aimed there is not a fault. */
const MSI_IOVA = { base: 0x0800_0000n, size: 0x10_0000n };

/** hostile.S's parameter block: byte offsets of each u64. */
const P = {
  ecam: 0, fn: 8, bar: 16, eduIntid: 24, rtc: 32, rtcIntid: 40, con: 48, gicd: 56, gicr: 64, hole: 72, nIrq: 80, nStorm: 88, nHammer: 96, nAlarm: 104, nOut: 112, seed: 120, out: 128,
  xfn: 192, xbar: 200, its: 208, itsMem: 216, nMsi: 224, devid: 232, event: 240, nNisv: 248,
} as const;
/** The first LPI INTID (GICv3): the edu's LPI is LPI_BASE + HOSTILE_LAYOUT.msiEvent. */
export const LPI_BASE = 8192;
/** GITS_TRANSLATER's offset in the ITS frame (GICv3: the translation frame's doorbell): the MSI
 *  address the guest gives the edu. */
export const GITS_TRANSLATER = 0x1_0040n;
/** Bytes of the block and its counters the VMM clears before the run. */
const PARAMS_BYTES = 512;
/** pl031 registers the VMM itself touches (housekeeping before and after the run). */
const PL031_DR = 0x00, PL031_LR = 0x08, PL031_IMSC = 0x10, PL031_ICR = 0x1c;

export interface HostileCounts {
  /** Interrupts the guest raises one at a time and waits for (INTx through irqfd + resample). */
  irqs: number;
  /** Raises in each storm (garbage MSI, then INTx back to back). */
  storm: number;
  /** Hammer rounds: each makes 32 accesses at the aligned widths and 18 misaligned ones. */
  hammer: number;
  /** pl031 alarms (one second apart at best). */
  alarms: number;
  /** MSIs the guest raises one at a time through the ITS and waits for (irqfd, LPI). */
  msi: number;
  /** Rounds of accesses KVM cannot decode (3 each: load pair, store pair, post-indexed load). */
  nisv: number;
}
/** The lab suite's run (about 20 s under the lab's nested TCG). */
export const HOSTILE_SHORT: HostileCounts = { irqs: 200, storm: 500, hammer: 60, alarms: 2, msi: 500, nisv: 20 };

export interface HostileOptions extends HostileCounts {
  guest: Uint8Array;
  /** The host's DTB (/sys/firmware/fdt), where the platform passthrough finds the pl031's node. */
  hostDtb: Uint8Array;
  /** Default the lab's edu, "0000:00:02.0". */
  edu?: string;
  /** Default the lab's pl031, "9010000.pl031". */
  rtc?: string;
  /** A function with MSI-X whose table and PBA the guest hammers (default the lab's NVMe,
   *  "0000:00:03.0"); null: none. */
  msix?: string | null;
  /** true: the MSI-X function's passthrough gets no onError, so the deliveries KVM refuses go to
   *  the library's default report (console.error, thinned: the first 10, then each power of two);
   *  the edu's and the pl031's still go to `notices`. Default false. */
  msixDefaultOnError?: boolean;
  /** The guest's random seed (xorshift32, non-zero). */
  seed?: number;
  onLine?: (line: string, ms: number) => void;
}

/** KVM_RUN returns by cause: every exit lands in exactly one. */
export interface HostileExitClasses {
  /** Console bytes. */
  console: number;
  /** The ECAM window. */
  ecam: number;
  /** The pl031's trapped window (forwarded through the PlatformPassthrough). */
  rtc: number;
  /** The MSI-X table or PBA of the function with MSI-X (trapped, emulated by the passthrough). */
  msix: number;
  /** Inside a placed BAR but not its MSI-X table or PBA, where no memslot is (a slot the VMM refused). */
  bar: number;
  /** The hole. */
  hole: number;
  /** Accesses KVM could not decode (KVM_EXIT_ARM_NISV), each answered with an external data abort. */
  nisv: number;
  /** Any other address. */
  stray: number;
  /** KVM_RUN interrupted (a signal). */
  retry: number;
  /** The run's end. */
  end: number;
}

export interface HostileReport {
  console: string;
  end: string;
  exits: number;
  classes: HostileExitClasses;
  /** The guest's own counts, from its "= name hex" lines. */
  guest: Record<string, number>;
  runMs: number;
  exitsPerSecond: number;
  /** Console lines with the ms (since the first KVM_RUN) at which each completed, the exits until
   *  then and the process's resident memory then (KiB): the guest prints one line per phase. */
  lines: { ms: number; text: string; exits: number; rssKiB: number }[];
  ecam: EcamCounts;
  pci: PciPassthroughStats;
  /** The function with MSI-X's passthrough (undefined without one). */
  msixPci: PciPassthroughStats | undefined;
  rtc: PlatformPassthroughStats;
  /** Guest-placed BAR pieces: installed as memslots, refused (outside the PCI window or
   *  overlapping another slot: the guest's accesses there trap), removed. */
  slots: { mapped: number; refused: number; removed: number };
  /** Failures the VMM caught while answering an exit (a passthrough throwing): none expected. */
  errors: string[];
  /** What the passthroughs reported through onError: a delivery KVM refused is one (the guest's
   *  garbage MSI/MSI-X message, counted in deliveriesBlocked), anything else a failure. */
  notices: string[];
  /** What the VMM did about accesses KVM cannot decode (setUpNisv), and where they were. */
  nisv: { policy: NisvPolicy; inHole: number; elsewhere: number };
  /** The edu's MSI routes as the passthrough gave them to KVM (address, data, devid), the last
   *  one given for the edu's requester ID; and the host's count of the edu's MSIs (vfio-msi in /proc/interrupts) at
   *  each of the guest's "= " lines (by the line's name). */
  eduMsiRoute: MsiRoute | undefined;
  hostMsi: Record<string, number>;
  /** The IOVAs the guest aimed its stray DMAs at. */
  outside: bigint[];
  /** Bytes of the VMM's memory before and after guest RAM that no longer hold CANARY. */
  canaryChanged: number;
  dmaMappings: DmaMappingRecord[];
  /** Resident memory of the process (KiB) at the start, at the guest's first exit (the VM and the
   *  devices set up) and at the end of the run (before closing): the last two are the VMM's growth
   *  while the guest hammers it. */
  rssKiB: { before: number; firstExit: number; after: number };
  /** The longest time the VMM spent on one exit (its responsiveness to the guest): the exit's class and ms. */
  longestExit: { what: string; ms: number };
}

/** The IOVAs a hostile guest tries outside RAM: just past it, just before it, 0, the top of edu's
 *  reach, the VMM's own memory by its host address (as a guest that learned it would), and two
 *  more; none in the host's MSI window. */
export function outsideIovas(ram: { gpa: bigint; size: bigint }, vmmHostAddress: bigint): bigint[] {
  const end = ram.gpa + ram.size;
  const inRam = (a: bigint): boolean => a + BigInt(HOSTILE_DMA_LEN) > ram.gpa && a < end;
  const inMsi = (a: bigint): boolean => a + BigInt(HOSTILE_DMA_LEN) > MSI_IOVA.base && a < MSI_IOVA.base + MSI_IOVA.size;
  const byHva = vmmHostAddress & (EDU_DMA_LIMIT - 1n) & ~0xfn;
  const list = [end, ram.gpa - 0x1000n, 0n, EDU_DMA_LIMIT - 0x1000n, byHva, end + 0x8000n, 0x0200_0000n, 0x0ff0_0000n];
  return list.map((a) => (inRam(a) || inMsi(a) ? end + 0x4000n : a));
}

/** The host's count of `device`'s MSIs so far: the vfio-msi lines of /proc/interrupts (vfio-pci
 *  names each vector's IRQ "vfio-msi[N](device)"), summed over CPUs; 0 when none is requested. */
export function hostMsiCount(device: string): number {
  let n = 0;
  for (const line of readFileSync('/proc/interrupts', 'utf8').split('\n')) {
    if (!line.includes(`vfio-msi[`) || !line.includes(`(${device})`)) continue;
    for (const f of line.trim().split(/\s+/).slice(1)) { if (/^\d+$/.test(f)) n += Number(f); else break; }
  }
  return n;
}

/** The VM's routing table, recording the MSI routes the passthroughs give it. */
class WatchedRoutes extends KvmIrqRoutes {
  /** The last route given for each requester ID. */
  readonly byDevid = new Map<number | undefined, MsiRoute>();
  override addMsi(route: MsiRoute): number { const gsi = super.addMsi(route); this.byDevid.set(route.devid, { ...route }); return gsi; }
  override updateMsi(gsi: number, route: MsiRoute): void { super.updateMsi(gsi, route); this.byDevid.set(route.devid, { ...route }); }
}

const loopTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const rssKiB = (): number => Math.round(process.memoryUsage().rss / 1024);

/** Runs guest/hostile.S with the edu and the pl031 passed through, to PSCI SYSTEM_OFF (or a
 *  failing exit, or HOSTILE_MAX_EXITS), and reports what the VMM saw and found. */
export async function runHostile(opts: HostileOptions): Promise<HostileReport> {
  const L = HOSTILE_LAYOUT;
  const ram = L.ram;
  if (opts.guest.byteLength > L.params) throw new Error(`guest image of ${opts.guest.byteLength} bytes overlaps its parameters at +0x${L.params.toString(16)}`);
  for (const [k, v] of Object.entries({ irqs: opts.irqs, storm: opts.storm, hammer: opts.hammer, alarms: opts.alarms, msi: opts.msi, nisv: opts.nisv })) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new Error(`${k}: ${v} is not a count (0..2^32-1)`);
  }
  const rssBefore = rssKiB();
  const ecam = new EcamHost(BOARD.ecam.base, BOARD.ecam.buses);
  let mem: DmaBuffer | undefined;
  let rtc: VfioDevice | undefined, edu: VfioDevice | undefined, xdev: VfioDevice | undefined;
  let clockFound = { seconds: 0, atMs: 0 };
  let vm: Vm | undefined;
  let routes: WatchedRoutes | undefined;
  let pt: PlatformPassthrough | undefined, pci: PciPassthrough | undefined, xpci: PciPassthrough | undefined;
  const errors: string[] = [], notices: string[] = [];
  const text = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  const error = (e: unknown): void => { errors.push(text(e)); };
  const notice = (e: unknown): void => { notices.push(text(e)); };
  let ok = false;
  try {
    const size = Number(ram.size);
    mem = allocDma(3 * size);
    mem.bytes.fill(CANARY);
    const guestRam = mem.bytes.subarray(size, 2 * size);
    guestRam.fill(0);
    guestRam.set(opts.guest, 0);
    const ramHva = mem.hostAddress + ram.size;

    rtc = openDevice(opts.rtc ?? '9010000.pl031');
    // A quiet pl031: no alarm armed or pending from an earlier user (through the trap path).
    rtc.region(0).write32(PL031_IMSC, 0); rtc.region(0).write32(PL031_ICR, 1);
    // Its clock as found: the guest's garbage may load any time into it (LR), and the device must
    // come back as it was (later users read the time).
    clockFound = { seconds: rtc.region(0).read32(PL031_DR), atMs: Date.now() };
    edu = openDevice(opts.edu ?? '0000:00:02.0');
    if (edu.iommu === 'noiommu') throw new Error(`${edu.name} has no IOMMU: its DMA could not be confined to guest RAM`);
    edu.mapDma({ iova: ram.gpa, buffer: guestRam, size: ram.size });
    const msixName = opts.msix === undefined ? '0000:00:03.0' : opts.msix;
    if (msixName !== null) {
      xdev = openDevice(msixName);
      if (xdev.iommu === 'noiommu') throw new Error(`${xdev.name} has no IOMMU: its DMA could not be confined to guest RAM`);
      // No DMA mapping of its own: vfiokit shares one container (or IOAS) among a process's
      // devices, where guest RAM is mapped already (a second map at the same IOVA is EEXIST); and
      // the guest never starts the NVMe's controller, it only writes its MSI-X table.
    }

    vm = Vm.create();
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    vm.addIts(BOARD.its);
    if (vm.checkExtension(KVM_CAP_MSI_DEVID) !== 1) throw new Error('KVM does not ask for a device ID with MSIs although the VM has an ITS (KVM_CAP_MSI_DEVID)');
    // Accesses KVM cannot decode: reported to us, answered with an external abort (when KVM can).
    const nisvPolicy = setUpNisv(vm);
    vm.mapHost(ram.gpa, ram.size, ramHva);
    vm.addVfioFile(rtc.kvmVfioFile);
    vm.addVfioFile(edu.kvmVfioFile);
    if (xdev) vm.addVfioFile(xdev.kvmVfioFile);
    const vcpu = vm.addVcpu();
    vm.initGic();

    // The pl031: placed, IRQ on an irqfd, and deliberately NO memslot: every access traps.
    const board = boardDtb({ ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr } });
    pt = rtc.platform({
      bus: LAYOUT.bus, hostDtb: opts.hostDtb, interruptParent: board.gicPhandle, dt: { firstPhandle: FIRST_DEVICE_PHANDLE },
      kvm: { vmFd: vm.fd }, mapMemory: () => {}, unmapMemory: () => {}, onError: notice,
    });
    const rtcAt = pt.placement.regions[0]!.address, rtcIntid = pt.placement.irqs[0]!.intid;

    // The edu behind the host bridge: the guest places and enables it.
    routes = new WatchedRoutes(vm.fd, { irqchipPins: LAYOUT.nrIrqs - 32 });
    const slots = new BarSlots(vm, BOARD.pciMmio32);
    const pinOf = (d: VfioDevice): number => Number(d.regions[VFIO_PCI_CONFIG_REGION_INDEX]!.read(PCI_INTERRUPT_PIN, 1));
    const intxGsi = intxSpi(pinOf(edu), BOARD.intxSpis);
    if (intxGsi === undefined) throw new Error(`${edu.name} has no INTx pin (PCI_INTERRUPT_PIN ${pinOf(edu)})`);
    pci = edu.pci({
      mapMemory: (s) => slots.map(s), unmapMemory: (s) => slots.unmap(s), onError: notice,
      kvm: { vmFd: vm.fd, routes, devid: requesterId(L.edu.bus, L.edu.dev, L.edu.fn), intxGsi },
    });
    ecam.attach(L.edu, pci);
    if (xdev) {
      const gsi = intxSpi(pinOf(xdev), BOARD.intxSpis);
      xpci = xdev.pci({
        mapMemory: (s) => slots.map(s), unmapMemory: (s) => slots.unmap(s), ...(opts.msixDefaultOnError ? {} : { onError: notice }),
        kvm: { vmFd: vm.fd, routes, devid: requesterId(L.msix.bus, L.msix.dev, L.msix.fn), ...(gsi === undefined ? {} : { intxGsi: gsi }) },
      });
      ecam.attach(L.msix, xpci);
    }

    // The parameter block.
    const outside = outsideIovas(ram, mem.hostAddress + 2n * ram.size);
    const block = new DataView(guestRam.buffer, guestRam.byteOffset + L.params, PARAMS_BYTES);
    for (let i = 0; i < PARAMS_BYTES; i += 8) block.setBigUint64(i, 0n, true);
    const put = (off: number, v: bigint | number): void => block.setBigUint64(off, BigInt(v), true);
    put(P.ecam, BOARD.ecam.base); put(P.fn, BigInt((L.edu.dev << 15) | (L.edu.fn << 12))); put(P.bar, L.bar0);
    put(P.eduIntid, intxGsi + 32); put(P.rtc, rtcAt); put(P.rtcIntid, rtcIntid); put(P.con, LAYOUT.console);
    put(P.gicd, LAYOUT.gicd); put(P.gicr, LAYOUT.gicr); put(P.hole, L.hole.gpa);
    put(P.nIrq, opts.irqs); put(P.nStorm, opts.storm); put(P.nHammer, opts.hammer); put(P.nAlarm, opts.alarms);
    put(P.nOut, outside.length); put(P.seed, (opts.seed ?? 0x2545_f491) >>> 0 || 1);
    outside.forEach((a, i) => put(P.out + 8 * i, a));
    put(P.its, BOARD.its); put(P.itsMem, L.itsMem); put(P.nMsi, opts.msi); put(P.devid, requesterId(L.edu.bus, L.edu.dev, L.edu.fn));
    put(P.event, L.msiEvent); put(P.nNisv, opts.nisv);
    if (xpci) { put(P.xfn, BigInt((L.msix.dev << 15) | (L.msix.fn << 12))); put(P.xbar, L.msixBar0); }
    for (const [id, v] of [[xreg(0), ram.gpa + BigInt(L.params)], [REG_PC, ram.gpa]] as [bigint, bigint][]) vcpu.setReg(id, v);

    const con = new MmioConsole(LAYOUT.console);
    const classes: HostileExitClasses = { console: 0, ecam: 0, rtc: 0, msix: 0, bar: 0, hole: 0, nisv: 0, stray: 0, retry: 0, end: 0 };
    const nisvAt = { inHole: 0, elsewhere: 0 };
    const hostMsi: Record<string, number> = {};
    const inHole = (a: bigint): boolean => a >= L.hole.gpa && a - L.hole.gpa < L.hole.size;
    const fns = [pci, ...(xpci ? [xpci] : [])];
    const lines: HostileReport['lines'] = [];
    let lineStart = 0, end = '', exits = 0, longest = 0n, longestWhat = '', rssFirst = 0;
    const t0 = process.hrtime.bigint();
    let lastTurn = t0;
    const sinceStart = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    while (end === '') {
      const e: Exit = vcpu.step();
      const h0 = process.hrtime.bigint();
      if (exits++ === 0) rssFirst = rssKiB();
      const before = { ...classes };
      const consoleExit = e.kind === 'mmio' && e.addr === LAYOUT.console;
      if (!consoleExit || h0 - lastTurn > BigInt(EVENT_LOOP_TURN_MS) * 1_000_000n) { await loopTurn(); lastTurn = process.hrtime.bigint(); }
      if (e.kind === 'mmio') {
        let reply: bigint | undefined;
        try {
          const c = con.handle(e.addr, e.len, e.isWrite, e.data);
          if (c.handled) {
            classes.console++; reply = c.reply;
            if (e.isWrite && e.len === 1 && (e.data & 0xffn) === 0x0an) {
              const text = con.text().slice(lineStart, -1);
              lineStart = con.length;
              lines.push({ ms: sinceStart(), text, exits, rssKiB: rssKiB() });
              // The guest waits in this exit: the host's count is where the guest's count is.
              if (text.startsWith('= ')) hostMsi[text.split(' ')[1]!] = hostMsiCount(edu.name);
              opts.onLine?.(text, sinceStart());
            }
          } else if (ecam.contains(e.addr)) {
            classes.ecam++; reply = ecam.handle(e.addr, e.len, e.isWrite, e.data).reply;
          } else if (pt.claims(e.addr)) {
            classes.rtc++;
            if (e.isWrite) pt.mmioWrite(e.addr, e.len, e.data); else reply = pt.mmioRead(e.addr, e.len);
          } else if (fns.some((f) => f.claims(e.addr))) {
            const f = fns.find((x) => x.claims(e.addr))!;
            const msix0 = f.stats().msixAccesses;
            if (e.isWrite) f.mmioWrite(e.addr, e.len, e.data); else reply = f.mmioRead(e.addr, e.len);
            if (f.stats().msixAccesses !== msix0) classes.msix++; else classes.bar++;
          } else if (inHole(e.addr)) classes.hole++;
          else classes.stray++;
        } catch (x) { error(x); }
        if (!e.isWrite) completeMmioRead(vcpu.run, e.len, reply ?? (1n << BigInt(8 * e.len)) - 1n);
      } else if (e.kind === 'nisv') {
        classes.nisv++;
        if (inHole(e.faultIpa)) nisvAt.inHole++; else nisvAt.elsewhere++;
        try { answerNisv(vcpu, nisvPolicy, e.faultIpa); } catch (x) { error(x); end = 'nisv-unanswered'; }
      } else if (e.kind === 'retry') classes.retry++;
      else { classes.end++; end = e.kind === 'system-event' ? e.event : `${e.reason} (0x${e.detail.toString(16)})`; }
      if (end === '' && exits >= HOSTILE_MAX_EXITS) end = 'max-exits';
      const took = process.hrtime.bigint() - h0;
      if (took > longest) { longest = took; longestWhat = (Object.keys(classes) as (keyof HostileExitClasses)[]).find((k) => classes[k] !== before[k]) ?? 'none'; }
    }
    const runMs = sinceStart();
    // Housekeeping: leave the alarm masked and the clock where it would be, whatever the guest did.
    rtc.region(0).write32(PL031_IMSC, 0); rtc.region(0).write32(PL031_ICR, 1);
    rtc.region(0).write32(PL031_LR, (clockFound.seconds + Math.round((Date.now() - clockFound.atMs) / 1000)) >>> 0);
    const text = con.text();
    const guest: Record<string, number> = {};
    for (const m of text.matchAll(/^= (\S+) ([0-9a-f]{8})$/gm)) guest[m[1]!] = parseInt(m[2]!, 16);
    // Counted in place: spread into an array, the 768 KiB around RAM cost tens of MiB of RSS.
    let canaryChanged = 0;
    for (const part of [mem.bytes.subarray(0, size), mem.bytes.subarray(2 * size)]) for (const b of part) if (b !== CANARY) canaryChanged++;
    const report: HostileReport = {
      console: text, end, exits, classes: { ...classes }, guest, runMs, exitsPerSecond: Math.round(exits / (runMs / 1000)),
      longestExit: { what: longestWhat, ms: Number(longest) / 1e6 }, lines, ecam: { ...ecam.counts }, pci: pci.stats(), msixPci: xpci?.stats(), rtc: pt.stats(),
      slots: { mapped: slots.counts.mapped, refused: slots.counts.refused, removed: slots.counts.removed }, errors, notices, outside,
      nisv: { policy: nisvPolicy, ...nisvAt }, eduMsiRoute: routes.byDevid.get(requesterId(L.edu.bus, L.edu.dev, L.edu.fn)), hostMsi,
      canaryChanged, dmaMappings: edu.dmaMappings(),
      rssKiB: { before: rssBefore, firstExit: rssFirst, after: rssKiB() },
    };
    ok = true;
    return report;
  } finally {
    // The passthroughs while the VM is open; the routing table; the VM; the devices; the memory.
    const steps: (() => void)[] = [() => pt?.close(), () => pci?.close(), () => xpci?.close(), () => routes?.close(), () => vm?.close(), () => edu?.close(), () => xdev?.close(), () => rtc?.close(), () => mem?.close()];
    let first: unknown;
    for (const step of steps) { try { step(); } catch (e) { first ??= e; } }
    if (ok && first !== undefined) throw first;   // eslint-disable-line no-unsafe-finally
  }
}
