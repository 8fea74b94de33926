// Decoders against byte-exact replies like the real kernel's: the lab's pl031 (vfio-amba) and
// edu (vfio-pci), written out by offset, then builders for chains; the argsz retry protocol; and
// a region table that keeps indexes when one region's reply is malformed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info, queryRegionInfo, queryIommuType1Info,
  queryDeviceInfo, MAX_ARGSZ_RETRIES, VFIO_DEVICE_FLAGS_AMBA, VFIO_REGION_INFO_FLAG_MMAP, LAYOUT,
} from '../../../src/vfio/index';
import { RegionTable } from '../../../src/core/region';
import { VfioError } from '../../../src/errors';
import { hex, regionReply, sparseCap, msixCap, typeCap, type1Reply, iovaCap, dmaAvailCap, deviceReply, Bytes } from './replies';

const err = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

test('pl031 device info: flags 0x8 (AMBA), 1 region, 1 IRQ, no chain', () => {
  const reply = hex(`
    14 00 00 00   // @0  argsz = 20 (as passed: no caps)
    08 00 00 00   // @4  flags = VFIO_DEVICE_FLAGS_AMBA
    01 00 00 00   // @8  num_regions = 1
    01 00 00 00   // @12 num_irqs = 1
    00 00 00 00   // @16 cap_offset = 0`);
  const d = decodeDeviceInfo(reply);
  assert.equal(d, { argsz: 20, flags: VFIO_DEVICE_FLAGS_AMBA, reset: false, api: 'amba', numRegions: 1, numIrqs: 1, capOffset: 0, caps: 0 });
});

test('pl031 region 0: READ|WRITE|MMAP, 4 KiB at file offset 0', () => {
  const reply = hex(`
    20 00 00 00   // @0  argsz = 32
    07 00 00 00   // @4  flags = READ|WRITE|MMAP
    00 00 00 00   // @8  index = 0
    00 00 00 00   // @12 cap_offset = 0
    00 10 00 00 00 00 00 00   // @16 size = 0x1000
    00 00 00 00 00 00 00 00   // @24 offset = 0`);
  const r = decodeRegionInfo(reply, 0);
  assert.equal(r, { argsz: 32, index: 0, flags: 7, read: true, write: true, mmap: true, size: 0x1000n, offset: 0n, capOffset: 0, msixMappable: false, caps: 0 });
  assert.is(r.sparse, undefined, 'no sparse cap: the whole region is mappable');
});

test('pl031 IRQ 0: EVENTFD|MASKABLE|AUTOMASKED (a level line), count 1', () => {
  const reply = hex(`
    10 00 00 00   // @0  argsz = 16
    07 00 00 00   // @4  flags
    00 00 00 00   // @8  index = 0
    01 00 00 00   // @12 count = 1`);
  assert.equal(decodeIrqInfo(reply, 0), { argsz: 16, index: 0, flags: 7, count: 1, eventfd: true, maskable: true, automasked: true, noresize: false });
});

test('edu BAR0 with a sparse-mmap cap around an MSI-X table and an MSI-X-mappable cap', () => {
  const reply = hex(`
    58 00 00 00   // @0  argsz = 88
    0f 00 00 00   // @4  flags = READ|WRITE|MMAP|CAPS
    00 00 00 00   // @8  index = 0 (BAR0)
    20 00 00 00   // @12 cap_offset = 32
    00 00 10 00 00 00 00 00   // @16 size = 0x100000
    00 00 00 00 00 00 00 00   // @24 offset = 0 (index 0 << 40)
    01 00 01 00   // @32 cap id 1 SPARSE_MMAP, version 1
    50 00 00 00   // @36 next = 80
    02 00 00 00   // @40 nr_areas = 2
    00 00 00 00   // @44 reserved
    00 00 00 00 00 00 00 00   // @48 area[0].offset = 0
    00 30 00 00 00 00 00 00   // @56 area[0].size = 0x3000
    00 40 00 00 00 00 00 00   // @64 area[1].offset = 0x4000
    00 c0 0f 00 00 00 00 00   // @72 area[1].size = 0xfc000
    03 00 01 00   // @80 cap id 3 MSIX_MAPPABLE, version 1
    00 00 00 00   // @84 next = 0 (end)`);
  const r = decodeRegionInfo(reply, 0);
  assert.is(r.size, 0x100000n);
  assert.is(r.flags & VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_MMAP);
  assert.equal(r.sparse, [{ offset: 0n, size: 0x3000n }, { offset: 0x4000n, size: 0xfc000n }]);
  assert.ok(r.msixMappable);
  assert.is(r.caps, 2);
  assert.is(r.capOffset, 32);
  assert.is(r.type, undefined);
});

test('edu device info: PCI|RESET, 9 regions, 5 IRQ indexes', () => {
  const d = decodeDeviceInfo(deviceReply(0x3, 9, 5));
  assert.is(d.api, 'pci'); assert.ok(d.reset); assert.is(d.numRegions, 9); assert.is(d.numIrqs, 5);
});

test('a type cap gives type and subtype; an unknown cap id is skipped but counted', () => {
  const r = decodeRegionInfo(regionReply({ flags: 3, index: 9, size: 0x2000n, offset: 9n << 40n, caps: [{ id: 0x77, body: new Uint8Array(24) }, typeCap(0x80008086, 1)] }), 9);
  assert.equal(r.type, { type: 0x80008086, subtype: 1 });
  assert.is(r.caps, 2);
  assert.is(r.offset, 9n << 40n);
});

test('type1 info: page sizes, IOVA ranges (inclusive ends) and DMA_AVAIL', () => {
  const info = decodeIommuType1Info(type1Reply(0x40201000n, [iovaCap([[0n, 0x7fe_ffffn], [0x800_0000n, 0xfff_ffffn]]), dmaAvailCap(65535)]));
  assert.is(info.iovaPgsizes, 0x40201000n);
  assert.equal(info.iovaRanges, [{ start: 0n, end: 0x7fe_ffffn }, { start: 0x800_0000n, end: 0xfff_ffffn }]);
  assert.is(info.dmaAvail, 65535);
  assert.is(info.caps, 2);
  assert.is(info.capOffset, LAYOUT.vfio_iommu_type1_info.size);
});

test('type1 info written out by offset: the edu container (28-bit DMA mask, an MSI window reserved)', () => {
  const reply = hex(`
    50 00 00 00   // @0  argsz = 80
    03 00 00 00   // @4  flags = PGSIZES | CAPS
    00 10 20 40 00 00 00 00   // @8  iova_pgsizes = 4K | 2M | 1G
    18 00 00 00   // @16 cap_offset = 24
    00 00 00 00   // @20 padding (sizeof = 24)
    01 00 01 00   // @24 cap id 1 IOVA_RANGE, version 1
    48 00 00 00   // @28 next = 72
    02 00 00 00   // @32 nr_iovas = 2
    00 00 00 00   // @36 reserved
    00 00 00 00 00 00 00 00   // @40 range[0].start = 0
    ff ff ff 07 00 00 00 00   // @48 range[0].end = 0x7ffffff (inclusive)
    00 00 10 08 00 00 00 00   // @56 range[1].start = 0x8100000 (after the MSI window)
    ff ff ff 0f 00 00 00 00   // @64 range[1].end = 0xfffffff
    03 00 01 00   // @72 cap id 3 DMA_AVAIL, version 1
    00 00 00 00   // @76 next = 0 ... and the cap body would need 4 more bytes`);
  const e = err(() => decodeIommuType1Info(reply));
  assert.is(e.statusName, 'VFIO_CAP_TRUNCATED', 'DMA_AVAIL needs 12 bytes, 8 are left');
  assert.is(e.offset, 72);
  const whole = new Uint8Array(84);
  whole.set(reply);
  new DataView(whole.buffer).setUint32(0, 84, true);
  new DataView(whole.buffer).setUint32(80, 65535, true);   // @80 avail
  const info = decodeIommuType1Info(whole);
  assert.equal(info, { argsz: 84, flags: 3, iovaPgsizes: 0x40201000n, capOffset: 24, caps: 2, dmaAvail: 65535,
    iovaRanges: [{ start: 0n, end: 0x7ff_ffffn }, { start: 0x810_0000n, end: 0xfff_ffffn }] });
});

test('a reply whose argsz exceeds the buffer asks for a larger buffer (no-space, VFIO_NEED_ARGSZ)', () => {
  const small = new Bytes(32).u32(0, 88).u32(4, 0xf).u32(12, 0).u64(16, 0x100000n).b;
  const e = err(() => decodeRegionInfo(small));
  assert.is(e.kind, 'no-space');
  assert.is(e.statusName, 'VFIO_NEED_ARGSZ');
  assert.match(e.message, /argsz 88/);
});

/** A fake kernel: answers `full`, or, when the buffer is too small, the fixed part with argsz
 *  raised to the size needed (what vfio_pci_ioctl_get_region_info does). */
function fakeKernel(full: Uint8Array, fixed: number, calls: number[]) {
  return (buf: Uint8Array) => {
    calls.push(buf.length);
    if (buf.length >= full.length) { buf.set(full); return; }
    buf.set(full.subarray(0, fixed));
    new DataView(buf.buffer).setUint32(0, full.length, true);
    new DataView(buf.buffer).setUint32(12, 0, true);   // cap_offset 0: the chain is left out
  };
}

test('queryRegionInfo retries with the argsz the kernel asked for, and writes the index', () => {
  const full = regionReply({ flags: 7, index: 0, size: 0x100000n, offset: 0n, caps: [sparseCap([[0n, 0x3000n]]), msixCap()] });
  const calls: number[] = [];
  const seen: number[] = [];
  const q = fakeKernel(full, 32, calls);
  const r = queryRegionInfo(0, (b) => { seen.push(new DataView(b.buffer).getUint32(8, true)); q(b); }, { initialSize: 32 });
  assert.equal(calls, [32, full.length]);
  assert.equal(seen, [0, 0]);
  assert.equal(r.sparse, [{ offset: 0n, size: 0x3000n }]);
});

test('queryRegionInfo with a caller buffer: zeroed and used for the first query (its length is argsz), a larger reply gets its own', () => {
  const full = regionReply({ flags: 7, index: 3, size: 0x100000n, offset: 0n, caps: [sparseCap([[0n, 0x3000n]]), msixCap()] });
  const calls: number[] = [];
  const used: Uint8Array[] = [];
  const q = fakeKernel(full, 32, calls);
  const mine = new Uint8Array(32).fill(0xee);
  const r = queryRegionInfo(3, (b) => {
    used.push(b);
    if (used.length === 1) assert.equal([...b.subarray(4)], [...new Uint8Array(28)].map((_, i) => (i === 4 ? 3 : 0)), 'zeroed, index written');
    q(b);
  }, { buffer: mine });
  assert.equal(calls, [32, full.length]);
  assert.ok(used[0] === mine && used[1] !== mine, 'the caller buffer first, then a new one');
  assert.equal(r.sparse, [{ offset: 0n, size: 0x3000n }]);
  // A reply that fits the caller buffer is decoded from it alone.
  const small = regionReply({ flags: 7, index: 1, size: 0x1000n, offset: 1n << 40n });
  const r1 = queryRegionInfo(1, (b) => { assert.ok(b === mine); b.set(small); }, { buffer: mine });
  assert.equal([r1.size, r1.offset], [0x1000n, 1n << 40n]);
});

test('a kernel that keeps asking for more gives up after MAX_ARGSZ_RETRIES + 1 queries', () => {
  let n = 64;
  const calls: number[] = [];
  const e = err(() => queryIommuType1Info((b) => { calls.push(b.length); new DataView(b.buffer).setUint32(0, (n += 8), true); }, { initialSize: 64 }));
  assert.is(e.kind, 'kernel-reply');
  assert.is(calls.length, MAX_ARGSZ_RETRIES + 1);
});

test('an implausible argsz is refused instead of allocated', () => {
  const e = err(() => queryDeviceInfo((b) => { new DataView(b.buffer).setUint32(0, 0xffff_fff0, true); }));
  assert.is(e.kind, 'kernel-reply');
  assert.match(e.message, /MAX_REPLY_BYTES/);
});

test('a malformed region keeps its index in the table; later regions are not shifted', () => {
  const replies = [
    regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n }),
    regionReply({ flags: 7, index: 1, size: 0x1000n, offset: 1n << 40n, caps: [sparseCap([[0n, 0x2000n]])] }),   // area out of region
    regionReply({ flags: 3, index: 2, size: 0x100n, offset: 2n << 40n }),
  ];
  using t = RegionTable.fromQueries(3, (i) => decodeRegionInfo(replies[i]!, i));
  assert.is(t.get(0)?.state, 'ok');
  const bad = t.get(1);
  assert.is(bad?.state, 'failed');
  assert.is(bad?.state === 'failed' && bad.statusName, 'VFIO_AREA_OUT_OF_REGION');
  const third = t.get(2);
  assert.is(third?.state === 'ok' && third.offset, 2n << 40n, 'region 2 is still region 2');
  assert.is(err(() => t.split(1)).kind, 'not-found');
});

test('a reply for another index than asked is refused', () => {
  const e = err(() => decodeRegionInfo(regionReply({ flags: 7, index: 3, size: 0x1000n, offset: 0n }), 2));
  assert.is(e.statusName, 'VFIO_INDEX_MISMATCH');
  assert.is(e.offset, LAYOUT.vfio_region_info.index);
});

test.run();
