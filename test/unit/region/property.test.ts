// Property tests of the region table (fast-check), against reference models written from the
// rules in assembly/region/table.ts:
//   - the split covers the region exactly, in order, neighbours differ in kind; MAP ranges are
//     page aligned, inside mmap-able areas, outside every hole; and it maps exactly the pages a
//     page-by-page model says can be mapped (so nothing mappable is trapped either)
//   - the access check accepts exactly the in-range, aligned, permitted accesses; the counters
//     equal the model's counts; memory does not grow
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RegionTable } from '../../../src/core/region';
import { core } from '../../../src/core/loader';

const RUNS = Number(process.env.REGION_PROPERTY_RUNS ?? 400);
const memoryBefore = core().exports.memory.buffer.byteLength;
const PAGES = [0x1000n, 0x4000n, 0x10000n];

const sortedPairs = (size: bigint, max: number) => fc.uniqueArray(fc.bigInt({ min: 0n, max: size }), { maxLength: 2 * max })
  .map((cuts) => {
    const s = [...cuts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const out: { offset: bigint; size: bigint }[] = [];
    for (let i = 0; i + 1 < s.length; i += 2) out.push({ offset: s[i]!, size: s[i + 1]! - s[i]! });
    return out;
  });

const splitCase = fc.record({
  flags: fc.constantFrom(3, 7, 5, 4),
  page: fc.constantFrom(...PAGES),
  // sizes around page multiples, up to 40 small pages
  size: fc.oneof(fc.bigInt({ min: 0n, max: 0x28000n }), fc.integer({ min: 0, max: 12 }).map((n) => BigInt(n) * 0x10000n)),
  fileOffset: fc.oneof(fc.constant(0n), fc.constant(5n << 40n), fc.bigInt({ min: 0n, max: 1n << 48n })),
  sparse: fc.boolean(),
}).chain((r) => fc.tuple(fc.constant(r), sortedPairs(r.size, 32),
  fc.array(fc.tuple(fc.bigInt({ min: 0n, max: r.size }), fc.bigInt({ min: 0n, max: 0x3000n })), { maxLength: 8 })
    .map((hs) => hs.map(([o, z]) => ({ offset: o, size: o + z > r.size ? r.size - o : z })))));

test('the split covers the region exactly and maps exactly the mappable pages', () => {
  using rt = new RegionTable();
  fc.assert(fc.property(splitCase, ([r, areas, holes]) => {
    rt.add(1, { flags: r.flags, size: r.size, offset: r.fileOffset, sparse: r.sparse ? areas : undefined });
    const split = rt.split(1, r.page, holes);
    // coverage, order, alternation
    let pos = 0n;
    split.forEach((s, i) => {
      assert.is(s.offset, pos, 'contiguous, in order');
      assert.ok(s.size > 0n, 'no empty range');
      if (i > 0) assert.is.not(s.kind, split[i - 1]!.kind, 'neighbours differ');
      pos += s.size;
    });
    assert.is(pos, r.size, 'covers the region exactly');
    // the model: page p is mapped iff the region can be mmapped, the page is inside the region
    // and inside one area (or the whole region without sparse), and touches no hole
    const mmapable = (r.flags & 4) !== 0 && r.fileOffset % r.page === 0n;
    const inArea = (a: bigint, b: bigint) => (r.sparse ? areas.some((x) => x.offset <= a && b <= x.offset + x.size) : b <= r.size);
    const inHole = (a: bigint, b: bigint) => holes.some((h) => h.size > 0n && h.offset < b && a < h.offset + h.size);
    const want: bigint[] = [];
    for (let a = 0n; a + r.page <= r.size; a += r.page) if (mmapable && inArea(a, a + r.page) && !inHole(a, a + r.page)) want.push(a);
    const got: bigint[] = [];
    for (const s of split) {
      if (s.kind !== 'map') continue;
      assert.is(s.offset % r.page, 0n, 'MAP start page aligned');
      assert.is(s.size % r.page, 0n, 'MAP size page aligned');
      for (let a = s.offset; a < s.offset + s.size; a += r.page) got.push(a);
    }
    assert.equal(got, want);
  }), { numRuns: RUNS });
});

const accessCase = fc.record({
  flags: fc.integer({ min: 0, max: 7 }),
  size: fc.oneof(fc.bigInt({ min: 0n, max: 0x40n }), fc.bigInt({ min: 0n, max: 1n << 40n })),
  fileOffset: fc.bigInt({ min: 0n, max: 1n << 60n }),
  ops: fc.array(fc.record({ off: fc.oneof(fc.bigInt({ min: 0n, max: 0x48n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), width: fc.constantFrom(1, 2, 4, 8), write: fc.boolean() }), { maxLength: 30 }),
});

test('the access check accepts exactly the in-range, aligned, permitted accesses; counters agree', () => {
  using rt = new RegionTable();
  fc.assert(fc.property(accessCase, (c) => {
    rt.add(0, { flags: c.flags, size: c.size, offset: c.fileOffset });
    const n = { readsRefused: 0n, writesDropped: 0n, outOfRange: 0n, misaligned: 0n, denied: 0n };
    for (const op of c.ops) {
      const w = BigInt(op.width);
      const reason = op.off + w > c.size ? 'out-of-range' : op.off % w !== 0n ? 'misaligned' : (c.flags & (op.write ? 2 : 1)) === 0 ? 'denied' : undefined;
      const res = rt.check(0, op.off, op.width, op.write ? 'write' : 'read');
      if (reason === undefined) {
        assert.equal(res, { ok: true, fileOffset: c.fileOffset + op.off });
        continue;
      }
      assert.equal(res, { ok: false, reason, readValue: (1n << (8n * w)) - 1n });
      if (op.write) n.writesDropped++; else n.readsRefused++;
      if (reason === 'out-of-range') n.outOfRange++; else if (reason === 'misaligned') n.misaligned++; else n.denied++;
    }
    assert.equal(rt.counters(0), n);
  }), { numRuns: RUNS });
  assert.is(core().exports.memory.buffer.byteLength, memoryBefore, 'memory did not grow');
});

test.run();
