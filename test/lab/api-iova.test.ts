// Runs INSIDE the lab guest: dmaInfo() of QEMU's edu (0000:00:02.0, vfio-pci behind the SMMUv3)
// opened the type1 way and then the iommufd way. The iommufd path reads IOMMU_IOAS_IOVA_RANGES in
// its two steps through the core's decoder; its ranges must be non-empty, ascending, disjoint,
// and equal the type1 container's for the same device, the SMMU's reserved MSI window a hole in
// both; a DMA map at the start of each range succeeds and the call leaves no fd behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds } from '../support/fds';
import { allocDma, openDevice, type DmaInfo } from '../../src/index';

const EDU = '0000:00:02.0';
const hex = (v: bigint) => `0x${v.toString(16)}`;
const show = (i: DmaInfo) => (i.iovaRanges ?? []).map((r) => `${hex(r.start)}-${hex(r.end)}`).join(', ');

function checkOrdered(i: DmaInfo, what: string): void {
  const r = i.iovaRanges!;
  assert.ok(r.length > 0, `${what}: at least one range`);
  r.forEach((x, k) => {
    assert.ok(x.start <= x.end, `${what}: range ${k} start <= end`);
    if (k > 0) assert.ok(x.start > r[k - 1]!.end + 1n, `${what}: range ${k} after range ${k - 1}, with a hole between`);
  });
}

test('iommufd dmaInfo: usable IOVA ranges non-empty, ascending, equal to type1\'s for the same edu, the MSI window a hole in both', () => {
  const before = countFds();
  const t = openDevice(EDU);
  let type1: DmaInfo;
  try {
    assert.is(t.iommu, 'type1');
    type1 = t.dmaInfo();
  } finally { t.close(); }
  console.log(`  type1:   page sizes ${hex(type1.pageSizes ?? 0n)}, IOVA ranges ${show(type1)}`);
  checkOrdered(type1, 'type1');

  const d = openDevice(EDU, { iommu: 'iommufd' });
  const buf = allocDma(4096);
  try {
    assert.is(d.iommu, 'iommufd');
    const info = d.dmaInfo();
    console.log(`  iommufd: alignment ${hex(info.iovaAlignment ?? 0n)}, IOVA ranges ${show(info)}`);
    checkOrdered(info, 'iommufd');
    assert.equal(info.iovaRanges, type1.iovaRanges, 'the same ranges as the type1 container');
    assert.ok(info.iovaRanges!.length >= 2, 'a reserved hole (the SMMUv3 MSI window)');
    const hole = { start: info.iovaRanges![0]!.end + 1n, end: info.iovaRanges![1]!.start - 1n };
    console.log(`  hole:    ${hex(hole.start)}-${hex(hole.end)}`);
    assert.ok(hole.start <= 0x8000000n && hole.end >= 0x80fffffn, `the MSI window 0x8000000-0x80fffff lies in the hole ${hex(hole.start)}-${hex(hole.end)}`);
    assert.is(info.pageSizes, undefined, 'iommufd reports no page-size bitmap');
    assert.is(info.dmaAvail, undefined);
    const align = info.iovaAlignment!;
    assert.ok(align >= 1n && (align & (align - 1n)) === 0n && align <= 0x10000n, `alignment ${hex(align)} a power of two up to the page size`);
    // The ranges are usable: a page at the start of each one maps and unmaps.
    for (const r of info.iovaRanges!) {
      const iova = (r.start + align - 1n) / align * align;
      d.mapDma({ iova, buffer: buf.bytes, size: 4096n });
      assert.is(d.unmapDma(iova, 4096n), 4096n, `map and unmap at ${hex(iova)}`);
    }
    assert.equal(d.dmaInfo(), info, 'a second call answers the same');
  } finally { d.close(); buf.close(); }
  assert.is(countFds(), before, 'no fd left behind');
});

test.run();
