// PlatformBus: the TypeScript face of the core's placement allocator (assembly/placement/bus.ts,
// whose header holds the rules). A VMM opens one per guest platform bus with the MMIO window and
// the SPI range it reserved; each passed-through device gets a device handle, MMIO ranges and SPIs,
// and gives them all back with free(device) on unplug.
// Not responsible for: mapping anything or writing the device tree (src/core/dtnode.ts does that).

import { bind, core, type Core, type CoreFn } from './loader.js';
import { VfioError } from '../errors.js';
import { checkStatus } from './status.js';

export type DeviceHandle = number;

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

export interface PlacedRegion {
  device: DeviceHandle;
  /** Guest physical address. */
  address: bigint;
  /** Reserved bytes: the asked size rounded up to the page size. */
  size: bigint;
  /** Alignment the address honours. */
  align: bigint;
}

export interface PlacedIrq {
  device: DeviceHandle;
  /** SPI number (INTID - 32): the second cell of a GIC interrupts triple. */
  spi: number;
  intid: number;
}

export interface BusInfo {
  first: bigint;
  last: bigint;
  pageSize: bigint;
  spiFirst: number;
  spiCount: number;
  spisTaken: number;
  devices: number;
  regions: { device: DeviceHandle; first: bigint; last: bigint; mode: 'first-fit' | 'fixed' | 'identity' }[];
}

const PLACE_EXPORTS = ['bus_create', 'bus_free', 'device_create', 'device_free', 'region', 'irq', 'region_at', 'bus_info', 'spi_owner'] as const;
const MODES = ['first-fit', 'fixed', 'identity'] as const;
const MODE_FIRST_FIT = 0, MODE_FIXED = 1, MODE_IDENTITY = 2;

export class PlatformBus {
  private readonly c: Core;
  private handle: number;
  private readonly f: Readonly<Record<(typeof PLACE_EXPORTS)[number], CoreFn>>;

  constructor(opts: PlatformBusOptions) {
    this.c = core();
    this.f = bind(this.c, 'place_', PLACE_EXPORTS);
    const st = this.f.bus_create(BigInt.asUintN(64, opts.base), BigInt.asUintN(64, opts.size), opts.spiFirst, opts.spiCount, opts.pageSize ?? 4096n);
    this.check(st, `cannot create a platform bus at ${hex(opts.base)} size ${hex(opts.size)} with SPIs ${opts.spiFirst}+${opts.spiCount}`);
    this.handle = st;
  }

  get closed(): boolean { return this.handle === 0; }

  /** A new device handle (for ranges and SPIs that belong together and are freed together). */
  newDevice(): DeviceHandle {
    return this.check(this.f.device_create(this.live()), 'no room for another device on the platform bus');
  }

  /** Places an MMIO range of `size` bytes (first fit, fixed or identity). */
  placeRegion(size: bigint, opts: PlaceRegionOptions = {}): PlacedRegion {
    const device = opts.device ?? this.newDevice();
    let mode = MODE_FIRST_FIT, addr = 0n;
    if (opts.fixed !== undefined && opts.identity !== undefined) throw new VfioError({ kind: 'bad-argument', message: 'placeRegion: give fixed or identity, not both' });
    if (opts.fixed !== undefined) { mode = MODE_FIXED; addr = opts.fixed; }
    if (opts.identity !== undefined) { mode = MODE_IDENTITY; addr = opts.identity; }
    const st = this.f.region(this.live(), device, BigInt.asUintN(64, size), BigInt.asUintN(64, opts.align ?? 0n), mode, BigInt.asUintN(64, addr));
    this.check(st, `cannot place ${hex(size)} bytes${mode === MODE_FIRST_FIT ? '' : ` at ${hex(addr)}`} on the platform bus`);
    return { device, address: this.c.result(0), size: this.c.result(1), align: this.c.result(2) };
  }

  /** Gives a device an SPI: the lowest free one, or `fixed` (an SPI number). */
  placeIrq(fixed?: number, opts: { device?: DeviceHandle } = {}): PlacedIrq {
    const device = opts.device ?? this.newDevice();
    const st = this.f.irq(this.live(), device, fixed ?? -1);
    this.check(st, fixed === undefined ? 'no free SPI on the platform bus' : `cannot give SPI ${fixed}`);
    return { device, spi: st, intid: Number(this.c.result(0)) };
  }

  /** Unplug: frees every range and SPI of the device. */
  free(device: DeviceHandle): { regions: number; spis: number } {
    this.check(this.f.device_free(this.live(), device), `cannot free device ${device}`);
    return { regions: Number(this.c.result(0)), spis: Number(this.c.result(1)) };
  }

  /** Owner of an SPI (undefined when free). */
  spiOwner(spi: number): DeviceHandle | undefined {
    const st = this.check(this.f.spi_owner(this.live(), spi), `SPI ${spi}`);
    return st === 0 ? undefined : st;
  }

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
