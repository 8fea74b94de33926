// Unit cases of the platform-bus placement allocator (assembly/placement/bus.ts) through
// PlatformBus, plus raw-export checks of statuses that the wrapper cannot reach.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PlatformBus } from '../../../src/core/placement';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';

const MiB = 1n << 20n;
const KiB = 1n << 10n;
const U64_MAX = (1n << 64n) - 1n;
type F = (...a: (number | bigint)[]) => number;
const raw = (n: string) => core().fn<F>(`place_${n}`);
const statusOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e.statusName ?? e.kind; throw e; }
  return 'OK';
};
const virtBus = () => new PlatformBus({ base: 0x0c00_0000n, size: 32n * MiB, spiFirst: 112, spiCount: 64 });

test('first fit places regions naturally aligned to their size rounded up to a power of two', () => {
  using bus = virtBus();
  const a = bus.placeRegion(0x1000n);
  const b = bus.placeRegion(0x3000n);   // 12 KiB: aligned to 16 KiB
  const c = bus.placeRegion(0x1000n);   // fills the hole after a
  assert.is(a.address, 0x0c00_0000n);
  assert.is(b.address, 0x0c00_4000n);
  assert.is(b.align, 0x4000n);
  assert.is(c.address, 0x0c00_1000n);
});

test('sub-page region reserves a whole page', () => {
  using bus = virtBus();
  const a = bus.placeRegion(0x100n);
  const b = bus.placeRegion(0x100n);
  assert.is(a.size, 0x1000n);
  assert.is(b.address - a.address, 0x1000n);
});

test('64 KiB page size aligns and rounds every range to 64 KiB', () => {
  using bus = new PlatformBus({ base: 0x0c00_0000n, size: 32n * MiB, spiFirst: 0, spiCount: 4, pageSize: 64n * KiB });
  const a = bus.placeRegion(0x1000n);
  const b = bus.placeRegion(0x1000n);
  assert.is(a.size, 64n * KiB);
  assert.is(b.address, 0x0c01_0000n);
});

test('explicit alignment is honoured and raised to the page size', () => {
  using bus = virtBus();
  bus.placeRegion(0x1000n);
  assert.is(bus.placeRegion(0x1000n, { align: 1n << 20n }).address, 0x0c10_0000n);
  assert.is(bus.placeRegion(0x1000n, { align: 16n }).align, 0x1000n);
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { align: 3n })), 'BAD_ARG');
});

test('fixed address is used exactly, and refused when taken, outside the window or misaligned', () => {
  using bus = virtBus();
  const a = bus.placeRegion(0x2000n, { fixed: 0x0c10_0000n });
  assert.is(a.address, 0x0c10_0000n);
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { fixed: 0x0c10_1000n })), 'PLACE_TAKEN');
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { fixed: 0x0bff_f000n })), 'PLACE_OUTSIDE_WINDOW');
  assert.is(statusOf(() => bus.placeRegion(0x2000n, { fixed: 0x0dff_f000n })), 'PLACE_OUTSIDE_WINDOW');
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { fixed: 0x0c20_0800n })), 'PLACE_MISALIGNED');
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { fixed: 0x0c20_1000n, align: 0x4000n })), 'PLACE_MISALIGNED');
  // first fit goes around the fixed range
  assert.is(bus.placeRegion(0x100000n).address, 0x0c00_0000n);
  assert.is(bus.placeRegion(0x100000n).address, 0x0c20_0000n);
});

test('identity placement uses the host physical address with page alignment only', () => {
  using bus = new PlatformBus({ base: 0n, size: 1n << 32n, spiFirst: 0, spiCount: 8 });
  const r = bus.placeRegion(0x3000n, { identity: 0x0901_1000n });
  assert.is(r.address, 0x0901_1000n);
  assert.is(bus.info().regions[0]!.mode, 'identity');
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { identity: 0x0901_2000n })), 'PLACE_TAKEN');
});

test('a full window answers PLACE_WINDOW_FULL and changes nothing', () => {
  using bus = new PlatformBus({ base: 0x1000_0000n, size: 0x4000n, spiFirst: 0, spiCount: 1 });
  bus.placeRegion(0x2000n);
  bus.placeRegion(0x1000n);
  const before = bus.info();
  assert.is(statusOf(() => bus.placeRegion(0x2000n)), 'PLACE_WINDOW_FULL');
  const e = (() => { try { bus.placeRegion(0x2000n); } catch (x) { return x as VfioError; } })();
  assert.is(e?.kind, 'no-space');
  assert.is(bus.placeRegion(0x1000n).address, 0x1000_3000n);
  assert.is(statusOf(() => bus.placeRegion(0x1000n)), 'PLACE_WINDOW_FULL');
  assert.is(before.regions.length, 2);
});

test('a window ending at 2^64-1 places up to the last page, without wrapping', () => {
  const base = U64_MAX - 0x3fffn;  // 16 KiB window at the very top
  using bus = new PlatformBus({ base, size: 0x4000n, spiFirst: 0, spiCount: 1 });
  assert.is(bus.info().last, U64_MAX);
  const a = bus.placeRegion(0x2000n);
  const b = bus.placeRegion(0x2000n);
  assert.is(a.address, base);
  assert.is(b.address, U64_MAX - 0x1fffn);
  assert.is(statusOf(() => bus.placeRegion(0x1000n)), 'PLACE_WINDOW_FULL');
  bus.free(a.device);
  assert.is(bus.placeRegion(0x1000n, { fixed: base + 0x1000n }).address, base + 0x1000n);
  assert.is(statusOf(() => bus.placeRegion(0x3000n, { fixed: U64_MAX - 0x1fffn })), 'PLACE_OUTSIDE_WINDOW');
});

test('sizes that overflow 64-bit rounding are refused', () => {
  using bus = virtBus();
  assert.is(statusOf(() => bus.placeRegion(U64_MAX)), 'OVERFLOW');
  assert.is(statusOf(() => bus.placeRegion((1n << 63n) + 1n)), 'OVERFLOW');
  assert.is(statusOf(() => bus.placeRegion(1n << 40n)), 'PLACE_WINDOW_FULL');
  assert.is(statusOf(() => bus.placeRegion(0n)), 'BAD_ARG');
});

test('bad windows and SPI ranges are refused at creation', () => {
  assert.is(statusOf(() => new PlatformBus({ base: 0n, size: 0n, spiFirst: 0, spiCount: 1 })), 'PLACE_BAD_WINDOW');
  assert.is(statusOf(() => new PlatformBus({ base: 0x800n, size: 0x1000n, spiFirst: 0, spiCount: 1 })), 'PLACE_BAD_WINDOW');
  assert.is(statusOf(() => new PlatformBus({ base: U64_MAX - 0xfffn, size: 0x2000n, spiFirst: 0, spiCount: 1 })), 'PLACE_BAD_WINDOW');
  assert.is(statusOf(() => new PlatformBus({ base: 0n, size: 0x1000n, spiFirst: 0, spiCount: 0 })), 'PLACE_BAD_SPI_RANGE');
  assert.is(statusOf(() => new PlatformBus({ base: 0n, size: 0x1000n, spiFirst: 980, spiCount: 9 })), 'PLACE_BAD_SPI_RANGE');
  assert.is(statusOf(() => new PlatformBus({ base: 0n, size: 0x1000n, spiFirst: 0, spiCount: 1, pageSize: 8192n + 1n })), 'BAD_ARG');
});

test('SPIs: next free, fixed, taken, outside, and none left', () => {
  using bus = new PlatformBus({ base: 0n, size: 0x10000n, spiFirst: 112, spiCount: 3 });
  const dev = bus.newDevice();
  const a = bus.placeIrq(undefined, { device: dev });
  assert.equal([a.spi, a.intid], [112, 144]);
  assert.is(bus.placeIrq(114, { device: dev }).spi, 114);
  assert.is(statusOf(() => bus.placeIrq(114, { device: dev })), 'PLACE_SPI_TAKEN');
  assert.is(statusOf(() => bus.placeIrq(115, { device: dev })), 'PLACE_SPI_OUTSIDE');
  assert.is(statusOf(() => bus.placeIrq(111, { device: dev })), 'PLACE_SPI_OUTSIDE');
  assert.is(bus.placeIrq(undefined, { device: dev }).spi, 113);
  assert.is(statusOf(() => bus.placeIrq()), 'PLACE_NO_SPI');
  assert.is(bus.spiOwner(113), dev);
});

test('free on unplug gives back every range and SPI of that device only, and they are reused', () => {
  using bus = virtBus();
  const a = bus.newDevice();
  const b = bus.newDevice();
  const ra = bus.placeRegion(0x1000n, { device: a });
  bus.placeRegion(0x1000n, { device: b });
  bus.placeRegion(0x10000n, { device: a });
  bus.placeIrq(undefined, { device: a });
  const sb = bus.placeIrq(undefined, { device: b });
  assert.equal(bus.free(a), { regions: 2, spis: 1 });
  const info = bus.info();
  assert.is(info.regions.length, 1);
  assert.is(info.spisTaken, 1);
  assert.is(bus.spiOwner(sb.spi), b);
  assert.is(bus.placeRegion(0x1000n).address, ra.address);
  assert.is(bus.placeIrq().spi, 112);
  assert.is(statusOf(() => bus.free(a)), 'BAD_HANDLE');
  assert.is(statusOf(() => bus.placeRegion(0x1000n, { device: a })), 'BAD_HANDLE');
});

test('a closed bus throws closed, closing twice is harmless, and its handle is stale', () => {
  const bus = virtBus();
  const h = (bus as unknown as { handle: number }).handle;
  bus.close();
  bus.close();
  assert.is(statusOf(() => bus.placeRegion(0x1000n)), 'closed');
  assert.is(raw('bus_info')(h), -5);
  assert.is(raw('device_create')(h), -5);
});

test('bounds: MAX_BUSES and MAX_DEVICES_PER_BUS answer LIMIT', () => {
  const lim = raw('limits'); lim();
  const maxBuses = Number(core().result(0)), maxDevs = Number(core().result(1));
  const buses: PlatformBus[] = [];
  try {
    for (let i = 0; i < maxBuses; i++) buses.push(virtBus());
    assert.is(statusOf(() => virtBus()), 'LIMIT');
  } finally { for (const b of buses) b.close(); }
  using bus = virtBus();
  for (let i = 0; i < maxDevs; i++) bus.newDevice();
  assert.is(statusOf(() => bus.newDevice()), 'LIMIT');
});

test('status names of the placement range are defined', () => {
  for (let c = -400; c >= -408; c--) assert.ok(core().statusName(c).startsWith('PLACE_'), String(c));
  assert.is(core().statusName(-409), '');
});

test.run();
