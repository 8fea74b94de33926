// Property tests of the decoders (fast-check):
//   - random valid region infos (any cap order, unknown caps between) decode to what was encoded
//   - random type1 infos decode to what was encoded
//   - random byte mutations of valid replies never trap, never grow memory, and whatever is still
//     accepted satisfies the invariants the decoder promises (areas inside, sorted, disjoint)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeRegionInfo, decodeDeviceInfo, decodeIrqInfo, decodeIommuType1Info, MAX_SPARSE_AREAS, type RegionInfo } from '../../../src/vfio/index';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { regionReply, sparseCap, typeCap, msixCap, type1Reply, iovaCap, dmaAvailCap, deviceReply, irqReply, type Cap } from './replies';

const RUNS = Number(process.env.VFIO_PROPERTY_RUNS ?? 400);
const U64 = (1n << 64n) - 1n;
const memoryBefore = core().exports.memory.buffer.byteLength;

/** Sorted, disjoint [a, b) pairs inside [0, size) from random cut points. */
const areasIn = (size: bigint) => fc.uniqueArray(fc.bigInt({ min: 0n, max: size }), { maxLength: 2 * MAX_SPARSE_AREAS })
  .map((cuts) => {
    const s = [...cuts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const out: [bigint, bigint][] = [];
    for (let i = 0; i + 1 < s.length; i += 2) out.push([s[i]!, s[i + 1]! - s[i]!]);
    return out;
  });

const regionArb = fc.record({
  flags: fc.integer({ min: 0, max: 7 }),
  index: fc.integer({ min: 0, max: 31 }),
  size: fc.oneof(fc.bigInt({ min: 0n, max: 1n << 24n }), fc.bigInt({ min: 0n, max: U64 })),
  offsetFrac: fc.bigInt({ min: 0n, max: U64 }),
  type: fc.option(fc.tuple(fc.nat(), fc.nat())),
  msix: fc.boolean(),
  unknown: fc.array(fc.tuple(fc.integer({ min: 4, max: 0xffff }), fc.uint8Array({ maxLength: 24 })), { maxLength: 2 }),
  seed: fc.nat(),
}).chain((r) => fc.tuple(fc.constant(r), fc.option(areasIn(r.size))));

test('random valid region infos decode to what was encoded', () => {
  fc.assert(fc.property(regionArb, ([r, areas]) => {
    const offset = r.offsetFrac % (U64 - r.size + 1n);   // offset + size never wraps
    const caps: Cap[] = [];
    if (areas) caps.push(sparseCap(areas));
    if (r.type) caps.push(typeCap(r.type[0], r.type[1]));
    if (r.msix) caps.push(msixCap());
    for (const [id, body] of r.unknown) caps.push({ id, body });
    // a deterministic shuffle: the chain order is the kernel's business
    for (let i = caps.length - 1; i > 0; i--) { const j = (r.seed + i * 7) % (i + 1); [caps[i], caps[j]] = [caps[j]!, caps[i]!]; }
    const d = decodeRegionInfo(regionReply({ flags: r.flags, index: r.index, size: r.size, offset, caps }), r.index);
    assert.is(d.size, r.size); assert.is(d.offset, offset); assert.is(d.index, r.index);
    assert.is(d.flags & 7, r.flags);
    assert.equal(d.sparse, areas ? areas.map(([o, s]) => ({ offset: o, size: s })) : undefined);
    assert.equal(d.type, r.type ? { type: r.type[0], subtype: r.type[1] } : undefined);
    assert.is(d.msixMappable, r.msix);
    assert.is(d.caps, caps.length);
  }), { numRuns: RUNS });
});

test('random type1 infos decode to what was encoded', () => {
  const arb = fc.record({
    pg: fc.bigInt({ min: 0n, max: U64 }),
    cuts: fc.uniqueArray(fc.bigInt({ min: 0n, max: U64 }), { maxLength: 40 }),
    avail: fc.option(fc.nat()),
  });
  fc.assert(fc.property(arb, ({ pg, cuts, avail }) => {
    const s = [...cuts].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const ranges: [bigint, bigint][] = [];
    for (let i = 0; i + 1 < s.length; i += 2) ranges.push([s[i]!, s[i + 1]!]);
    const caps = [iovaCap(ranges)];
    if (avail !== null) caps.push(dmaAvailCap(avail));
    const d = decodeIommuType1Info(type1Reply(pg, caps));
    assert.is(d.iovaPgsizes, pg);
    assert.equal(d.iovaRanges, ranges.map(([start, end]) => ({ start, end })));
    assert.is(d.dmaAvail, avail ?? undefined);
  }), { numRuns: RUNS });
});

const KNOWN = new Set(['kernel-reply', 'no-space', 'bad-argument']);
function invariants(d: RegionInfo): void {
  let prevEnd = -1n;
  for (const a of d.sparse ?? []) {
    assert.ok(a.offset + a.size <= d.size, 'area inside the region');
    if (a.size === 0n) continue;
    assert.ok(a.offset >= prevEnd, 'sorted and disjoint');
    prevEnd = a.offset + a.size;
  }
  assert.ok(d.offset + d.size <= U64, 'offset + size does not wrap');
}

test('random mutations of valid replies never trap, never grow memory, and keep the invariants', () => {
  const bases = [
    regionReply({ flags: 7, index: 0, size: 0x100000n, offset: 0n, caps: [sparseCap([[0n, 0x3000n], [0x4000n, 0xfc000n]]), typeCap(1, 2), msixCap()] }),
    type1Reply(0x1000n, [iovaCap([[0n, 0xffffn], [0x20000n, 0x2ffffn]]), dmaAvailCap(7)]),
    deviceReply(3, 9, 5, [{ id: 9, body: new Uint8Array(8) }, { id: 10 }]),
    irqReply(7, 0, 1),
  ];
  const decode = [(b: Uint8Array) => invariants(decodeRegionInfo(b)), decodeIommuType1Info, decodeDeviceInfo, (b: Uint8Array) => decodeIrqInfo(b)];
  const arb = fc.record({
    which: fc.integer({ min: 0, max: bases.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    cut: fc.option(fc.nat()),
  });
  let accepted = 0, rejected = 0;
  fc.assert(fc.property(arb, ({ which, edits, cut }) => {
    let b = bases[which]!.slice();
    for (const [pos, v] of edits) b[pos % b.length] = v;
    if (cut !== null) b = b.subarray(0, cut % (b.length + 1)).slice();
    try { decode[which]!(b); accepted++; } catch (e) {
      assert.instance(e, VfioError, String(e));
      assert.ok(KNOWN.has((e as VfioError).kind), `kind ${(e as VfioError).kind}: ${(e as Error).message}`);
      rejected++;
    }
  }), { numRuns: RUNS * 5 });
  assert.ok(accepted > 0 && rejected > 0, `both outcomes happen (${accepted} accepted, ${rejected} rejected)`);
  assert.is(core().exports.memory.buffer.byteLength, memoryBefore, 'memory did not grow');
});

test.run();
