// A corpus of malformed kernel replies, one row each: how it is built, which decoder reads it,
// the status it must be rejected with and the byte offset of the fault. Every row starts from a
// valid reply (checked to decode first) and changes one thing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info, decodeIoasIovaRanges, MAX_SPARSE_AREAS, MAX_REGIONS, MAX_IRQS, MAX_IOVA_RANGES, MAX_IOVA_ALIGNMENT } from '../../../src/vfio/index';
import { VfioError } from '../../../src/errors';
import { regionReply, sparseCap, msixCap, typeCap, type1Reply, iovaCap, dmaAvailCap, deviceReply, irqReply, pairsBody, Bytes, ioasRangesReply } from './replies';

type Decoder = 'device' | 'region' | 'irq' | 'type1' | 'ioas';
const decoders: Record<Decoder, (b: Uint8Array) => unknown> = {
  device: decodeDeviceInfo, region: (b) => decodeRegionInfo(b), irq: (b) => decodeIrqInfo(b), type1: decodeIommuType1Info,
  ioas: decodeIoasIovaRanges,
};
const set32 = (b: Uint8Array, o: number, v: number) => { new DataView(b.buffer).setUint32(o, v >>> 0, true); return b; };
const set64 = (b: Uint8Array, o: number, v: bigint) => { new DataView(b.buffer).setBigUint64(o, v, true); return b; };

// Base replies. Region: fixed 32 bytes, sparse cap at 32 (2 areas: ends at 80), MSI-X cap at 80.
const region2 = () => regionReply({ flags: 7, index: 0, size: 0x10000n, offset: 0n, caps: [sparseCap([[0n, 0x3000n], [0x4000n, 0xc000n]]), msixCap()] });
const regionWith = (...caps: Parameters<typeof sparseCap>[0][]) => regionReply({ flags: 7, index: 0, size: 0x10000n, offset: 0n, caps: caps.map(sparseCap) });
const typeOnly = () => regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n, caps: [typeCap(1, 1)] });
const type1 = () => type1Reply(0x1000n, [iovaCap([[0n, 0xffffn], [0x20000n, 0x2ffffn]]), dmaAvailCap(10)]);
// iommufd: struct iommu_ioas_iova_ranges (32 bytes) then the array: ranges[0] at 32, ranges[1] at 48.
const ioas = () => ioasRangesReply([[0n, 0x7ffffffn], [0x8100000n, 0xffffffffffffn]]);

interface Row { name: string; decoder: Decoder; bytes: () => Uint8Array; status: string; offset?: number; kind?: string }
const rows: Row[] = [
  { name: 'chain loops back to the first cap', decoder: 'region', bytes: () => set32(region2(), 84, 32), status: 'VFIO_CHAIN_LOOP', offset: 84 },
  { name: 'cap points at itself', decoder: 'region', bytes: () => set32(region2(), 84, 80), status: 'VFIO_CHAIN_LOOP', offset: 84 },
  { name: 'next lands inside the current header', decoder: 'region', bytes: () => set32(region2(), 36, 36), status: 'VFIO_CHAIN_LOOP', offset: 36 },
  { name: 'cap_offset points into the fixed struct', decoder: 'region', bytes: () => set32(region2(), 12, 8), status: 'VFIO_CHAIN_LOOP', offset: 8 },
  { name: 'device chain loops', decoder: 'device', bytes: () => set32(deviceReply(2, 9, 5, [{ id: 9, body: new Uint8Array(8) }, { id: 9 }]), 40, 20), status: 'VFIO_CHAIN_LOOP', offset: 40 },
  { name: 'next beyond argsz', decoder: 'region', bytes: () => set32(region2(), 36, 200), status: 'VFIO_CHAIN_OUT_OF_BUFFER', offset: 36 },
  { name: 'cap_offset beyond argsz', decoder: 'region', bytes: () => set32(region2(), 12, 4096), status: 'VFIO_CHAIN_OUT_OF_BUFFER', offset: 4096 },
  { name: 'last header straddles the end of the reply', decoder: 'region', bytes: () => set32(region2(), 36, 84), status: 'VFIO_CHAIN_OUT_OF_BUFFER', offset: 36 },
  { name: 'unknown cap id with next out of the reply is still bounds-checked', decoder: 'region', bytes: () => set32(set32(region2(), 32, 0x1234), 36, 0x10000), status: 'VFIO_CHAIN_OUT_OF_BUFFER', offset: 36 },
  { name: 'sparse cap with room for 1 area claims 2', decoder: 'region', bytes: () => set32(regionWith([[0n, 0x1000n]]), 40, 2), status: 'VFIO_CAP_TRUNCATED', offset: 32 },
  { name: 'sparse cap shorter than its fixed part', decoder: 'region', bytes: () => regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n, caps: [{ id: 1, body: new Uint8Array(4) }] }), status: 'VFIO_CAP_TRUNCATED', offset: 32 },
  { name: 'type cap with no body', decoder: 'region', bytes: () => regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n, caps: [{ id: 2 }] }), status: 'VFIO_CAP_TRUNCATED', offset: 32 },
  { name: 'type cap cut short by argsz', decoder: 'region', bytes: () => { const b = typeOnly(); return set32(b, 0, b.length - 4); }, status: 'VFIO_CAP_TRUNCATED', offset: 32 },
  { name: 'DMA_AVAIL cap with no body', decoder: 'type1', bytes: () => type1Reply(0x1000n, [{ id: 3 }]), status: 'VFIO_CAP_TRUNCATED', offset: 24 },
  { name: 'two sparse caps', decoder: 'region', bytes: () => regionWith([[0n, 0x1000n]], [[0x2000n, 0x1000n]]), status: 'VFIO_CAP_DUPLICATE', offset: 64 },
  { name: 'area ends beyond the region', decoder: 'region', bytes: () => regionWith([[0n, 0x1000n], [0xf000n, 0x2000n]]), status: 'VFIO_AREA_OUT_OF_REGION', offset: 64 },
  { name: 'areas overlap', decoder: 'region', bytes: () => regionWith([[0n, 0x2000n], [0x1000n, 0x1000n]]), status: 'VFIO_AREAS_OVERLAP', offset: 64 },
  { name: 'areas unsorted', decoder: 'region', bytes: () => regionWith([[0x4000n, 0x1000n], [0n, 0x1000n]]), status: 'VFIO_AREAS_UNSORTED', offset: 64 },
  { name: 'area offset + size wraps past 2^64', decoder: 'region', bytes: () => regionWith([[0x1000n, (1n << 64n) - 0x800n]]), status: 'OVERFLOW', offset: 56 },
  { name: 'region offset + size wraps past 2^64', decoder: 'region', bytes: () => set64(regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n }), 24, (1n << 64n) - 0x800n), status: 'OVERFLOW', offset: 16 },
  { name: `more than MAX_SPARSE_AREAS (${MAX_SPARSE_AREAS}) areas`, decoder: 'region', bytes: () => regionWith(Array.from({ length: MAX_SPARSE_AREAS + 1 }, (_, i) => [BigInt(i) * 0x100n, 0x100n] as [bigint, bigint])), status: 'VFIO_TOO_MANY', offset: 40 },
  { name: `num_regions beyond MAX_REGIONS (${MAX_REGIONS})`, decoder: 'device', bytes: () => deviceReply(2, MAX_REGIONS + 1, 5), status: 'VFIO_TOO_MANY', offset: 8 },
  { name: 'num_irqs beyond MAX_IRQ_INDEXES', decoder: 'device', bytes: () => deviceReply(2, 9, 0xffff_ffff), status: 'VFIO_TOO_MANY', offset: 12 },
  { name: `IRQ count beyond MAX_IRQS (${MAX_IRQS})`, decoder: 'irq', bytes: () => irqReply(9, 2, MAX_IRQS + 1), status: 'VFIO_TOO_MANY', offset: 12 },
  { name: `nr_iovas beyond MAX_IOVA_RANGES (${MAX_IOVA_RANGES})`, decoder: 'type1', bytes: () => type1Reply(0x1000n, [{ id: 1, body: pairsBody([], MAX_IOVA_RANGES + 1) }]), status: 'VFIO_TOO_MANY', offset: 32 },
  { name: 'region argsz smaller than the fixed struct', decoder: 'region', bytes: () => set32(regionReply({ flags: 7, index: 0, size: 0x1000n, offset: 0n }), 0, 16), status: 'VFIO_ARGSZ_SMALL', offset: 0 },
  { name: 'irq argsz 0', decoder: 'irq', bytes: () => set32(irqReply(7, 0, 1), 0, 0), status: 'VFIO_ARGSZ_SMALL', offset: 0 },
  { name: 'type1 argsz smaller than argsz+flags+iova_pgsizes', decoder: 'type1', bytes: () => set32(type1(), 0, 12), status: 'VFIO_ARGSZ_SMALL', offset: 0 },
  { name: 'IOVA range with start > end', decoder: 'type1', bytes: () => type1Reply(0x1000n, [iovaCap([[0x2000n, 0x1000n]])]), status: 'VFIO_RANGE_INVERTED', offset: 40 },
  { name: 'IOVA ranges overlap', decoder: 'type1', bytes: () => type1Reply(0x1000n, [iovaCap([[0n, 0x2000n], [0x2000n, 0x3000n]])]), status: 'VFIO_AREAS_OVERLAP', offset: 56 },
  { name: 'IOVA ranges unsorted', decoder: 'type1', bytes: () => type1Reply(0x1000n, [iovaCap([[0x5000n, 0x6000n], [0n, 0x1000n]])]), status: 'VFIO_AREAS_UNSORTED', offset: 56 },
  { name: 'iommufd IOVA range with start > last', decoder: 'ioas', bytes: () => ioasRangesReply([[0n, 0xfffn], [0x3000n, 0x2000n]]), status: 'VFIO_RANGE_INVERTED', offset: 48 },
  { name: 'iommufd IOVA ranges overlap', decoder: 'ioas', bytes: () => ioasRangesReply([[0n, 0x2000n], [0x2000n, 0x3000n]]), status: 'VFIO_AREAS_OVERLAP', offset: 48 },
  { name: 'iommufd IOVA ranges unsorted', decoder: 'ioas', bytes: () => ioasRangesReply([[0x8100000n, 0xffffffffffffn], [0n, 0x7ffffffn]]), status: 'VFIO_AREAS_UNSORTED', offset: 48 },
  { name: `iommufd num_iovas beyond MAX_IOVA_RANGES (${MAX_IOVA_RANGES})`, decoder: 'ioas', bytes: () => set32(ioas(), 8, MAX_IOVA_RANGES + 1), status: 'VFIO_TOO_MANY', offset: 8 },
  { name: 'iommufd num_iovas 2^32-1', decoder: 'ioas', bytes: () => set32(ioas(), 8, 0xffff_ffff), status: 'VFIO_TOO_MANY', offset: 8 },
  { name: 'iommufd out_iova_alignment 0', decoder: 'ioas', bytes: () => set64(ioas(), 24, 0n), status: 'VFIO_BAD_ALIGNMENT', offset: 24 },
  { name: 'iommufd out_iova_alignment not a power of two', decoder: 'ioas', bytes: () => set64(ioas(), 24, 0x3000n), status: 'VFIO_BAD_ALIGNMENT', offset: 24 },
  { name: 'iommufd out_iova_alignment above MAX_IOVA_ALIGNMENT', decoder: 'ioas', bytes: () => set64(ioas(), 24, BigInt(MAX_IOVA_ALIGNMENT) * 2n), status: 'VFIO_BAD_ALIGNMENT', offset: 24 },
  { name: 'iommufd num_iovas beyond the array passed (the first step)', decoder: 'ioas', bytes: () => set32(ioas(), 8, 3), status: 'NO_SPACE', kind: 'no-space' },
  { name: 'iommufd reply shorter than the fixed struct (a caller error)', decoder: 'ioas', bytes: () => ioas().subarray(0, 24), status: 'VFIO_SHORT_BUFFER', kind: 'bad-argument' },
  { name: 'buffer shorter than the fixed struct (a caller error)', decoder: 'region', bytes: () => new Bytes(16).u32(0, 16).b, status: 'VFIO_SHORT_BUFFER', kind: 'bad-argument' },
];

test('every base reply decodes', () => {
  assert.is((decodeRegionInfo(region2()) as { caps: number }).caps, 2);
  assert.ok(decodeRegionInfo(typeOnly()).type);
  assert.is(decodeIommuType1Info(type1()).iovaRanges?.length, 2);
  assert.is(decodeIoasIovaRanges(ioas()).ranges.length, 2);
});

for (const row of rows) {
  test(`rejected: ${row.name} -> ${row.status}`, () => {
    const bytes = row.bytes();
    let e: unknown;
    try { decoders[row.decoder](bytes); } catch (x) { e = x; }
    assert.instance(e, VfioError, 'throws a VfioError');
    const v = e as VfioError;
    assert.is(v.statusName, row.status);
    assert.is(v.kind, row.kind ?? 'kernel-reply');
    if (row.offset !== undefined) assert.is(v.offset, row.offset, 'offset of the fault');
  });
}

test('the malformed-reply classes the issue names each have their own status', () => {
  const classes = ['VFIO_CHAIN_LOOP', 'VFIO_CHAIN_OUT_OF_BUFFER', 'VFIO_CAP_TRUNCATED', 'VFIO_AREA_OUT_OF_REGION', 'VFIO_AREAS_OVERLAP', 'OVERFLOW', 'VFIO_TOO_MANY', 'VFIO_ARGSZ_SMALL'];
  for (const c of classes) assert.ok(rows.some((r) => r.status === c), `a row for ${c}`);
  assert.is(new Set(classes).size, classes.length);
});

test.run();
