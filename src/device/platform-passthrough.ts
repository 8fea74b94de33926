// PlatformPassthrough: the composition room for a platform or AMBA device handed to a guest. It
// carries out, for one device, what a VMM otherwise does by hand: every region and IRQ placed on
// a platform bus (the core's allocator), the regions mapped and handed to the VMM as guest memory
// (mapMemory), the IRQs routed (KVM irqfds at the placed SPIs, or the core's userspace IRQ machine,
// QEMU's vfio-platform scheme, whose mmap switch becomes unmapMemory/mapMemory), the guest's
// device-tree node (the core's dtnode generator), and trapped guest accesses (mmioRead/mmioWrite).
// Its options have the shape of PCI's room, so that a VMM author sees one pattern.
//
// Construction order: check the options -> find the host node -> place (bus, device handle,
// regions, SPIs) -> generate the guest node -> map the regions -> mapMemory each slot -> route the
// IRQs (KVM lines wired before any userspace trigger is set). A failure undoes what was done, in
// reverse. Close order (fixed): the IRQ routing (irqfds deassigned, indexes disabled, eventfds
// closed) -> unmapMemory for every slot the VMM still has -> the region mappings -> the placement
// (freed on the VMM's bus, or the bus closed when this object made it). The device's close()
// closes this first.
// Not responsible for: the VM (memslots, the interrupt controller: the VMM's, through the
// callbacks), the board's device tree (the VMM merges dtNode() into it), deciding anything the
// core decides (placement, the IRQ machine, the node).
import { VfioError } from '../errors.js';
import type { VfioDevice } from './device.js';
import type { IrqRouting } from './irq.js';
import type { DeviceRegion, RegionMap } from './region.js';
import type { IrqAction } from '../core/irq-machine.js';
import type { Width } from '../mapping.js';
import { PlatformBus, type DeviceHandle, type PlatformBusOptions } from '../core/placement.js';
import { guestNodeFor, hostNodeOfDevice, type GuestNode } from '../core/dtnode.js';
import { parseFdt } from '../fdt/index.js';
import { closedError, Teardown } from './context.js';
import { badArgument, checkBigU64s, checkBytes, checkFd, checkFn, checkInt, checkObject, checkOptObject, checkString } from '../../shim/args.js';

/** One piece of a region the VMM installs as guest memory (a KVM memslot), from {@link PlatformPassthroughOptions.mapMemory}. */
export interface PlatformMemorySlot {
  /** The device's region index (its `reg` entry) this slot maps part of. */
  region: number;
  /** Guest physical address of the slot (page-aligned). */
  gpa: bigint;
  /** Bytes (a multiple of the device's page size). */
  size: bigint;
  /** Host virtual address of the VFIO mapping behind it (a memslot's userspace_addr). */
  hostAddress: bigint;
}

/** An IRQ line of the device as placed on the bus ({@link PlatformPlacement.irqs}). */
export interface PlacedPlatformIrq {
  /** The VFIO IRQ index (the host node's interrupts entry of the same position). */
  index: number;
  /** SPI number (INTID - 32): the guest node's interrupts cell, and the GSI of the KVM irqfd. */
  spi: number;
  /** The GIC interrupt ID (SPI + 32). */
  intid: number;
}

/** A region of the device as placed on the bus ({@link PlatformPlacement.regions}). */
export interface PlacedPlatformRegion {
  /** The VFIO region index (the host node's reg entry of the same position). */
  index: number;
  /** Guest physical address of the region. */
  address: bigint;
  /** Bytes reserved on the bus: the region's size rounded up to the bus's page. */
  size: bigint;
  /** The region's zero-copy mappings (the ranges handed to mapMemory; empty when nothing of it
   *  can be mapped, e.g. a register block smaller than a page): the VMM's own housekeeping
   *  accesses may use them. Unmapped by close(). */
  maps: readonly RegionMap[];
}

/** Where a {@link PlatformPassthrough} put the device: its handle on the bus, its regions and IRQ lines, by index. */
export interface PlatformPlacement {
  /** The device's handle on the bus (its ranges and SPIs are freed together on close()). */
  device: DeviceHandle;
  /** One per VFIO region index. */
  regions: readonly PlacedPlatformRegion[];
  /** One per VFIO IRQ index. */
  irqs: readonly PlacedPlatformIrq[];
}

/** Fixed placement instead of first fit ({@link PlatformPassthroughOptions.placement}). */
export interface PlatformPlacementOptions {
  /** The guest address of each region, by region index (one per region; page-aligned, inside the bus's window). */
  addresses?: readonly bigint[];
  /** Each region at its host physical address (1:1), read from the host node's `reg` (its
   *  ancestors must map addresses 1:1: an empty `ranges`). Excludes `addresses`. */
  identity?: boolean;
  /** The SPI of each IRQ index (one per IRQ index, inside the bus's SPI range). */
  spis?: readonly number[];
}

/** The guest node's shape ({@link PlatformPassthroughOptions.dt}). */
export interface PlatformNodeOptions {
  /** Emit the platform-bus node around the device (default true: a `qemu,platform` simple-bus over
   *  the bus's window). false: the device node alone, with absolute addresses, for a VMM that has
   *  its own bus node (2/2 cells, empty `ranges`) and merges several devices under it. */
  bus?: boolean;
  /** First phandle free in the guest tree, for the clocks the node needs (default 0x10000). */
  firstPhandle?: number;
  /** The host node (default: found from the device's name, "9010000.pl031" -> /pl031@9010000). */
  hostNodePath?: string;
}

/**
 * What {@link VfioDevice.platform} needs: where to place the device (`bus`), what the host knows
 * of it (`hostDtb`), the guest's interrupt controller (`interruptParent`), the VMM's guest memory
 * (`mapMemory`/`unmapMemory`), and how its IRQs reach the guest: `kvm` (irqfds at the placed
 * SPIs, no VMM code on the path) or `setLine` (the core's userspace IRQ machine), one of the two.
 */
export interface PlatformPassthroughOptions {
  /** The platform bus: a {@link PlatformBus} the VMM owns and shares between its devices (this
   *  device's ranges and SPIs are freed from it on close()), or the bus's layout (a bus of this
   *  device's own, closed with it; its page size defaults to the device's). */
  bus: PlatformBus | PlatformBusOptions;
  /** The host's flattened device tree (/sys/firmware/fdt): the device's node is read from it. */
  hostDtb: Uint8Array;
  /** The phandle of the guest's interrupt controller (its GIC): the node's interrupt-parent. */
  interruptParent: number;
  /** Install `size` bytes of host memory at `hostAddress` as guest memory at `gpa` (a KVM
   *  memslot): called for each mappable range of each region at construction, and again when
   *  the userspace IRQ machine lets direct MMIO resume. */
  mapMemory(slot: PlatformMemorySlot): void;
  /** Remove a slot that mapMemory installed: the userspace IRQ machine needs every access to trap
   *  (a line is active, its EOI must be seen), or close(). */
  unmapMemory(slot: PlatformMemorySlot): void;
  /** KVM delivery: each line as an irqfd on `vmFd` at its placed SPI (GSI = SPI, KVM's default
   *  routing on arm64 with a vGIC), with a resample eventfd for a level line so that the guest's
   *  EOI unmasks it in VFIO. The VM needs its vGIC initialised. */
  kvm?: { vmFd: number };
  /** Userspace delivery (without `kvm`): the core's IRQ machine raises (true) and lowers (false)
   *  the guest's line; the VMM drives its interrupt controller (KVM_IRQ_LINE at `line.spi`). */
  setLine?(line: PlacedPlatformIrq, level: boolean): void;
  /** Userspace delivery: how long direct MMIO stays off after the last EOI (default the core's 1.1 s, QEMU's). */
  timeoutNs?: bigint;
  /** false: place and describe the IRQs but leave them to the VMM (`device.irqs[i]`, e.g. relayed
   *  by the VMM itself); then neither `kvm` nor `setLine` is given. Default true. */
  routeIrqs?: boolean;
  /** Fixed or identity placement (default: first fit). */
  placement?: PlatformPlacementOptions;
  /** The guest node's shape. */
  dt?: PlatformNodeOptions;
  /** Every IRQ action carried out, in order (for logging and tests). */
  onAction?(action: IrqAction): void;
  /** Errors while carrying out IRQ actions from an event callback, each one (default
   *  console.error, thinned as {@link reportShown} says). */
  onError?(error: unknown): void;
}

/** Counters of a {@link PlatformPassthrough} ({@link PlatformPassthrough.stats}). */
export interface PlatformPassthroughStats {
  /** Trapped guest reads of the device's placed ranges. */
  mmioReads: number;
  /** Trapped guest writes of the device's placed ranges. */
  mmioWrites: number;
  /** Of those, accesses of a width no guest access has (not 1, 2, 4 or 8): all-ones, dropped.
   *  Accesses the region refuses (outside it, misaligned) are counted by `region.counters()`. */
  mmioRefused: number;
  /** mapMemory calls (each slot at construction, and again each time direct MMIO resumes). */
  slotsMapped: number;
  /** unmapMemory calls (each time direct MMIO stops, and at close). */
  slotsUnmapped: number;
  /** Userspace delivery: setLine(line, true) calls. */
  lineAsserts: number;
  /** Userspace delivery: setLine(line, false) calls. */
  lineDeasserts: number;
}

/** A placed region with what the trap path needs. */
interface Placed { index: number; address: bigint; last: bigint; region: DeviceRegion; maps: RegionMap[]; slots: Slot[] }
/** A slot and whether the VMM has it now. */
interface Slot { slot: PlatformMemorySlot; installed: boolean }

/** The largest phandle: 0 and 0xffffffff are not phandles. */
const PHANDLE_MAX = 0xffff_fffe;

/**
 * A platform or AMBA device passed through to a guest ({@link VfioDevice.platform}): placed on a
 * platform bus, its regions mapped and handed to the VMM as guest memory, its IRQs routed (KVM
 * irqfds or the userspace IRQ machine), with the guest's device-tree node. The VMM's MMIO exit
 * handler calls mmioRead/mmioWrite for the device's trapped accesses (userspace delivery, or a
 * region that cannot be mapped); they also tell the IRQ machine (its EOI). close() releases it
 * in a fixed order (IRQs, the VMM's slots, mappings, placement); the device's close() closes it
 * first. After close() every method throws VfioError 'closed'.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { mergeFdt, openDevice } from 'vfiokit';
 *
 * declare const board: Uint8Array;                       // the VMM's tree; its GIC has phandle 1
 * declare function irqLine(spi: number, level: boolean): void;   // KVM_IRQ_LINE on the VMM's VM
 * declare function setMemslot(gpa: bigint, size: bigint, hva: bigint): void;
 * using dev = openDevice('9010000.pl031');
 * const pt = dev.platform({
 *   bus: { base: 0x0c00_0000n, size: 32n << 20n, spiFirst: 112, spiCount: 16 },
 *   hostDtb: readFileSync('/sys/firmware/fdt'),
 *   interruptParent: 1,
 *   setLine: (line, level) => irqLine(line.spi, level),              // userspace delivery
 *   mapMemory: (s) => setMemslot(s.gpa, s.size, s.hostAddress),
 *   unmapMemory: (s) => setMemslot(s.gpa, 0n, s.hostAddress),
 * });
 * const tree = mergeFdt(board, pt.dtNode().dtb, '/');
 * // the VMM's MMIO exit handler, for an access that trapped:
 * const gpa = pt.placement.regions[0]!.address;
 * if (pt.claims(gpa)) console.log(pt.mmioRead(gpa + 0xfe0n, 4)); // PeriphID0, and the EOI if a line was up
 * console.log(tree.byteLength, pt.stats());
 * ```
 */
export class PlatformPassthrough {
  /** The device passed through. */
  readonly device: VfioDevice;
  /** Where the device sits in the guest: regions (with their mappings) and IRQ lines, by index. */
  readonly placement: PlatformPlacement;
  #opts: PlatformPassthroughOptions;
  #node: GuestNode | undefined;
  #bus: PlatformBus | undefined;
  #ownBus = false;
  #placed: Placed[] = [];
  #routing: IrqRouting | undefined;
  /** Userspace delivery: trapped accesses are the IRQ machine's events. */
  #userspace = false;
  #closed = false;
  /** The device's handle on the bus (0 until placed). */
  #handle: DeviceHandle = 0;
  #stats: PlatformPassthroughStats = { mmioReads: 0, mmioWrites: 0, mmioRefused: 0, slotsMapped: 0, slotsUnmapped: 0, lineAsserts: 0, lineDeasserts: 0 };

  /** @internal use device.platform() */
  static of(device: VfioDevice, opts: PlatformPassthroughOptions): PlatformPassthrough { return new PlatformPassthrough(device, opts); }

  private constructor(device: VfioDevice, opts: PlatformPassthroughOptions) {
    this.device = device;
    this.#opts = opts;
    const route = checkOptions(opts, device);
    this.placement = { device: 0, regions: [], irqs: [] };
    try {
      const hostNodePath = opts.dt?.hostNodePath ?? hostNodeOfDevice(opts.hostDtb, device.name);
      const window = this.#takeBus(opts.bus, device);
      const bus = this.#bus!;
      const handle = this.#handle = bus.newDevice();
      const fixed = opts.placement?.identity ? identityAddresses(opts.hostDtb, hostNodePath, device) : opts.placement?.addresses;
      const page = BigInt(device.pageSize);
      const regions: PlacedPlatformRegion[] = [];
      for (const r of device.regions) {
        const at = fixed?.[r.index];
        const p = bus.placeRegion(r.size, {
          device: handle, align: maxBig(pow2Ceil(r.size), page),
          ...(at === undefined ? {} : opts.placement?.identity ? { identity: at } : { fixed: at }),
        });
        const placed: Placed = { index: r.index, address: p.address, last: p.address + p.size - 1n, region: r, maps: [], slots: [] };
        this.#placed.push(placed);
        regions.push({ index: r.index, address: p.address, size: p.size, maps: placed.maps });
      }
      const irqs = device.irqs.map((q): PlacedPlatformIrq => {
        const p = bus.placeIrq(opts.placement?.spis?.[q.index], { device: handle });
        return { index: q.index, spi: p.spi, intid: p.intid };
      });
      this.placement = { device: handle, regions, irqs };
      this.#node = guestNodeFor({
        hostDtb: opts.hostDtb, hostNodePath,
        placement: { regions: regions.map((r) => r.address), spis: irqs.map((q) => q.spi) },
        irqFlags: device.irqs.map((q) => q.flags),
        bus: opts.dt?.bus === false ? false : window,
        interruptParent: opts.interruptParent,
        ...(opts.dt?.firstPhandle === undefined ? {} : { firstPhandle: opts.dt.firstPhandle }),
      });
      for (const p of this.#placed) {
        if (!p.region.mmappable || !p.region.split().some((s) => s.kind === 'map')) continue;
        p.maps.push(...p.region.mapAll());
        for (const m of p.maps) p.slots.push({ slot: { region: p.index, gpa: p.address + m.offset, size: m.size, hostAddress: m.mapping.hostAddress }, installed: false });
      }
      this.#mapSlots(true);
      if (route !== 'none') this.#route(route, irqs);
    } catch (e) {
      try { this.close(); } catch { /* the construction's error is the one to report */ }
      throw e;
    }
  }

  /** The bus to place on: the VMM's, or one of this device's own from the layout. Returns the
   *  window for the guest node's platform-bus node. */
  #takeBus(b: PlatformBus | PlatformBusOptions, device: VfioDevice): { base: bigint; size: bigint } {
    if (b instanceof PlatformBus) {
      const info = b.info();
      this.#bus = b;
      return { base: info.first, size: info.last - info.first + 1n };
    }
    this.#bus = new PlatformBus({ ...b, pageSize: b.pageSize ?? BigInt(device.pageSize) });
    this.#ownBus = true;
    return { base: b.base, size: b.size };
  }

  /** Routes the IRQ lines: wired to KVM from the start, or through the userspace machine. */
  #route(route: 'kvm' | 'userspace', irqs: readonly PlacedPlatformIrq[]): void {
    const o = this.#opts;
    const lines = this.device.irqs.filter((q) => q.ok && q.eventfdCapable && q.count >= 1).map((q) => q.index);
    const common = { indexes: lines, ...(o.onAction ? { onAction: o.onAction } : {}), ...(o.onError ? { onError: o.onError } : {}) };
    if (route === 'kvm') {
      // A wired line never reaches userspace, so the machine never asks for setLine or the mmap switch.
      this.#routing = this.device.route({ ...common, setLine: () => {} }, { vmFd: o.kvm!.vmFd, gsis: new Map(lines.map((i) => [i, irqs[i]!.spi])) });
      return;
    }
    this.#userspace = true;
    const setLine = o.setLine!;
    this.#routing = this.device.route({
      ...common,
      ...(o.timeoutNs === undefined ? {} : { timeoutNs: o.timeoutNs }),
      setLine: (index, level) => {
        if (level) this.#stats.lineAsserts++; else this.#stats.lineDeasserts++;
        setLine(irqs[index]!, level);
      },
      onMmap: (enabled) => this.#mapSlots(enabled),
    });
  }

  /** Hands every slot to the VMM (mapMemory) or takes every one back (unmapMemory). */
  #mapSlots(on: boolean): void {
    for (const p of this.#placed) {
      for (const s of p.slots) {
        if (s.installed === on) continue;
        if (on) { this.#opts.mapMemory(s.slot); this.#stats.slotsMapped++; } else { this.#opts.unmapMemory(s.slot); this.#stats.slotsUnmapped++; }
        s.installed = on;
      }
    }
  }

  /** True once close() has run. */
  get closed(): boolean { return this.#closed; }

  /** The routing of the device's IRQs (its `machine` has each line's state and counters), or
   *  undefined with `routeIrqs: false`. Closed by close(). */
  get irqRouting(): IrqRouting | undefined { return this.#routing; }

  /** The guest's device-tree node (guestNodeFor's output): a standalone DTB with the clocks the
   *  device needs and, unless `dt.bus` is false, the platform-bus node around the device; merge
   *  it into the guest's tree (`mergeFdt(board, node.dtb, '/')`).
   * @throws VfioError 'closed'.
   */
  dtNode(): GuestNode { this.#live(); return this.#node!; }

  /** True when `gpa` lies in one of the device's placed ranges (a region rounded up to the bus's page).
   * @throws VfioError 'closed', 'bad-argument' (gpa not a bigint).
   */
  claims(gpa: bigint): boolean {
    if (typeof gpa !== 'bigint') badArgument('gpa', gpa, 'a bigint');
    this.#live();
    return this.#at(gpa) !== undefined;
  }

  /**
   * A trapped guest read of `width` bytes at `gpa` (the VMM's MMIO exit): through the region's
   * mapping where it has one (an Atomics load), else through the device fd (the trap path, checked
   * by the core's region table). What a guest can do never throws: an access the region refuses
   * (past its end, misaligned) or of an odd width reads all-ones and is counted. With userspace
   * delivery the access then goes to the IRQ machine (for an active line: its EOI).
   * @param gpa - The guest physical address of the access.
   * @param width - Bytes (1, 2, 4 or 8; others read all-ones).
   * @returns The value (zero-extended), or undefined when `gpa` is not the device's.
   * @throws VfioError 'closed', 'bad-argument' (gpa not a bigint, width not an integer), and the
   *   errno kinds of pread and of the IRQ machine's VFIO calls.
   */
  mmioRead(gpa: bigint, width: number): bigint | undefined {
    if (typeof gpa !== 'bigint') badArgument('gpa', gpa, 'a bigint');
    if (!Number.isInteger(width)) badArgument('width', width, 'an integer');
    this.#live();
    const p = this.#at(gpa);
    if (!p) return undefined;
    this.#stats.mmioReads++;
    const v = this.#read(p, gpa - p.address, width);
    if (this.#userspace) this.#routing!.trappedAccess();
    return v;
  }

  /**
   * A trapped guest write of the low `width` bytes of `value` at `gpa`, as mmioRead (an Atomics
   * store through the mapping, else pwrite on the device fd); a refused or odd-width write is
   * dropped and counted. With userspace delivery the access then goes to the IRQ machine.
   * @param gpa - The guest physical address of the access.
   * @param width - Bytes (1, 2, 4 or 8; others are dropped).
   * @param value - The value written (its low `width` bytes).
   * @returns True when `gpa` is the device's (written or dropped), false when not.
   * @throws VfioError 'closed', 'bad-argument' (gpa or value not a bigint, width not an integer),
   *   and the errno kinds of pwrite and of the IRQ machine's VFIO calls.
   */
  mmioWrite(gpa: bigint, width: number, value: bigint): boolean {
    if (typeof gpa !== 'bigint') badArgument('gpa', gpa, 'a bigint');
    if (!Number.isInteger(width)) badArgument('width', width, 'an integer');
    if (typeof value !== 'bigint') badArgument('value', value, 'a bigint');
    this.#live();
    const p = this.#at(gpa);
    if (!p) return false;
    this.#stats.mmioWrites++;
    this.#write(p, gpa - p.address, width, value);
    if (this.#userspace) this.#routing!.trappedAccess();
    return true;
  }

  /** Counters since construction (a copy).
   * @throws VfioError 'closed'.
   */
  stats(): PlatformPassthroughStats { this.#live(); return { ...this.#stats }; }

  #at(gpa: bigint): Placed | undefined {
    for (const p of this.#placed) if (gpa >= p.address && gpa <= p.last) return p;
    return undefined;
  }

  /** The mapping that holds [off, off + width) naturally aligned, and the offset in it. */
  #mapped(p: Placed, off: bigint, width: number): { m: RegionMap; o: number } | undefined {
    for (const m of p.maps) {
      if (off < m.offset || off + BigInt(width) > m.offset + m.size) continue;
      const o = Number(off - m.offset);
      return o % width === 0 ? { m, o } : undefined;
    }
    return undefined;
  }

  #read(p: Placed, off: bigint, width: number): bigint {
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) { this.#stats.mmioRefused++; return allOnes(width); }
    const at = this.#mapped(p, off, width);
    if (!at) return p.region.read(off, width as Width);
    const m = at.m.mapping;
    return width === 8 ? m.read64(at.o) : BigInt(width === 4 ? m.read32(at.o) : width === 2 ? m.read16(at.o) : m.read8(at.o));
  }

  #write(p: Placed, off: bigint, width: number, value: bigint): void {
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) { this.#stats.mmioRefused++; return; }
    const at = this.#mapped(p, off, width);
    if (!at) { p.region.write(off, width as Width, BigInt.asUintN(8 * width, value)); return; }
    const m = at.m.mapping;
    if (width === 8) m.write64(at.o, value);
    else {
      const v = Number(BigInt.asUintN(8 * width, value));
      if (width === 4) m.write32(at.o, v); else if (width === 2) m.write16(at.o, v); else m.write8(at.o, v);
    }
  }

  #live(): void {
    if (this.#closed) throw new VfioError({ kind: 'closed', device: this.device.name, message: 'the PlatformPassthrough was closed', hint: 'call device.platform() again' });
    if (this.device.closed) throw closedError('device', this.device.name);
  }

  /**
   * Releases the device's guest side in the fixed order: the IRQ routing (irqfds deassigned,
   * indexes disabled in the kernel, eventfds closed, the timer cancelled), unmapMemory for every
   * slot the VMM still has (so its memslots go before the mappings behind them), the region
   * mappings, then the placement (freed on the VMM's bus, or the bus closed when this object
   * made it). Every step runs even if one fails; the first failure is thrown at the end. Closing
   * twice is harmless; the device's close() calls it first.
   * @throws VfioError the first failure of a step (or what the VMM's unmapMemory threw), after every step has run.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const t = new Teardown();
    if (this.#routing) { const r = this.#routing; t.step(() => r.close()); }
    for (const p of this.#placed) {
      for (const s of p.slots) {
        if (!s.installed) continue;
        s.installed = false;
        t.step(() => { this.#opts.unmapMemory(s.slot); this.#stats.slotsUnmapped++; });
      }
    }
    for (const p of this.#placed) for (const m of p.maps) t.step(() => m.mapping.close());
    const bus = this.#bus;
    if (bus && this.#ownBus) t.step(() => bus.close());
    else if (bus && !bus.closed && this.#handle !== 0) { const d = this.#handle; t.step(() => { bus.free(d); }); }
    t.finish();
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}

/** Checks the options before anything is placed; returns how the IRQs are delivered. */
function checkOptions(opts: PlatformPassthroughOptions, device: VfioDevice): 'kvm' | 'userspace' | 'none' {
  if (!(opts.bus instanceof PlatformBus)) checkObject('opts.bus', opts.bus);
  checkBytes('opts.hostDtb', opts.hostDtb);
  checkInt('opts.interruptParent', opts.interruptParent, 1, PHANDLE_MAX);
  checkFn('opts.mapMemory', opts.mapMemory);
  checkFn('opts.unmapMemory', opts.unmapMemory);
  if (opts.kvm !== undefined) { checkObject('opts.kvm', opts.kvm); checkFd('opts.kvm.vmFd', opts.kvm.vmFd); }
  if (opts.setLine !== undefined) checkFn('opts.setLine', opts.setLine);
  if (opts.onAction !== undefined) checkFn('opts.onAction', opts.onAction);
  if (opts.onError !== undefined) checkFn('opts.onError', opts.onError);
  if (opts.timeoutNs !== undefined && (typeof opts.timeoutNs !== 'bigint' || opts.timeoutNs < 0n)) badArgument('opts.timeoutNs', opts.timeoutNs, 'a bigint >= 0 (nanoseconds)');
  const pl = checkOptObject<PlatformPlacementOptions>('opts.placement', opts.placement);
  if (pl.addresses !== undefined) {
    checkBigU64s('opts.placement.addresses', pl.addresses);
    if (pl.addresses.length !== device.regions.length) badArgument('opts.placement.addresses', pl.addresses, `one address per region (${device.regions.length})`);
    if (pl.identity) badArgument('opts.placement.identity', pl.identity, 'not with addresses: give one or the other');
  }
  if (pl.spis !== undefined) {
    if (!Array.isArray(pl.spis)) badArgument('opts.placement.spis', pl.spis, 'an array of SPI numbers');
    pl.spis.forEach((s, i) => checkInt(`opts.placement.spis[${i}]`, s, 0, 0xffff_fffe));
    if (pl.spis.length !== device.irqs.length) badArgument('opts.placement.spis', pl.spis, `one SPI per IRQ index (${device.irqs.length})`);
  }
  const dt = checkOptObject<PlatformNodeOptions>('opts.dt', opts.dt);
  if (dt.firstPhandle !== undefined) checkInt('opts.dt.firstPhandle', dt.firstPhandle, 1, PHANDLE_MAX);
  if (dt.hostNodePath !== undefined) checkString('opts.dt.hostNodePath', dt.hostNodePath);
  for (const r of device.regions) {
    if (!r.ok || r.size === 0n) throw new VfioError({ kind: 'not-supported', device: device.name, message: `region ${r.index} (${r.name}) ${r.ok ? 'is empty' : `could not be read from the kernel: ${r.error?.message ?? 'unknown'}`}`, hint: 'the guest node needs every reg entry of the host node placed; check the kernel log for the device' });
  }
  if (opts.routeIrqs === false) {
    if (opts.kvm !== undefined || opts.setLine !== undefined) badArgument(opts.kvm !== undefined ? 'opts.kvm' : 'opts.setLine', 'given', 'nothing with routeIrqs: false (the VMM takes device.irqs itself)');
    return 'none';
  }
  if (opts.kvm !== undefined && opts.setLine !== undefined) badArgument('opts.setLine', 'given with opts.kvm', 'one delivery: kvm (irqfd) or setLine (userspace), not both');
  if (opts.kvm === undefined && opts.setLine === undefined) badArgument('opts.kvm', undefined, 'a delivery: kvm: { vmFd } (irqfd) or setLine (the userspace IRQ machine), or routeIrqs: false');
  return opts.kvm !== undefined ? 'kvm' : 'userspace';
}

/** The host physical address of each region: the host node's reg, which is a CPU address only
 *  when every ancestor maps addresses 1:1 (an empty `ranges`; the root has none to apply). */
function identityAddresses(hostDtb: Uint8Array, path: string, device: VfioDevice): bigint[] {
  const node = parseFdt(hostDtb).node(path);
  for (let a = node.parent; a?.parent; a = a.parent) {
    const ranges = a.findProp('ranges');
    if (!ranges || ranges.length !== 0) {
      throw new VfioError({ kind: 'not-supported', device: device.name, message: `identity placement: ${a.path} ${ranges ? 'translates addresses (a non-empty ranges)' : 'has no ranges'}, so ${path}'s reg is not a host physical address`, hint: 'give the guest addresses with placement.addresses instead' });
    }
  }
  const reg = node.reg();
  if (reg.length < device.regions.length) {
    throw new VfioError({ kind: 'not-supported', device: device.name, message: `identity placement: ${path} has ${reg.length} reg entries for ${device.regions.length} regions`, hint: 'give the guest addresses with placement.addresses instead' });
  }
  return reg.map((r) => r.address);
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
/** The smallest power of two >= v (v >= 1). */
function pow2Ceil(v: bigint): bigint { let p = 1n; while (p < v) p <<= 1n; return p; }
/** What a refused read of `width` bytes returns: all-ones of the width (of 8 bytes past 8). */
const allOnes = (width: number): bigint => (width >= 1 && width <= 8 ? (1n << BigInt(8 * width)) - 1n : 0xffff_ffff_ffff_ffffn);
