// mapDma/unmapDma's bookkeeping after the hot-path work: the mappings are indexed by IOVA (one
// lookup for an exact unmap, a binary search for a range), the request structs are reused, and
// errors still carry the kernel's errno with the device, range and hint. Over the fake kernel.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { openDevice, type VfioDevice } from '../../../src/device/device';
import { VfioError } from '../../../src/errors';
import { VFIO_IOMMU_UNMAP_DMA } from '../../../shim/ioctl';
import { fakeVfio, type FakeVfio } from './fake-vfio';

const EDU = '0000:00:02.0';
const PAGE = 0x1000n, HOST = 0x7f00_0000_0000n;

function withEdu(fn: (f: FakeVfio, dev: VfioDevice) => void): () => void {
  return () => {
    const f = fakeVfio();
    try {
      const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
      try { fn(f, dev); } finally { dev.close(); }
      assert.is(f.libc.openFds.size, 0, 'every fd closed');
    } finally { f.dispose(); }
  };
}
/** The (iova, size) of every UNMAP_DMA sent since `from` (the fake logs the reused buffer, so read it at once). */
function unmapsSince(f: FakeVfio, from: number): number { return f.libc.log.slice(from).filter((e) => e.method === 'ioctl' && e.args[1] === VFIO_IOMMU_UNMAP_DMA).length; }
const map = (dev: VfioDevice, page: number, pages = 1) => dev.mapDma({ iova: BigInt(page) * PAGE, hostAddress: HOST + BigInt(page) * PAGE, size: BigInt(pages) * PAGE });

test('unmapDma of a range unmaps exactly the mappings wholly inside it, whatever the order they were made in', withEdu((f, dev) => {
  for (const p of [10, 2, 6, 4, 8, 0]) map(dev, p, 2);   // [0,2) [2,4) ... [10,12), made out of order
  const n = f.libc.log.length;
  // [3, 9): only [4,6) and [6,8) lie wholly inside; [2,4) and [8,10) straddle its ends.
  assert.is(dev.unmapDma(3n * PAGE, 6n * PAGE), 4n * PAGE);
  assert.is(unmapsSince(f, n), 2);
  assert.equal(dev.dmaMappings().map((m) => Number(m.iova / PAGE)).sort((a, b) => a - b), [0, 2, 8, 10]);
  assert.is(dev.unmapDma(0n, 12n * PAGE), 8n * PAGE);
  assert.equal(dev.dmaMappings(), []);
}));

test('unmapping piece by piece, then mapping again at the same IOVAs, keeps the index right', withEdu((f, dev) => {
  for (let p = 0; p < 200; p++) map(dev, p);
  for (let p = 0; p < 200; p++) assert.is(dev.unmapDma(BigInt(p) * PAGE, PAGE), PAGE);
  assert.equal(dev.dmaMappings(), []);
  let e: unknown;
  try { dev.unmapDma(0n, 200n * PAGE); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.kind === 'not-found', String(e));
  for (let p = 199; p >= 0; p -= 2) map(dev, p);          // descending, every other page
  const n = f.libc.log.length;
  assert.is(dev.unmapDma(0n, 200n * PAGE), 100n * PAGE);
  assert.is(unmapsSince(f, n), 100);
}));

test('the index agrees with a plain list under random map/unmap sequences', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(63), fc.integer({ min: 1, max: 4 })), { maxLength: 120 }), (ops) => {
    const f = fakeVfio();
    try {
      const dev = openDevice(EDU, { sys: f.sys, sysfs: f.sysfs, iommu: 'type1' });
      const model = new Map<number, number>(); // first page -> pages
      for (const [isMap, p, len] of ops) {
        if (isMap) {
          const overlaps = [...model].some(([q, l]) => p < q + l && q < p + len);
          if (overlaps) continue;                           // the kernel would say EEXIST
          map(dev, p, len); model.set(p, len);
        } else {
          const inside = [...model].filter(([q, l]) => q >= p && q + l <= p + len);
          let got: bigint | VfioError;
          try { got = dev.unmapDma(BigInt(p) * PAGE, BigInt(len) * PAGE); } catch (x) { got = x as VfioError; }
          if (inside.length === 0) assert.ok(got instanceof VfioError && got.kind === 'not-found');
          else assert.is(got, BigInt(inside.reduce((a, [, l]) => a + l, 0)) * PAGE);
          for (const [q] of inside) model.delete(q);
        }
        assert.equal(dev.dmaMappings().map((m) => Number(m.iova / PAGE)).sort((a, b) => a - b), [...model.keys()].sort((a, b) => a - b));
      }
      dev.close();
      assert.is(f.libc.openFds.size, 0);
    } finally { f.dispose(); }
  }), { numRuns: 60 });
});

test('a map the kernel refuses keeps errno, the range and the hint, and records nothing', withEdu((f, dev) => {
  f.libc.failOn('ioctl', 17);                                  // EEXIST
  let e: unknown;
  try { map(dev, 5); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError, String(e));
  assert.equal([e.kind, e.errnoName, e.syscall, e.device], ['syscall', 'EEXIST', 'ioctl(VFIO_IOMMU_MAP_DMA)', EDU]);
  assert.ok(e.message.includes('cannot map 0x1000 bytes for DMA at IOVA 0x5000'), e.message);
  assert.ok(e.hint!.includes('overlaps an existing DMA mapping'), e.hint);
  assert.equal(dev.dmaMappings(), []);
  map(dev, 5);
  f.libc.failOn('ioctl', 22);                                  // EINVAL
  try { dev.unmapDma(5n * PAGE, PAGE); } catch (x) { e = x; }
  assert.ok(e instanceof VfioError && e.errnoName === 'EINVAL' && e.message.includes('cannot unmap 0x1000 bytes of DMA at IOVA 0x5000'), String(e));
}));

test.run();
