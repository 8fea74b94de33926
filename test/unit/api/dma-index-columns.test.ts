// DmaIndex (src/device/dma-index.ts), the typed-array columns behind mapDma/unmapDma, against a
// plain sorted list: any sequence of adds and drops, past the column growth (64 rows, doubling)
// and the compaction of dead rows, keeps the live rows, their values and their IOVA order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DmaIndex } from '../../../src/device/dma-index';
import type { DmaBuffer } from '../../../src/device/dma';

const PAGE = 0x1000n;
type Row = { iova: bigint; size: bigint; hostAddress: bigint; read: boolean; write: boolean; buffer: DmaBuffer | undefined };
const bufA = { name: 'A' } as unknown as DmaBuffer;

function live(d: DmaIndex): Row[] { return d.entries(); }

test('adds and drops in any order agree with a sorted list, through growth and compaction', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(300), fc.boolean()), { maxLength: 600 }), (ops) => {
    const d = new DmaIndex();
    const model = new Map<bigint, Row>();
    for (const [isAdd, page, withBuf] of ops) {
      const iova = BigInt(page) * PAGE;
      if (isAdd) {
        if (model.has(iova)) continue;                       // one page each: an equal IOVA overlaps
        const row: Row = { iova, size: PAGE, hostAddress: 0x7f00_0000_0000n + iova, read: page % 2 === 0, write: page % 3 !== 0, buffer: withBuf ? bufA : undefined };
        assert.is(d.add(row.iova, row.size, row.hostAddress, row.read, row.write, row.buffer), undefined);
        model.set(iova, row);
      } else {
        const i = d.indexOf(iova);
        if (!model.has(iova)) { assert.ok(i < 0 || !d.isLive(i)); continue; }
        assert.ok(i >= 0 && d.isLive(i) && d.iovaAt(i) === iova && d.sizeAt(i) === PAGE);
        assert.is(d.drop(i), model.get(iova)!.buffer);
        model.delete(iova);
        d.compact();
        assert.ok(d.rows <= Math.max(64, 2 * d.live), `rows ${d.rows} live ${d.live}`);
      }
      assert.is(d.live, model.size);
    }
    assert.equal(live(d), [...model.values()].sort((a, b) => (a.iova < b.iova ? -1 : 1)));
  }), { numRuns: 200 });
});

test('mapping in ascending order appends; unmapping in that order finds each row without a search, and compaction keeps the rows bounded', () => {
  const d = new DmaIndex();
  const n = 1000;
  for (let k = 0; k < n; k++) d.add(BigInt(k) * PAGE, PAGE, BigInt(k) * PAGE, true, true, undefined);
  assert.is(d.rows, n);
  for (let k = 0; k < n; k++) {
    const i = d.indexOf(BigInt(k) * PAGE);
    assert.ok(i >= 0 && d.isLive(i));
    d.drop(i); d.compact();
    assert.ok(d.rows <= Math.max(64, 2 * d.live), `rows ${d.rows} live ${d.live}`);
  }
  assert.is(d.live, 0);
  assert.equal(live(d), []);
});

test('a live row at the same IOVA (a kernel that allowed the overlap) is replaced and its buffer handed back', () => {
  const d = new DmaIndex();
  d.add(0x2000n, PAGE, 0x10000n, true, true, bufA);
  d.add(0x1000n, PAGE, 0x20000n, true, true, undefined);       // inserted below
  assert.is(d.add(0x2000n, 2n * PAGE, 0x30000n, false, true, undefined), bufA);
  assert.equal(live(d).map((r) => [r.iova, r.size, r.hostAddress, r.read]), [[0x1000n, PAGE, 0x20000n, true], [0x2000n, 2n * PAGE, 0x30000n, false]]);
  assert.is(d.live, 2);
});

test('values up to 2^64 - 1 come back as given', () => {
  const d = new DmaIndex();
  const top = 0xffff_ffff_ffff_f000n;
  d.add(top, PAGE, 0xffff_ffff_ffff_e000n, true, false, undefined);
  assert.equal(live(d), [{ iova: top, size: PAGE, hostAddress: 0xffff_ffff_ffff_e000n, read: true, write: false, buffer: undefined }]);
  assert.is(d.indexOf(top), 0);
});

test.run();
