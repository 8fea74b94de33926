// Property tests of the placement allocator (fast-check) over random sequences of place/free:
//   - placed ranges never overlap and stay inside the window
//   - first-fit ranges are naturally aligned (or to the asked alignment), fixed ones page aligned
//   - SPIs are unique, inside the range, and owned by the device that asked
//   - freeing every device returns the bus to empty; linear memory does not grow
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PlatformBus, type DeviceHandle } from '../../../src/core/placement';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';

const RUNS = Number(process.env.PLACE_PROPERTY_RUNS ?? 300);
const U64_MAX = (1n << 64n) - 1n;
const memoryBefore = core().exports.memory.buffer.byteLength;

type Cmd =
  | { t: 'region'; dev: number; size: bigint; align: number; fixed: bigint | undefined }
  | { t: 'irq'; dev: number; fixed: number | undefined }
  | { t: 'free'; dev: number };

const cmd = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('region' as const), dev: fc.nat(5), size: fc.bigInt({ min: 1n, max: 0x40000n }), align: fc.constantFrom(0, 0, 0, 12, 16, 20), fixed: fc.option(fc.bigInt({ min: 0n, max: 0x100n }), { freq: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('irq' as const), dev: fc.nat(5), fixed: fc.option(fc.nat(20), { freq: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('free' as const), dev: fc.nat(5) }) },
);
// Windows: low, mid, and one ending at 2^64-1.
const windowArb = fc.record({
  pages: fc.integer({ min: 1, max: 512 }),
  where: fc.constantFrom('low', 'top', 'mid'),
  page: fc.constantFrom(4096n, 65536n),
  spiFirst: fc.nat(100),
  spiCount: fc.integer({ min: 1, max: 16 }),
});

const pow2ceil = (x: bigint) => { let p = 1n; while (p < x) p <<= 1n; return p; };

test('random place/free sequences keep every invariant, and freeing all returns to empty', () => {
  fc.assert(fc.property(windowArb, fc.array(cmd, { maxLength: 60 }), (w, cmds) => {
    const size = BigInt(w.pages) * w.page;
    const base = w.where === 'low' ? 0n : w.where === 'top' ? U64_MAX - size + 1n : 0x8000_0000_0000n;
    using bus = new PlatformBus({ base, size, spiFirst: w.spiFirst, spiCount: w.spiCount, pageSize: w.page });
    const devs: (DeviceHandle | undefined)[] = [];
    const dev = (i: number) => (devs[i] ??= bus.newDevice());
    const mine = new Map<DeviceHandle, { first: bigint; last: bigint }[]>();
    for (const c of cmds) {
      try {
        if (c.t === 'region') {
          const d = dev(c.dev);
          const align = c.align ? 1n << BigInt(c.align) : undefined;
          const fixed = c.fixed == null ? undefined : base + c.fixed * w.page;
          const r = bus.placeRegion(c.size, { device: d, align, fixed });
          const rsize = ((c.size + w.page - 1n) / w.page) * w.page;
          assert.is(r.size, rsize);
          if (fixed !== undefined) assert.is(r.address, fixed);
          else {
            const want = align ?? pow2ceil(rsize);
            assert.is(r.address % (want > w.page ? want : w.page), 0n, 'aligned');
          }
          (mine.get(d) ?? mine.set(d, []).get(d)!).push({ first: r.address, last: r.address + r.size - 1n });
        } else if (c.t === 'irq') {
          const d = dev(c.dev);
          const r = bus.placeIrq(c.fixed == null ? undefined : w.spiFirst + c.fixed, { device: d });
          assert.ok(r.spi >= w.spiFirst && r.spi < w.spiFirst + w.spiCount);
          assert.is(bus.spiOwner(r.spi), d);
        } else if (devs[c.dev] !== undefined) {
          bus.free(devs[c.dev]!);
          mine.delete(devs[c.dev]!);
          devs[c.dev] = undefined;
        }
      } catch (e) {
        if (!(e instanceof VfioError)) throw e;
        assert.ok(['PLACE_WINDOW_FULL', 'PLACE_TAKEN', 'PLACE_OUTSIDE_WINDOW', 'PLACE_MISALIGNED', 'PLACE_NO_SPI', 'PLACE_SPI_TAKEN', 'PLACE_SPI_OUTSIDE'].includes(e.statusName!), e.message);
      }
      // invariants after every step
      const info = bus.info();
      let prevLast = -1n;
      for (const r of info.regions) {
        assert.ok(r.first >= info.first && r.last <= info.last, 'inside the window');
        assert.ok(r.first > prevLast, 'sorted, no overlap');
        prevLast = r.last;
      }
      const expected = [...mine.values()].flat().map((r) => `${r.first}-${r.last}`).sort();
      assert.equal(info.regions.map((r) => `${r.first}-${r.last}`).sort(), expected);
    }
    for (const d of devs) if (d !== undefined) bus.free(d);
    const end = bus.info();
    assert.is(end.regions.length, 0);
    assert.is(end.spisTaken, 0);
    assert.is(end.devices, 0);
    // empty again: the whole window is one free range
    assert.is(bus.placeRegion(size, { align: w.page }).address, base);
  }), { numRuns: RUNS });
});

test('first fit fills a window completely with page-sized ranges, then reports full', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.boolean(), (pages, top) => {
    const size = BigInt(pages) * 4096n;
    const base = top ? U64_MAX - size + 1n : 0x1000n;
    using bus = new PlatformBus({ base, size, spiFirst: 0, spiCount: 1 });
    const device = bus.newDevice();
    for (let i = 0; i < pages; i++) assert.is(bus.placeRegion(4096n, { device }).address, base + BigInt(i) * 4096n);
    try { bus.placeRegion(4096n, { device }); assert.unreachable(); } catch (e) { assert.is((e as VfioError).statusName, 'PLACE_WINDOW_FULL'); }
  }), { numRuns: RUNS });
});

test('linear memory does not grow', () => {
  assert.is(core().exports.memory.buffer.byteLength, memoryBefore);
});

test.run();
