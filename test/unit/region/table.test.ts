// The region table: map/trap split (page sizes, sub-page regions, sparse areas shrunk inward,
// carve-out holes rounded outward), guest access checks with counters, failed regions, handles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RegionTable, MAX_TABLES, MAX_HOLES, type SplitRange } from '../../../src/core/region';
import { decodeRegionInfo, MAX_REGIONS, MAX_SPARSE_AREAS, MAX_IRQ_INDEXES, MAX_IRQS, MAX_IOVA_RANGES, MAX_IOVA_ALIGNMENT } from '../../../src/vfio/index';
import { regionReply, sparseCap, msixCap } from '../vfio/replies';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';

const RW = 3, RWM = 7;
const K4 = 0x1000n, K64 = 0x10000n;
const m = (offset: bigint, size: bigint): SplitRange => ({ offset, size, kind: 'map' });
const t = (offset: bigint, size: bigint): SplitRange => ({ offset, size, kind: 'trap' });
const err = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

test('pl031: a 4 KiB MMAP region maps whole with 4 KiB pages and traps whole with 64 KiB pages', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: K4, offset: 0n });
  assert.equal(rt.split(0, K4), [m(0n, K4)]);
  assert.equal(rt.split(0, K64), [t(0n, K4)], 'sub-page region: all trapped');
});

test('a region without MMAP is trapped whole; a size-0 region has no ranges', () => {
  using rt = new RegionTable();
  rt.add(7, { flags: RW, size: 0x100n, offset: 7n << 40n });
  rt.add(8, { flags: RWM, size: 0n, offset: 8n << 40n });
  assert.equal(rt.split(7), [t(0n, 0x100n)]);
  assert.equal(rt.split(8), []);
});

test('a region whose size is not a page multiple maps the whole pages and traps the tail', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x1800n, offset: 0n });
  assert.equal(rt.split(0), [m(0n, K4), t(K4, 0x800n)]);
});

test('sparse areas not page aligned are shrunk inward; the rest is trapped', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x10000n, offset: 0n, sparse: [{ offset: 0x800n, size: 0x2000n }, { offset: 0x4000n, size: 0xc000n }] });
  assert.equal(rt.split(0), [t(0n, K4), m(K4, K4), t(0x2000n, 0x2000n), m(0x4000n, 0xc000n)]);
  assert.equal(rt.split(0, K64), [t(0n, 0x10000n)], 'no whole 64 KiB page inside an area');
});

test('a sparse cap with no areas maps nothing; touching areas merge into one MAP', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x4000n, offset: 0n, sparse: [] });
  rt.add(1, { flags: RWM, size: 0x4000n, offset: 1n << 40n, sparse: [{ offset: 0n, size: K4 }, { offset: K4, size: K4 }] });
  assert.equal(rt.split(0), [t(0n, 0x4000n)]);
  assert.equal(rt.split(1), [m(0n, 0x2000n), t(0x2000n, 0x2000n)]);
});

test('a file offset that is not page aligned cannot be mmapped: all trapped', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x4000n, offset: 0x800n });
  assert.equal(rt.split(0), [t(0n, 0x4000n)]);
});

test('carve-out: MSI-X table and PBA holes are rounded outward to pages and trapped', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x100000n, offset: 0n });
  const split = rt.split(0, K4, [{ offset: 0x3000n, size: 0x100n }, { offset: 0x3800n, size: 0x10n }, { offset: 0x8ff0n, size: 0x20n }]);
  assert.equal(split, [m(0n, 0x3000n), t(0x3000n, K4), m(0x4000n, 0x4000n), t(0x8000n, 0x2000n), m(0xa000n, 0xf6000n)]);
  const s64 = rt.split(0, K64, [{ offset: 0x3000n, size: 0x100n }]);
  assert.equal(s64, [t(0n, K64), m(K64, 0xf0000n)]);
  assert.is(err(() => rt.split(0, K4, [{ offset: 0xfff00n, size: 0x200n }])).statusName, 'REGION_HOLE_OUTSIDE');
});

test('guest access check: in range and aligned gives the file offset', () => {
  using rt = new RegionTable();
  rt.add(2, { flags: RWM, size: 0x1000n, offset: 2n << 40n });
  assert.equal(rt.check(2, 0xff8n, 8, 'read'), { ok: true, fileOffset: (2n << 40n) + 0xff8n });
  assert.equal(rt.check(2, 0xfffn, 1, 'write'), { ok: true, fileOffset: (2n << 40n) + 0xfffn });
});

test('out of range reads answer all-ones of the width, writes are dropped, and both are counted', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x1000n, offset: 0n });
  assert.equal(rt.check(0, 0x1000n, 4, 'read'), { ok: false, reason: 'out-of-range', readValue: 0xffff_ffffn });
  assert.equal(rt.check(0, 0xffcn, 8, 'read'), { ok: false, reason: 'out-of-range', readValue: (1n << 64n) - 1n });
  assert.equal(rt.check(0, (1n << 64n) - 1n, 2, 'write'), { ok: false, reason: 'out-of-range', readValue: 0xffffn });
  assert.equal(rt.check(0, 0x2n, 4, 'write'), { ok: false, reason: 'misaligned', readValue: 0xffff_ffffn });
  assert.equal(rt.counters(0), { readsRefused: 2n, writesDropped: 2n, outOfRange: 3n, misaligned: 1n, denied: 0n });
});

test('a write to a read-only region is denied and counted; width 3 is a VMM bug', () => {
  using rt = new RegionTable();
  rt.add(6, { flags: 1, size: 0x10000n, offset: 6n << 40n });
  assert.equal(rt.check(6, 0n, 4, 'write'), { ok: false, reason: 'denied', readValue: 0xffff_ffffn });
  assert.is(rt.check(6, 0n, 4, 'read').ok, true);
  assert.is(rt.counters(6).denied, 1n);
  assert.is(err(() => rt.check(6, 0n, 3, 'read')).kind, 'bad-argument');
});

test('re-adding a region replaces it and restarts its counters; other tables are independent', () => {
  using a = new RegionTable();
  using b = new RegionTable();
  a.add(0, { flags: RWM, size: 0x1000n, offset: 0n });
  b.add(0, { flags: RWM, size: 0x2000n, offset: 0n });
  a.check(0, 0x1000n, 4, 'read');
  assert.is(a.counters(0).readsRefused, 1n);
  assert.is(b.counters(0).readsRefused, 0n);
  a.add(0, { flags: RWM, size: 0x1000n, offset: 0n });
  assert.is(a.counters(0).readsRefused, 0n);
  assert.is(b.check(0, 0x1000n, 4, 'read').ok, true, 'b has its own 8 KiB region 0');
});

test('region_add refuses areas outside the region or overlapping, and changes nothing', () => {
  using rt = new RegionTable();
  rt.add(0, { flags: RWM, size: 0x1000n, offset: 0n });
  assert.is(err(() => rt.add(0, { flags: RWM, size: 0x2000n, offset: 0n, sparse: [{ offset: 0x1000n, size: 0x2000n }] })).statusName, 'REGION_AREA_OUTSIDE');
  assert.is(err(() => rt.add(0, { flags: RWM, size: 0x4000n, offset: 0n, sparse: [{ offset: 0n, size: 0x2000n }, { offset: 0x1000n, size: 0x1000n }] })).statusName, 'REGION_AREAS_OVERLAP');
  assert.is(err(() => rt.add(0, { flags: RWM, size: 0x2000n, offset: (1n << 64n) - 0x1000n })).statusName, 'OVERFLOW');
  const e = rt.get(0);
  assert.is(e?.state === 'ok' && e.size, 0x1000n, 'the old entry is intact');
  assert.is(err(() => rt.add(32, { flags: RWM, size: 0x1000n, offset: 0n })).statusName, 'LIMIT');
});

test('get returns sparse areas, undefined for an empty index; a closed table throws closed', () => {
  const rt = new RegionTable();
  rt.add(3, { flags: RWM, size: 0x4000n, offset: 0n, sparse: [{ offset: 0x1000n, size: 0x1000n }] });
  assert.equal(rt.get(3), { state: 'ok', index: 3, flags: RWM, size: 0x4000n, offset: 0n, sparse: [{ offset: 0x1000n, size: 0x1000n }] });
  assert.is(rt.get(4), undefined);
  assert.is(err(() => rt.check(4, 0n, 4, 'read')).kind, 'not-found');
  rt.close();
  rt.close();
  assert.is(err(() => rt.split(3)).kind, 'closed');
});

test('a freed handle is refused even after its slot is reused (generations)', () => {
  type F = (...a: (number | bigint)[]) => number;
  const c = core();
  const h1 = c.fn<F>('region_table_create')();
  assert.is(c.fn<F>('region_table_free')(h1), 0);
  const h2 = c.fn<F>('region_table_create')();
  assert.is.not(h2, h1);
  assert.is(c.statusName(c.fn<F>('region_get')(h1, 0)).split(':')[0], 'BAD_HANDLE');
  assert.is(c.fn<F>('region_table_free')(h1) < 0, true);
  c.fn<F>('region_table_free')(h2);
});

test('info decoded for one index cannot be recorded under another', () => {
  using rt = new RegionTable();
  const info = decodeRegionInfo(regionReply({ flags: RWM, index: 4, size: 0x1000n, offset: 4n << 40n }), 4);
  assert.is(err(() => rt.add(5, info)).kind, 'bad-argument');
  rt.add(4, info);
  assert.is(rt.check(4, 0x10n, 4).ok, true, 'direction defaults to read');
});

test('the TypeScript copies of the named bounds equal the core\'s', () => {
  type F = () => number;
  const c = core();
  c.fn<F>('region_limits')();
  const r = [0, 1, 2, 3, 4, 5].map((i) => Number(c.result(i)));
  assert.equal(r, [MAX_TABLES, MAX_REGIONS, MAX_SPARSE_AREAS, MAX_HOLES, 4096, 65536]);
  c.fn<F>('vfio_limits')();
  assert.equal([0, 1, 2, 3, 4, 5].map((i) => Number(c.result(i))), [MAX_REGIONS, MAX_IRQ_INDEXES, MAX_IRQS, MAX_SPARSE_AREAS, MAX_IOVA_RANGES, MAX_IOVA_ALIGNMENT]);
});

test('addReply decodes and records a reply in one core call: the same info and entry as decode then add', () => {
  const reply = regionReply({ flags: RWM, index: 2, size: 0x4000n, offset: 2n << 40n, caps: [sparseCap([[0n, 0x1000n], [0x1000n, 0n], [0x3000n, 0x1000n]]), msixCap()] });
  using viaAdd = new RegionTable();
  const decoded = decodeRegionInfo(reply, 2);
  viaAdd.add(2, decoded);
  using oneCall = new RegionTable();
  const g = oneCall.generation;
  const info = oneCall.addReply(2, reply);
  assert.equal(info, decoded, 'the RegionInfo the decoder gives');
  assert.equal(oneCall.get(2), viaAdd.get(2), 'the entry region_add records (empty area dropped)');
  assert.equal(oneCall.split(2, K4), viaAdd.split(2, K4));
  assert.ok(oneCall.generation > g, 'recording changes the generation');
});

test('addReply refuses what the strict decoder refuses and records nothing', () => {
  using rt = new RegionTable();
  const overlap = regionReply({ flags: RWM, index: 1, size: 0x4000n, offset: 0n, caps: [sparseCap([[0n, 0x2000n], [0x1000n, 0x1000n]])] });
  const e = err(() => rt.addReply(1, overlap));
  assert.is(e.kind, 'kernel-reply');
  assert.is(e.statusName, 'VFIO_AREAS_OVERLAP');
  assert.is(rt.get(1), undefined);
  const other = err(() => rt.addReply(3, regionReply({ flags: RW, index: 4, size: 0x100n, offset: 0n })));
  assert.is(other.statusName, 'VFIO_INDEX_MISMATCH', 'a reply for another index');
  const short = regionReply({ flags: RW, index: 5, size: 0x100n, offset: 0n, argsz: 4096 });
  const need = err(() => rt.addReply(5, short));
  assert.is(need.kind, 'no-space');
  assert.is(need.statusName, 'VFIO_NEED_ARGSZ');
  assert.is(rt.get(5), undefined);
});

test.run();
