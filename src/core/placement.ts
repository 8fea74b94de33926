// PlatformBus: the TypeScript face of the core's placement allocator (assembly/placement/bus.ts,
// whose header holds the rules). A VMM opens one per guest platform bus with the MMIO window and
// the SPI range it reserved; each passed-through device gets a device handle, MMIO ranges and SPIs,
// and gives them all back with free(device) on unplug.
// Not responsible for: mapping anything or writing the device tree (src/core/dtnode.ts does that).

import { bindExports, core, type Core, type CoreFn } from './loader.js';
import { VfioError } from '../errors.js';
import { checkStatus } from './status.js';
import { checkBigInt, checkBigU64, checkInt, checkObject, checkOptInt, checkOptObject } from '../../shim/args.js';

/** A device on a {@link PlatformBus}: a positive number that groups its MMIO ranges and SPIs, freed together by free(). */
export type DeviceHandle = number;

/** The core's u32 arguments (SPIs, device handles). */
const U32_MAX = 0xffff_ffff;

/** The guest platform bus a {@link PlatformBus} hands out: an MMIO window and a range of GIC SPIs, both reserved by the VMM for passed-through devices. */
export interface PlatformBusOptions {
  /** First guest physical address of the MMIO window. */
  base: bigint;
  /** Bytes in the window (a multiple of pageSize; base + size - 1 may be 2^64-1). */
  size: bigint;
  /** First SPI number of the bus (INTID - 32). */
  spiFirst: number;
  /** SPIs in the range. */
  spiCount: number;
  /** Page size: every range reserves whole pages (default 4096). */
  pageSize?: bigint;
}

/** How {@link PlatformBus.placeRegion} places a range: first fit (the default), `fixed` at a guest address, or `identity` at the host's physical address. `fixed` and `identity` exclude each other. */
export interface PlaceRegionOptions {
  /** The device the range belongs to; a new device is created when omitted. */
  device?: DeviceHandle;
  /** A power of two; default: natural alignment (the size rounded up to a power of two). */
  align?: bigint;
  /** Place exactly here (page aligned, and aligned to `align` when given). */
  fixed?: bigint;
  /** Place at this host physical address (identity mapping; page aligned). */
  identity?: bigint;
}

/** An MMIO range placed on the bus, from {@link PlatformBus.placeRegion}. */
export interface PlacedRegion {
  /** The device the range belongs to (the one given, or a new one). */
  device: DeviceHandle;
  /** Guest physical address. */
  address: bigint;
  /** Reserved bytes: the asked size rounded up to the page size. */
  size: bigint;
  /** Alignment the address honours. */
  align: bigint;
}

/** An SPI given to a device, from {@link PlatformBus.placeIrq}. */
export interface PlacedIrq {
  /** The device the SPI belongs to (the one given, or a new one). */
  device: DeviceHandle;
  /** SPI number (INTID - 32): the second cell of a GIC interrupts triple. */
  spi: number;
  /** The GIC interrupt ID (SPI + 32), for the VMM's interrupt controller and KVM. */
  intid: number;
}

/** A snapshot of a {@link PlatformBus}, from {@link PlatformBus.info}: the window, the SPI range and what is placed. */
export interface BusInfo {
  /** First guest address of the window. */
  first: bigint;
  /** Last guest address of the window (inclusive: may be 2^64 - 1). */
  last: bigint;
  /** The page size every range is rounded to. */
  pageSize: bigint;
  /** First SPI of the bus (INTID - 32). */
  spiFirst: number;
  /** SPIs in the bus's range. */
  spiCount: number;
  /** SPIs given out. */
  spisTaken: number;
  /** Device handles alive. */
  devices: number;
  /** Every placed range, in address order: its device, first and last (inclusive) guest address, and how it was placed. */
  regions: { device: DeviceHandle; first: bigint; last: bigint; mode: 'first-fit' | 'fixed' | 'identity' }[];
}

const PLACE_EXPORTS = ['bus_create', 'bus_free', 'device_create', 'device_free', 'region', 'irq', 'region_at', 'bus_info', 'spi_owner'] as const;
const MODES = ['first-fit', 'fixed', 'identity'] as const;
const MODE_FIRST_FIT = 0, MODE_FIXED = 1, MODE_IDENTITY = 2;

/**
 * The allocator of a guest platform bus (the core's placement allocator): a VMM makes one per
 * bus with the MMIO window and SPI range it reserved; each passed-through platform or AMBA device
 * gets a device handle, page-rounded MMIO ranges (first fit, fixed or identity) and SPIs, and
 * gives them all back with free() on unplug. Pure bookkeeping in the Wasm core: no syscall, no
 * mapping. The bus holds core memory until close() (or `using`).
 *
 * @example
 * ```ts
 * import { openDevice, PlatformBus } from 'vfiokit';
 *
 * const dev = openDevice('9010000.pl031');
 * using bus = new PlatformBus({ base: 0x0c00_0000n, size: 32n << 20n, spiFirst: 112, spiCount: 16 });
 * const device = bus.newDevice();
 * const regs = bus.placeRegion(dev.region(0).size, { device }); // guest address for reg0
 * const irq = bus.placeIrq(undefined, { device });              // SPI for irq0
 * console.log(regs.address.toString(16), irq.spi, irq.intid);
 * // ... map dev.region(0) at regs.address, route the IRQ to irq.intid, describe it to the guest
 * bus.free(device); // unplug
 * dev.close();
 * ```
 */
export class PlatformBus {
  private readonly c: Core;
  private handle: number;
  private readonly f: Readonly<Record<(typeof PLACE_EXPORTS)[number], CoreFn>>;

  /**
   * Creates the bus in the core.
   * @throws VfioError 'bad-argument' (a window empty or not page-aligned, an SPI range outside
   *   0..987, a page size that is not a power of two from 4096 to 65536), 'no-space' (8 buses are
   *   open already: the core's limit).
   */
  constructor(opts: PlatformBusOptions) {
    checkObject('opts', opts);
    checkBigU64('opts.base', opts.base); checkBigU64('opts.size', opts.size);
    checkInt('opts.spiFirst', opts.spiFirst, 0, U32_MAX); checkInt('opts.spiCount', opts.spiCount, 0, U32_MAX);
    if (opts.pageSize !== undefined) checkBigU64('opts.pageSize', opts.pageSize);
    this.c = core();
    this.f = bindExports(this.c, 'place_', PLACE_EXPORTS);
    const st = this.f.bus_create(BigInt.asUintN(64, opts.base), BigInt.asUintN(64, opts.size), opts.spiFirst, opts.spiCount, opts.pageSize ?? 4096n);
    this.check(st, `cannot create a platform bus at ${hex(opts.base)} size ${hex(opts.size)} with SPIs ${opts.spiFirst}+${opts.spiCount}`);
    this.handle = st;
  }

  /** True once close() has run. */
  get closed(): boolean { return this.handle === 0; }

  /** A new device handle (for ranges and SPIs that belong together and are freed together).
   * @throws VfioError 'closed', 'no-space' (64 devices on the bus: the core's limit).
   */
  newDevice(): DeviceHandle {
    return this.check(this.f.device_create(this.live()), 'no room for another device on the platform bus');
  }

  /** Places an MMIO range of `size` bytes (first fit, fixed or identity).
   * The range is rounded up to whole pages and aligned to `opts.align` (default: its size rounded
   * up to a power of two).
   * @param size - Bytes (a region's size); at least 1.
   * @throws VfioError 'closed', 'bad-argument' (size 0, fixed and identity both, an alignment that
   *   is not a power of two, an address misaligned or outside the window); 'closed' also for an
   *   unknown or freed device handle (the core's BAD_HANDLE),
   *   'no-space' (no room in the window, or 256 ranges on the bus), 'busy' (a fixed or identity
   *   range overlaps one already placed).
   */
  placeRegion(size: bigint, opts: PlaceRegionOptions = {}): PlacedRegion {
    checkBigU64('size', size); opts = checkOptObject('opts', opts);
    // An address past 2^64 wraps (the core then finds it outside the window), as it always did;
    // an alignment has no such reading: it is a u64 or wrong.
    for (const k of ['fixed', 'identity'] as const) if (opts[k] !== undefined) checkBigInt(`opts.${k}`, opts[k]);
    if (opts.align !== undefined) checkBigU64('opts.align', opts.align);
    if (opts.device !== undefined) checkInt('opts.device', opts.device, 1, U32_MAX);
    const device = opts.device ?? this.newDevice();
    let mode = MODE_FIRST_FIT, addr = 0n;
    if (opts.fixed !== undefined && opts.identity !== undefined) throw new VfioError({ kind: 'bad-argument', message: 'placeRegion: give fixed or identity, not both' });
    if (opts.fixed !== undefined) { mode = MODE_FIXED; addr = opts.fixed; }
    if (opts.identity !== undefined) { mode = MODE_IDENTITY; addr = opts.identity; }
    const st = this.f.region(this.live(), device, BigInt.asUintN(64, size), BigInt.asUintN(64, opts.align ?? 0n), mode, BigInt.asUintN(64, addr));
    this.check(st, `cannot place ${hex(size)} bytes${mode === MODE_FIRST_FIT ? '' : ` at ${hex(addr)}`} on the platform bus`);
    return { device, address: this.c.result(0), size: this.c.result(1), align: this.c.result(2) };
  }

  /** Gives a device an SPI: the lowest free one, or `fixed` (an SPI number).
   * @param fixed - An SPI number inside the bus's range, or undefined for the lowest free one.
   * @param opts - `device`: the device handle (a new device when omitted).
   * @throws VfioError 'closed', 'no-space' (no free SPI), 'busy' (`fixed` is taken),
   *   'bad-argument' (outside the range); 'closed' also for an unknown or freed device handle.
   */
  placeIrq(fixed?: number, opts: { device?: DeviceHandle } = {}): PlacedIrq {
    checkOptInt('fixed', fixed, 0, U32_MAX - 1); opts = checkOptObject('opts', opts);
    if (opts.device !== undefined) checkInt('opts.device', opts.device, 1, U32_MAX);
    const device = opts.device ?? this.newDevice();
    const st = this.f.irq(this.live(), device, fixed ?? -1);
    this.check(st, fixed === undefined ? 'no free SPI on the platform bus' : `cannot give SPI ${fixed}`);
    return { device, spi: st, intid: Number(this.c.result(0)) };
  }

  /** Unplug: frees every range and SPI of the device.
   * @returns How many ranges and SPIs were freed.
   * @throws VfioError 'closed' (the bus, or an unknown or freed device handle: the core's BAD_HANDLE).
   */
  free(device: DeviceHandle): { regions: number; spis: number } {
    checkInt('device', device, 1, U32_MAX);
    this.check(this.f.device_free(this.live(), device), `cannot free device ${device}`);
    return { regions: Number(this.c.result(0)), spis: Number(this.c.result(1)) };
  }

  /** Owner of an SPI (undefined when free).
   * @throws VfioError 'closed', 'bad-argument' (an SPI outside the bus's range).
   */
  spiOwner(spi: number): DeviceHandle | undefined {
    checkInt('spi', spi, 0, U32_MAX);
    const st = this.check(this.f.spi_owner(this.live(), spi), `SPI ${spi}`);
    return st === 0 ? undefined : st;
  }

  /** A snapshot of the bus (see {@link BusInfo}). Throws 'closed' after close(). */
  info(): BusInfo {
    const n = this.check(this.f.bus_info(this.live()), 'bus info');
    const r = (i: number) => this.c.result(i);
    const out: BusInfo = { first: r(0), last: r(1), pageSize: r(2), spiFirst: Number(r(3)), spiCount: Number(r(4)), spisTaken: Number(r(5)), devices: Number(r(6)), regions: [] };
    for (let i = 0; i < n; i++) {
      const dev = this.check(this.f.region_at(this.handle, i), 'region');
      out.regions.push({ device: dev, first: r(0), last: r(1), mode: MODES[Number(r(2))]! });
    }
    return out;
  }

  /** Frees the bus and everything on it; closing twice is harmless. */
  close(): void {
    if (this.handle === 0) return;
    this.f.bus_free(this.handle);
    this.handle = 0;
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  private live(): number {
    if (this.handle === 0) throw new VfioError({ kind: 'closed', message: 'the platform bus is closed', hint: 'create a new PlatformBus' });
    return this.handle;
  }

  private check(st: number, what: string): number {
    return checkStatus(this.c, st, what);
  }
}

const hex = (v: bigint) => `0x${BigInt.asUintN(64, v).toString(16)}`;
