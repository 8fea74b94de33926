// PciPassthrough: the composition room of a PCI function handed to a guest. The VMM's ECAM /
// config-space handler and its MMIO exit handler call it; it runs the guest's accesses through the
// core's decisions and carries out their actions:
//   PciConfig (shadow config, THE RULE of BAR mappings)  -> memory slots (GuestBars), COMMAND and
//                                                           forwarded capabilities to region 7
//   PciMsix (table, PBA, per-vector mask and pending)    -> MSI-X vectors (VectorSet): routes,
//                                                           trigger switches, deliveries
//   the MSI capability as the shadow holds it            -> MSI vectors, the same way
//   IrqMachine (INTx / MSI / MSI-X modes, INTx EOI)      -> IrqRouting (INTx irqfd + resample, or
//                                                           setIntx), VFIO index enable/disable
// Mode switches are the machine's: INTx is disabled (and its irqfd deassigned) before MSI or
// MSI-X is enabled, and comes back when the guest disables them.
//
// MSI-X vector count (VFIO enables vectors [0, n) of the index): n starts at the vectors in use
// when the guest enables MSI-X (live, or given a message; at least 1) and grows when the guest
// unmasks a vector past it. Without VFIO_IRQ_INFO_NORESIZE the kernel grows the index in place
// (one SET_IRQS for the new vectors; the others are untouched). With it the machine disables and
// re-enables the index, during which a fire can be lost, so each vector that was live gets one
// delivery afterwards: a spurious MSI is harmless (a driver finds no work), a lost one is an I/O
// timeout. Enabling every table entry up front would avoid the rebuilds but takes host interrupt
// vectors (ITS LPIs, x86 vectors) for entries the guest may never use; QEMU grows the same way.
//
// Close order (fixed): interrupts (the VFIO indexes disabled, the INTx irqfd deassigned, the IRQ
// machine freed) -> MSI/MSI-X vectors (irqfds deassigned, routes removed, eventfds closed) ->
// memory slots (the VMM's unmapMemory) and the BAR mappings -> the shadow config.
// Not responsible for: the VM (its fd, memslot numbers, interrupt controller), the GSI table's
// lifetime (KvmIrqRoutes), I/O BARs (a VMM on arm64 has no port I/O: they are not placed).
import { VfioError } from '../errors.js';
import { ReportThinner, reportNote } from '../reports.js';
import type { VfioDevice } from '../device/device.js';
import { KvmIrqRoutes } from '../kvm/routes.js';
import { PciConfig, decodeBars, findCapabilities, msixHoles, type PciAction, type Capabilities } from '../core/pci.js';
import { PciMsix, msixGuestView } from '../core/msix.js';
import type { IrqRouting } from '../device/irq.js';
import { Teardown } from '../device/context.js';
import { GuestBars, type BarLayout, type GuestMemorySlot } from './bars.js';
import { VectorSet, type VectorStats } from './vectors.js';
import { badArgument, checkBigU64, checkFd, checkFn, checkInt, checkObject, checkOneOf } from '../../shim/args.js';
import { VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX } from '../../shim/uapi/vfio.js';
import type { PciIrqMode } from '../core/irq-machine.js';

export type { GuestMemorySlot } from './bars.js';

/** KVM delivery of a {@link PciPassthrough}'s interrupts. */
export interface PciKvmOptions {
  /** The VM fd (irqfds are assigned on it). */
  vmFd: number;
  /** The VM's GSI routing table: MSI/MSI-X vectors get MSI routes there. */
  routes: KvmIrqRoutes;
  /** The function's requester ID as the guest's ITS sees it: bus << 8 | dev << 3 | fn. */
  devid: number;
  /** The GSI of the guest's INTx line (irqfd + resample); without it INTx goes through setIntx. */
  intxGsi?: number;
}

/** Options of {@link VfioDevice.pci}. */
export interface PciPassthroughOptions {
  /** Install `size` bytes of host memory at `hostAddress` as guest memory at `gpa` (a KVM memslot):
   *  called for each mappable, page-aligned piece of a memory BAR when the guest enables it
   *  (never for MSI-X table/PBA pages, whatever MSIX_MAPPABLE says). */
  mapMemory(slot: GuestMemorySlot): void;
  /** Remove a slot that mapMemory installed (BAR moved, decoding off, reset, close). */
  unmapMemory(slot: GuestMemorySlot): void;
  /** KVM delivery: MSI/MSI-X vectors as irqfds on MSI routes in `routes` (devid = the function's
   *  requester ID as the guest's ITS sees it: bus << 8 | dev << 3 | fn), INTx as irqfd + resample
   *  at `intxGsi`. Without `kvm`: userspace delivery through deliverMsi / setIntx. */
  kvm?: PciKvmOptions;
  /** Userspace MSI/MSI-X delivery (required without `kvm`): inject the message `data` at `address`. */
  deliverMsi?(address: bigint, data: number): void;
  /** Userspace INTx (without `kvm.intxGsi`): set the guest's INTx line to `level`. With neither,
   *  INTx is not routed (the guest must use MSI or MSI-X). */
  setIntx?(level: boolean): void;
  /** 'auto' (default): relocate the MSI-X table/PBA where the core says it shares a host page with
   *  registers; 'off': trap them where they are. */
  msixRelocation?: 'auto' | 'off';
  /** Errors while carrying out actions from an event callback, and each delivery KVM refuses,
   *  each one (default console.error, thinned as {@link reportShown} says: a guest can cause one
   *  per access). */
  onError?(error: unknown): void;
}

/** The counters of a {@link PciPassthrough} ({@link PciPassthrough.stats}). */
export interface PciPassthroughStats {
  /** Guest config reads. */
  configReads: number;
  /** Guest config writes. */
  configWrites: number;
  /** Guest accesses to trapped BAR ranges that went to the device (region trap path). */
  barTraps: number;
  /** Guest accesses to the MSI-X table or PBA. */
  msixAccesses: number;
  /** Vectors the guest masked (the host stopped direct delivery). */
  vectorMasks: number;
  /** Vectors the guest unmasked (direct delivery again). */
  vectorUnmasks: number;
  /** KVM_IRQFD assigns of MSI/MSI-X vectors (one per vector until reset or close). */
  irqfdAssigns: number;
  /** KVM_IRQFD deassigns of MSI/MSI-X vectors (at reset and close only). */
  irqfdDeassigns: number;
  /** VFIO trigger switches of one vector between its irqfd eventfd and its userspace eventfd. */
  triggerSwitches: number;
  /** MSI route updates (KvmIrqRoutes.updateMsi) after the guest rewrote a vector's address/data. */
  routeUpdates: number;
  /** mapMemory calls. */
  slotsMapped: number;
  /** unmapMemory calls. */
  slotsUnmapped: number;
  /** Messages injected by the host (pending at unmask, userspace delivery, after a rebuild). */
  deliveries: number;
  /** Of those, with KVM, the ones KVM did not deliver (KVM_SIGNAL_MSI answered 0 or failed: the
   *  guest's ITS is disabled or has no translation for the message; each failure also goes to onError). */
  deliveriesBlocked: number;
  /** MSI-X index rebuilds: disabled and re-enabled to grow it (the kernel set NORESIZE). */
  indexRebuilds: number;
  /** Vectors of the current mode enabled in VFIO (0 for INTx and none). */
  enabledVectors: number;
  /** The interrupt mode the IRQ machine has the function in. */
  mode: PciIrqMode;
}

/** Bytes of config space read from region 7: the PCIe extended space when the region has it. */
const PCI_CFG_SPACE_SIZE = 256;
const PCI_CFG_SPACE_EXP_SIZE = 4096;
/** Offsets in the type 0 header (include/uapi/linux/pci_regs.h). */
const PCI_INTERRUPT_PIN = 0x3d;            // PCI_INTERRUPT_PIN: 0 = no INTx
const PCI_STD_HEADER_SIZEOF = 0x40;        // the header the shadow always virtualizes
const PCI_MSIX_FLAGS_ENABLE = 0x8000;      // MSI-X Message Control: enable
const PCI_MSI_FLAGS_ENABLE = 0x0001;       // MSI Message Control: enable
const PCI_MSI_FLAGS_QSIZE = 0x0070;        // MSI Message Control: Multiple Message Enable
const PCI_MSI_FLAGS_64BIT = 0x0080;        // MSI Message Control: 64-bit address
const PCI_MSI_FLAGS_MASKBIT = 0x0100;      // MSI Message Control: per-vector masking
/** Bytes of an MSI-X table entry and of a PBA qword (PCI spec 6.8.2). */
const MSIX_ENTRY_SIZE = 16;
const MSIX_PBA_QWORD_VECTORS = 64;

const U32_MAX = 0xffff_ffff;

/** The function as the guest sees it (#guestView). */
interface GuestView { config: Uint8Array; sizes: bigint[]; deviceSizes: bigint[]; moved: 'none' | 'extend' | 'new-bar' }

/** Bytes of the MSI capability as the core bounds it (decode.ts msiBytes), rounded to dwords. */
function msiCapBytes(control: number): number {
  const base = control & PCI_MSI_FLAGS_64BIT ? 14 : 10;
  return (control & PCI_MSI_FLAGS_MASKBIT ? base + 10 : base) + 3 & ~3;
}

/** The config ranges passed through to the device (read live from region 7, written through):
 *  everything past the header that is neither the MSI nor the MSI-X capability. */
function forwardRanges(caps: Capabilities, length: number): { offset: number; length: number }[] {
  const virt: [number, number][] = [];
  if (caps.msi) virt.push([caps.msi.offset & ~3, (caps.msi.offset & ~3) + msiCapBytes(caps.msi.control)]);
  if (caps.msix) virt.push([caps.msix.offset & ~3, (caps.msix.offset & ~3) + 12]);
  virt.sort((a, b) => a[0] - b[0]);
  const out: { offset: number; length: number }[] = [];
  let at = PCI_STD_HEADER_SIZEOF;
  for (const [lo, hi] of virt) {
    if (lo > at) out.push({ offset: at, length: lo - at });
    at = Math.max(at, hi);
  }
  if (length > at) out.push({ offset: at, length: length - at });
  return out;
}

/**
 * The composition room of a PCI function passed through to a guest ({@link VfioDevice.pci}).
 * The VMM's ECAM handler calls configRead/configWrite, its MMIO exit handler claims and
 * mmioRead/mmioWrite for the trapped parts of the BARs; this object carries out what the core
 * decides: BAR pieces become memory slots (mapMemory/unmapMemory), MSI/MSI-X vectors become VFIO
 * eventfds delivered by KVM irqfds on MSI routes (or by deliverMsi), INTx an irqfd with resample
 * (or setIntx). What a guest does never throws (bad accesses read all-ones, writes are dropped,
 * both counted); a failure to carry out an action (a refused ioctl, a mapMemory that threw) does.
 *
 * @example
 * ```ts
 * import { openDevice, KvmIrqRoutes } from 'vfiokit';
 *
 * declare const vmFd: number;
 * declare function addMemslot(gpa: bigint, size: bigint, host: bigint): void;
 * declare function removeMemslot(gpa: bigint): void;
 * const dev = openDevice('0000:00:03.0');
 * const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 96 });
 * const pci = dev.pci({
 *   mapMemory: (s) => addMemslot(s.gpa, s.size, s.hostAddress),
 *   unmapMemory: (s) => removeMemslot(s.gpa),
 *   kvm: { vmFd, routes, devid: 0x18, intxGsi: 36 },
 * });
 * // the VMM's ECAM handler and MMIO exit handler:
 * const id = pci.configRead(0x00, 4);
 * pci.configWrite(0x04, 2, 0x0006);
 * if (pci.claims(0x1000_0000n)) pci.mmioWrite(0x1000_0000n, 4, 1n);
 * console.log(id.toString(16), pci.stats().irqfdAssigns);
 * dev.close(); // closes pci first
 * routes.close();
 * ```
 */
export class PciPassthrough {
  /** The device passed through. */
  readonly device: VfioDevice;
  /** The MSI-X relocation applied to the guest's view: 'extend' (the table's BAR doubled, the
   *  table and PBA in its upper half), 'new-bar' (a BAR of their own), 'none' (they stayed). */
  readonly relocation: 'none' | 'extend' | 'new-bar';
  #opts: PciPassthroughOptions;
  #kvm: PciKvmOptions | undefined;
  #shadow: PciConfig;
  #msix: PciMsix | undefined;
  #caps: Capabilities;
  #bars: GuestBars;
  #msi: VectorSet;
  #msixVectors: VectorSet;
  #routing: IrqRouting | undefined;
  /** INTx is routed (the device has it and a delivery path was given). */
  #intx = false;
  /** MSI vectors that fired while masked (MSI has no emulated pending bits). */
  #msiPending = new Set<number>();
  #closed = false;
  #resetting = false;
  #cfgBuf = new Uint8Array(4);
  readonly #stats: PciPassthroughStats & VectorStats = {
    configReads: 0, configWrites: 0, barTraps: 0, msixAccesses: 0, vectorMasks: 0, vectorUnmasks: 0, irqfdAssigns: 0,
    irqfdDeassigns: 0, triggerSwitches: 0, routeUpdates: 0, slotsMapped: 0, slotsUnmapped: 0, deliveries: 0, deliveriesBlocked: 0,
    indexRebuilds: 0, enabledVectors: 0, mode: 'none',
  };

  /** @internal use VfioDevice.pci() */
  static of(device: VfioDevice, opts: PciPassthroughOptions): PciPassthrough { return new PciPassthrough(device, opts); }

  private constructor(device: VfioDevice, opts: PciPassthroughOptions) {
    checkOptions(opts);
    this.device = device;
    this.#opts = opts;
    this.#kvm = opts.kvm;
    const name = device.name;
    const view = this.#guestView(this.#readConfig());
    this.relocation = view.moved;
    const config = view.config;
    this.#caps = findCapabilities(config);
    const ranges = forwardRanges(this.#caps, config.length);
    this.#shadow = new PciConfig(config, view.sizes, { device: name, forward: { ranges, read: (off, w) => this.#configDeviceRead(off, w) } });
    const t = new Teardown();
    try {
      this.#msix = this.#caps.msix ? new PciMsix(this.#shadow) : undefined;
      this.#bars = new GuestBars(this.#barHost(), this.#layouts(view));
      const host = this.#vectorHost();
      this.#msi = new VectorSet(host, VFIO_PCI_MSI_IRQ_INDEX);
      this.#msixVectors = new VectorSet(host, VFIO_PCI_MSIX_IRQ_INDEX);
      this.#routing = this.#route(config);
      this.#wireIntx();
    } catch (e) {
      t.step(() => this.#routing?.close());
      t.step(() => this.#bars?.close());
      t.step(() => this.#shadow.close());
      throw e;
    }
  }

  // ---- construction ----------------------------------------------------------------------------

  /** The device's config space (256 bytes, or 4096 when region 7 has the extended space), in one pread. */
  #readConfig(): Uint8Array {
    const r = this.device.region(VFIO_PCI_CONFIG_REGION_INDEX);
    const len = r.size >= BigInt(PCI_CFG_SPACE_EXP_SIZE) ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE;
    const buf = new Uint8Array(len);
    const n = this.device.sys.pread(this.device.liveFd(), buf, r.fileOffset, len);
    if (n !== len) throw new VfioError({ kind: 'kernel-reply', device: this.device.name, message: `the config space read returned ${n} of ${len} bytes`, hint: 'the device\'s config region is shorter than its size says' });
    return buf;
  }

  /** Region sizes of BAR0..BAR5 and the ROM (0 for an index the kernel would not describe). */
  #regionSizes(): bigint[] {
    return [0, 1, 2, 3, 4, 5, 6].map((i) => { const r = this.device.regions[i]; return r?.ok ? r.size : 0n; });
  }

  /** The function as the guest sees it: the device's config and region sizes, with the MSI-X
   *  table and PBA moved where the core decides (msixRelocation 'auto', the default) so that they
   *  share no host page with registers the guest must reach directly. Deterministic: reset() makes
   *  the same view from the config read after the reset. */
  #guestView(config: Uint8Array): GuestView {
    const sizes = this.#regionSizes();
    const dev = this.device;
    if (this.#opts.msixRelocation === 'off' || !findCapabilities(config).msix) return { config, sizes, deviceSizes: sizes, moved: 'none' };
    const mappable = [0, 1, 2, 3, 4, 5].filter((i) => dev.regions[i]?.ok && dev.regions[i]!.msixMappable);
    const v = msixGuestView(config, sizes, { pageSize: dev.pageSize, mappable });
    const k = v.relocation.kind;
    return { config: v.config, sizes: v.sizes, deviceSizes: sizes, moved: k === 'extend' || k === 'new-bar' ? k : 'none' };
  }

  /** The guest's BAR layouts: memory BARs with their mappable pieces, the ROM trapped; I/O BARs
   *  not placed. Where the MSI-X structures stayed in the device's BAR, their pages are carved out
   *  at the host page size whatever MSIX_MAPPABLE says (they are emulated, never the device's);
   *  where they moved, the device's BAR maps whole (as far as the kernel lets it) and the
   *  structures trap where the guest finds them: past the device's bytes of an extended BAR, or in
   *  a BAR with no device behind it. */
  #layouts(view: GuestView): (BarLayout | undefined)[] {
    const dev = this.device, { config, sizes, deviceSizes } = view;
    const ps = BigInt(dev.pageSize);
    const holes = this.#caps.msix && view.moved === 'none' ? msixHoles(config, sizes, { pageSize: dev.pageSize, mappable: [] }) : [];
    const msix = this.#caps.msix;
    const parts = msix ? [
      { part: 'table' as const, bar: msix.tableBar, offset: BigInt(msix.tableOffset), size: BigInt(msix.tableSize * MSIX_ENTRY_SIZE) },
      { part: 'pba' as const, bar: msix.pbaBar, offset: BigInt(msix.pbaOffset), size: BigInt(Math.ceil(msix.tableSize / MSIX_PBA_QWORD_VECTORS) * 8) },
    ] : [];
    const out: (BarLayout | undefined)[] = [];
    for (const bar of decodeBars(config, sizes)) {
      if (bar.kind === 'io') continue;
      const deviceSize = deviceSizes[bar.index] ?? 0n;
      const region = deviceSize > 0n ? dev.regions[bar.index] : undefined;
      if (bar.kind === 'rom') {
        out[bar.index] = { bar: bar.index, kind: 'rom', guestSize: bar.size, region, deviceSize, pieces: [], msix: [] };
        continue;
      }
      const barHoles = holes.filter((h) => h.bar === bar.index).map((h) => ({ offset: h.offset, size: h.size }));
      const pieces = region?.ok && region.mmappable
        ? dev.regionTable.split(bar.index, ps, barHoles).filter((r) => r.kind === 'map').map((r) => ({ offset: r.offset, size: r.size }))
        : [];
      out[bar.index] = {
        bar: bar.index, kind: 'memory', guestSize: bar.size, region, deviceSize, pieces,
        msix: parts.filter((p) => p.bar === bar.index).map(({ part, offset, size }) => ({ part, offset, size })),
      };
    }
    return out;
  }

  /** The IRQ routing over the function's INTx, MSI and MSI-X indexes (those it has). */
  #route(config: Uint8Array): IrqRouting | undefined {
    const irqs = this.device.irqs;
    const usable = (i: number) => { const q = irqs[i]; return q !== undefined && q.ok && q.count >= 1 && q.eventfdCapable; };
    this.#intx = usable(VFIO_PCI_INTX_IRQ_INDEX) && config[PCI_INTERRUPT_PIN] !== 0 && (this.#kvm?.intxGsi !== undefined || this.#opts.setIntx !== undefined);
    const indexes: number[] = [];
    if (this.#intx) indexes.push(VFIO_PCI_INTX_IRQ_INDEX);
    if (this.#caps.msi && usable(VFIO_PCI_MSI_IRQ_INDEX)) indexes.push(VFIO_PCI_MSI_IRQ_INDEX);
    if (this.#caps.msix && usable(VFIO_PCI_MSIX_IRQ_INDEX)) indexes.push(VFIO_PCI_MSIX_IRQ_INDEX);
    if (indexes.length === 0) return undefined;
    const setIntx = this.#opts.setIntx;
    return this.device.route({
      indexes,
      setLine: (_i, level) => setIntx?.(level),
      onMmap: (enabled) => this.#bars.trapAll(!enabled),
      onError: (e) => this.#error(e),
    }, undefined, {
      initialMode: this.#intx ? 'intx' : 'none',
      enable: (index, count, from) => { this.#set(index).enable(count, from); this.#stats.enabledVectors = count; },
      disabled: (index) => { this.#set(index).disabled(); this.#stats.enabledVectors = 0; },
    });
  }

  /** INTx through KVM: irqfd + resample at intxGsi (while the machine has INTx on). */
  #wireIntx(): void {
    const k = this.#kvm;
    if (!this.#routing || !this.#intx || k?.intxGsi === undefined) return;
    if (this.#routing.machine.info().pciMode !== 'intx' || this.#routing.machine.line(VFIO_PCI_INTX_IRQ_INDEX).state === 'wired') return;
    this.#routing.wireIrqfd(VFIO_PCI_INTX_IRQ_INDEX, k.vmFd, k.intxGsi);
  }

  #set(index: number): VectorSet { return index === VFIO_PCI_MSIX_IRQ_INDEX ? this.#msixVectors : this.#msi; }

  #barHost() {
    const dev = this.device, opts = this.#opts, stats = this.#stats;
    return {
      name: dev.name, sys: dev.sys, stats,
      liveFd: () => dev.liveFd(),
      adopt: (m: Parameters<VfioDevice['adopt']>[0]) => dev.adopt(m),
      mapMemory: (s: GuestMemorySlot) => opts.mapMemory({ ...s }),
      unmapMemory: (s: GuestMemorySlot) => opts.unmapMemory({ ...s }),
    };
  }

  #vectorHost() {
    const dev = this.device, opts = this.#opts, k = this.#kvm;
    return {
      name: dev.name, sys: dev.sys, stats: this.#stats,
      liveFd: () => dev.liveFd(),
      kvm: k ? { vmFd: k.vmFd, routes: k.routes, devid: k.devid } : undefined,
      deliver: (address: bigint, data: number) => opts.deliverMsi!(address, data),
      fired: (index: number, vector: number) => this.#fired(index, vector),
      error: (e: unknown) => this.#error(e),
    };
  }

  /** The default onError: console.error, thinned (each garbage MSI a guest unmasks is one). */
  #defaultErrors = new ReportThinner<unknown>((x, n) => console.error(`vfiokit: ${this.device.name}: PCI passthrough${reportNote(n)}:`, x));
  #error(e: unknown): void {
    if (this.#opts.onError) this.#opts.onError(e); else this.#defaultErrors.report(e);
  }

  // ---- the guest's config space ----------------------------------------------------------------

  /** The guest's config read (the VMM's ECAM handler): offset 0..4095, width 1/2/4. Never throws
   *  for what a guest can do (a bad access reads all-ones and is counted); forwarded capabilities
   *  are read live from the device.
   * @throws VfioError 'closed', 'bad-argument' (not an integer in 0..2^32-1), the errno kinds of
   *   the region read of a forwarded range. */
  configRead(offset: number, width: number): number {
    this.#live();
    this.#stats.configReads++;
    return this.#shadow.read(offset, width);
  }

  /** The guest's config write: offset 0..4095, width 1/2/4. Never throws for what a guest can do
   *  (a bad write is dropped and counted); the core's actions are carried out before it returns
   *  (memory slots, COMMAND to the device, MSI/MSI-X changes).
   * @throws VfioError 'closed', 'bad-argument' (not an integer in 0..2^32-1), and the errors of
   *   carrying out an action (the VMM's mapMemory, VFIO or KVM ioctls). */
  configWrite(offset: number, width: number, value: number): void {
    this.#live();
    this.#stats.configWrites++;
    this.#run(this.#shadow.write(offset, width, value));
  }

  #configDeviceRead(offset: number, width: 1 | 2 | 4): number {
    const cfg = this.device.region(VFIO_PCI_CONFIG_REGION_INDEX);
    return Number(cfg.read(offset, width));
  }

  // ---- the guest's BARs ------------------------------------------------------------------------

  /** True when gpa lies inside one of the device's BARs as the guest placed and enabled them.
   * @throws VfioError 'closed', 'bad-argument' (not a u64 bigint). */
  claims(gpa: bigint): boolean {
    this.#live();
    return this.#bars.find(checkBigU64('gpa', gpa)) !== undefined;
  }

  /** A trapped guest read inside a placed BAR (MSI-X table/PBA, or any non-mappable part);
   *  undefined when gpa is not the device's. Widths 1, 2, 4, 8; another width reads all-ones.
   * @throws VfioError 'closed', 'bad-argument', the errno kinds of the trap path's pread. */
  mmioRead(gpa: bigint, width: number): bigint | undefined {
    this.#live();
    checkBigU64('gpa', gpa); checkInt('width', width, 0, U32_MAX);
    const hit = this.#bars.find(gpa);
    if (!hit) return undefined;
    const v = this.#read(hit.layout, hit.offset, width);
    this.#eoi();
    return v;
  }

  #read(layout: BarLayout, offset: bigint, width: number): bigint {
    const t = GuestBars.target(layout, offset);
    if (t.kind === 'msix') { this.#stats.msixAccesses++; return this.#msix!.read(t.part, t.offset, width); }
    if (t.kind === 'none') return 0n;
    this.#stats.barTraps++;
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) return width >= 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(width * 8)) - 1n;
    return t.region.read(t.offset, width);
  }

  /** A trapped guest write inside a placed BAR; false when gpa is not the device's. Writes to the
   *  MSI-X table are carried out (routes, masks, deliveries) before it returns.
   * @throws VfioError 'closed', 'bad-argument', the errno kinds of the trap path's pwrite and of
   *   the actions. */
  mmioWrite(gpa: bigint, width: number, value: bigint): boolean {
    this.#live();
    checkBigU64('gpa', gpa); checkInt('width', width, 0, U32_MAX); checkBigU64('value', value);
    const hit = this.#bars.find(gpa);
    if (!hit) return false;
    const t = GuestBars.target(hit.layout, hit.offset);
    if (t.kind === 'msix') { this.#stats.msixAccesses++; this.#run(this.#msix!.write(t.part, t.offset, width, value)); }
    else if (t.kind === 'device') {
      this.#stats.barTraps++;
      if (width === 1 || width === 2 || width === 4 || width === 8) t.region.write(t.offset, width, value);
    }
    this.#eoi();
    return true;
  }

  /** Userspace INTx: a trapped access is the EOI of an asserted line, taken after the access (as
   *  QEMU does), so a write that acknowledges the device's interrupt lowers its line before the
   *  EOI unmasks it in VFIO. */
  #eoi(): void {
    if (this.#intx && this.#kvm?.intxGsi === undefined && this.#routing) this.#routing.trappedAccess();
  }

  // ---- actions ---------------------------------------------------------------------------------

  #run(actions: readonly PciAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'unmap': this.#bars.unmap(a.bar); break;
        case 'map': this.#bars.map(a.bar, a.address); break;
        case 'forward-write': this.device.region(VFIO_PCI_CONFIG_REGION_INDEX).write(a.offset, a.width as 1 | 2 | 4, a.value); break;
        case 'msi-update': this.#msiUpdate(); break;
        case 'msix-update': this.#msixUpdate(a.control); break;
        case 'msix-route': this.#msixVectors.route(a.vector, a.address, a.data); break;
        case 'msix-mask': this.#msixVectors.mask(a.vector); break;
        case 'msix-unmask': if (!this.#msixVectors.unmask(a.vector)) this.#growMsix(a.vector); break;
        case 'msix-deliver': this.#msixVectors.deliver(a.address, a.data); break;
      }
    }
  }

  #mode(): PciIrqMode { return this.#routing?.machine.info().pciMode ?? 'none'; }

  /** The mode without MSI or MSI-X: INTx when routed, else none; INTx's irqfd wired again. */
  #fallback(): void {
    this.#routing!.setPciMode(this.#intx ? 'intx' : 'none', this.#intx ? 1 : 0);
    this.#wireIntx();
  }

  /** MSI-X Enable changed: the IRQ machine switches the mode (INTx off before MSI-X on). */
  #msixUpdate(control: number): void {
    const q = this.device.irqs[VFIO_PCI_MSIX_IRQ_INDEX];
    if (!this.#routing || !this.#msix || !q || this.#resetting) return;
    const on = (control & PCI_MSIX_FLAGS_ENABLE) !== 0, mode = this.#mode();
    if (on && mode !== 'msix') this.#routing.setPciMode('msix', Math.min(q.count, Math.max(1, this.#msixInUse())));
    else if (!on && mode === 'msix') this.#fallback();
  }

  /** The vectors the guest uses as the core sees them: the highest live or given a message, + 1. */
  #msixInUse(): number {
    const m = this.#msix!;
    for (let n = m.entries - 1; n >= 0; n--) { const v = m.vector(n); if (v.live || v.address !== 0n) return n + 1; }
    return 0;
  }

  /** Vector n was unmasked past the enabled ones: grow the index (in place, or rebuilt when the
   *  kernel says NORESIZE; then each vector that was live gets one delivery: see the header). */
  #growMsix(n: number): void {
    const q = this.device.irqs[VFIO_PCI_MSIX_IRQ_INDEX]!;
    const set = this.#msixVectors, before = set.enabled;
    const count = Math.min(q.count, Math.max(n + 1, this.#msixInUse()));
    if (n >= count) return; // past what the kernel offers: the vector stays undeliverable
    set.rebuilt = false;
    this.#routing!.setPciMode('msix', count);
    if (set.rebuilt) {
      set.rebuilt = false;
      this.#stats.indexRebuilds++;
      for (let v = 0; v < before; v++) {
        const s = this.#msix!.vector(v);
        if (s.live) set.deliver(s.address, s.data);
      }
    }
  }

  /** The MSI capability as the shadow has it: enable, vector count, messages and masks carried out. */
  #msiUpdate(): void {
    const cap = this.#caps.msi, q = this.device.irqs[VFIO_PCI_MSI_IRQ_INDEX];
    if (!cap || !this.#routing || !q || this.#resetting) return;
    const at = cap.offset, sh = this.#shadow;
    const control = sh.read(at + 2, 2);
    const is64 = (control & PCI_MSI_FLAGS_64BIT) !== 0;
    const address = BigInt(sh.read(at + 4, 4)) | (is64 ? BigInt(sh.read(at + 8, 4)) << 32n : 0n);
    const data = sh.read(at + (is64 ? 12 : 8), 2);
    const masks = control & PCI_MSI_FLAGS_MASKBIT ? sh.read(at + (is64 ? 16 : 12), 4) : 0;
    const on = (control & PCI_MSI_FLAGS_ENABLE) !== 0;
    const count = Math.min(1 << ((control & PCI_MSI_FLAGS_QSIZE) >> 4), cap.vectors, q.count);
    const set = this.#msi, mode = this.#mode();
    if (!on) {
      if (mode !== 'msi') return;
      for (let n = 0; n < set.enabled; n++) if (set.live(n)) set.mask(n);
      this.#fallback();
      return;
    }
    // Multiple Message: vector n sends the data with its low log2(count) bits replaced by n.
    set.batch(() => { for (let n = 0; n < count; n++) set.route(n, address, (data & ~(count - 1)) | n); });
    if (mode !== 'msi' || set.enabled !== count) {
      for (let n = 0; n < count; n++) { if (masks & (1 << n)) { if (set.live(n)) set.mask(n); } else if (!set.live(n)) set.unmask(n); }
      this.#routing.setPciMode('msi', count);
    } else {
      for (let n = 0; n < count; n++) {
        const masked = (masks & (1 << n)) !== 0;
        if (masked && set.live(n)) set.mask(n);
        else if (!masked && !set.live(n)) { set.unmask(n); if (this.#msiPending.delete(n)) set.deliver(address, (data & ~(count - 1)) | n); }
      }
    }
  }

  /** A vector's userspace eventfd fired: MSI-X asks the core (deliver if live, else pending);
   *  MSI delivers if live, else remembers it pending. */
  #fired(index: number, n: number): void {
    if (this.#closed) return;
    if (index === VFIO_PCI_MSIX_IRQ_INDEX) { if (this.#msix) this.#run(this.#msix.fire(n)); return; }
    const set = this.#msi;
    if (!set.live(n)) { this.#msiPending.add(n); return; }
    const m = set.message(n);
    set.deliver(m.address, m.data);
  }

  // ---- reset, stats, close ---------------------------------------------------------------------

  /** VFIO_DEVICE_RESET and the guest-visible state with it: interrupts off (every VFIO index
   *  disabled), the device reset, the shadow config back to the function out of reset (read
   *  again from the device) with its actions carried out (memory slots removed), every MSI/MSI-X
   *  vector torn down (irqfds deassigned, routes removed, eventfds closed), then INTx on again when
   *  it is routed. The guest must not run meanwhile.
   * @throws VfioError 'closed', 'not-supported' (the device offers no reset), the errno kinds of
   *   the ioctls. */
  reset(): void {
    this.#live();
    if (!this.device.info.reset) throw new VfioError({ kind: 'not-supported', device: this.device.name, message: 'offers no reset (VFIO_DEVICE_FLAGS_RESET is clear)', hint: 'reset the guest\'s view alone by closing the passthrough and calling device.pci() again' });
    if (this.#routing && this.#mode() !== 'none') this.#routing.setPciMode('none', 0);
    this.device.reset();
    const view = this.#guestView(this.#readConfig());
    this.#resetting = true;
    try {
      this.#run(this.#shadow.reset(view.config, view.sizes));
    } finally { this.#resetting = false; }
    this.#bars.unmapAll();
    const t = new Teardown();
    t.step(() => this.#msi.teardown());
    t.step(() => this.#msixVectors.teardown());
    this.#msiPending.clear();
    t.finish();
    if (this.#routing && this.#intx) this.#fallback();
  }

  /** The counters and the interrupt mode.
   * @throws VfioError 'closed'. */
  stats(): PciPassthroughStats {
    this.#live();
    const s = this.#stats;
    return {
      configReads: s.configReads, configWrites: s.configWrites, barTraps: s.barTraps, msixAccesses: s.msixAccesses,
      vectorMasks: s.vectorMasks, vectorUnmasks: s.vectorUnmasks, irqfdAssigns: s.irqfdAssigns, irqfdDeassigns: s.irqfdDeassigns,
      triggerSwitches: s.triggerSwitches, routeUpdates: s.routeUpdates, slotsMapped: s.slotsMapped, slotsUnmapped: s.slotsUnmapped,
      deliveries: s.deliveries, deliveriesBlocked: s.deliveriesBlocked, indexRebuilds: s.indexRebuilds, enabledVectors: s.enabledVectors, mode: this.#mode(),
    };
  }

  /** The shadow config (the guest's view; read it, don't write it: the passthrough does). */
  get config(): PciConfig { this.#live(); return this.#shadow; }
  /** The MSI-X emulation, when the function has MSI-X. */
  get msix(): PciMsix | undefined { this.#live(); return this.#msix; }

  /** True once close() has run. */
  get closed(): boolean { return this.#closed; }

  /** Tears down in the fixed order: interrupts (VFIO indexes disabled, the INTx irqfd
   *  deassigned), MSI/MSI-X vectors (irqfds deassigned, routes removed, eventfds closed), memory
   *  slots (unmapMemory) and BAR mappings, the shadow config. Every step runs; the first failure
   *  is thrown at the end. Closing twice is harmless; the device's close() calls it first.
   * @throws VfioError the first failure of a step, after every step has run. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const t = new Teardown();
    if (this.#routing) { const r = this.#routing; t.step(() => r.close()); }
    t.step(() => this.#msi.teardown());
    t.step(() => this.#msixVectors.teardown());
    t.step(() => this.#bars.close());
    t.step(() => this.#shadow.close());
    t.finish();
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  #live(): void {
    if (this.#closed) throw new VfioError({ kind: 'closed', device: this.device.name, message: 'the PCI passthrough was closed', hint: 'call device.pci() again' });
    this.device.liveFd();
  }
}

/** The options' shapes, named in the error ('opts.kvm.vmFd: ... is not ...'). */
function checkOptions(opts: PciPassthroughOptions): void {
  checkObject('opts', opts);
  checkFn('opts.mapMemory', opts.mapMemory);
  checkFn('opts.unmapMemory', opts.unmapMemory);
  if (opts.deliverMsi !== undefined) checkFn('opts.deliverMsi', opts.deliverMsi);
  if (opts.setIntx !== undefined) checkFn('opts.setIntx', opts.setIntx);
  if (opts.onError !== undefined) checkFn('opts.onError', opts.onError);
  if (opts.msixRelocation !== undefined) checkOneOf('opts.msixRelocation', opts.msixRelocation, ['auto', 'off']);
  if (opts.kvm !== undefined) {
    checkObject('opts.kvm', opts.kvm);
    checkFd('opts.kvm.vmFd', opts.kvm.vmFd);
    if (!(opts.kvm.routes instanceof KvmIrqRoutes)) badArgument('opts.kvm.routes', opts.kvm.routes, 'a KvmIrqRoutes');
    checkInt('opts.kvm.devid', opts.kvm.devid, 0, U32_MAX);
    if (opts.kvm.intxGsi !== undefined) checkInt('opts.kvm.intxGsi', opts.kvm.intxGsi, 0, U32_MAX);
  } else if (opts.deliverMsi === undefined) {
    badArgument('opts.deliverMsi', opts.deliverMsi, 'a function (without opts.kvm, MSI and MSI-X are delivered through it)');
  }
}
