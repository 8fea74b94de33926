// Builders of kernel replies for the vfio tests: byte layouts from LAYOUT (pinned to the uapi
// header by layout.test.ts), capabilities appended one after the other as the kernel's
// vfio_info_cap_add does, and a hex reader for replies written out by hand with offset comments.
import { LAYOUT } from '../../../src/vfio/uapi';

/** Bytes from text like "14 00 00 00  // @0 argsz": comments and whitespace are ignored. */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\/\/.*$/gm, '').replace(/\s+/g, '');
  if (digits.length % 2) throw new Error('odd number of hex digits');
  return Uint8Array.from(digits.match(/../g) ?? [], (b) => parseInt(b, 16));
}

export interface Cap { id: number; version?: number; body?: Uint8Array }

export class Bytes {
  readonly b: Uint8Array;
  readonly dv: DataView;
  constructor(n: number) { this.b = new Uint8Array(n); this.dv = new DataView(this.b.buffer); }
  u16(o: number, v: number) { this.dv.setUint16(o, v, true); return this; }
  u32(o: number, v: number) { this.dv.setUint32(o, v >>> 0, true); return this; }
  u64(o: number, v: bigint) { this.dv.setBigUint64(o, BigInt.asUintN(64, v), true); return this; }
}

/** A cap body (after the 8-byte header) holding n u64 pairs after a u32 count and a reserved u32. */
export function pairsBody(pairs: [bigint, bigint][], count = pairs.length): Uint8Array {
  const x = new Bytes(8 + 16 * pairs.length).u32(0, count);
  pairs.forEach(([a, b], i) => x.u64(8 + 16 * i, a).u64(16 + 16 * i, b));
  return x.b;
}
export const sparseCap = (areas: [bigint, bigint][]): Cap => ({ id: 1, version: 1, body: pairsBody(areas) });
export const typeCap = (type: number, subtype: number): Cap => ({ id: 2, version: 1, body: new Bytes(8).u32(0, type).u32(4, subtype).b });
export const msixCap = (): Cap => ({ id: 3, version: 1 });
export const iovaCap = (ranges: [bigint, bigint][]): Cap => ({ id: 1, version: 1, body: pairsBody(ranges) });
export const dmaAvailCap = (avail: number): Cap => ({ id: 3, version: 1, body: new Bytes(4).u32(0, avail).b });

/** Fixed struct of `fixed` bytes followed by caps laid end to end; returns the bytes and the
 *  offset of each cap. The caller fills the fixed fields (cap_offset included). */
export function withCaps(fixed: number, caps: Cap[], extra = 0): { x: Bytes; at: number[] } {
  const at: number[] = [];
  let n = fixed;
  for (const c of caps) { at.push(n); n += 8 + (c.body?.length ?? 0); }
  const x = new Bytes(n + extra);
  caps.forEach((c, i) => {
    x.u16(at[i]!, c.id).u16(at[i]! + 2, c.version ?? 1).u32(at[i]! + 4, i + 1 < caps.length ? at[i + 1]! : 0);
    if (c.body) x.b.set(c.body, at[i]! + 8);
  });
  return { x, at };
}

export interface RegionReply { flags: number; index: number; size: bigint; offset: bigint; caps?: Cap[]; argsz?: number }
const R = LAYOUT.vfio_region_info;
export function regionReply(r: RegionReply): Uint8Array {
  const caps = r.caps ?? [];
  const { x, at } = withCaps(R.size, caps);
  const flags = caps.length ? r.flags | 8 : r.flags;
  x.u32(R.argsz, r.argsz ?? x.b.length).u32(R.flags, flags).u32(R.index, r.index).u32(R.cap_offset, at[0] ?? 0)
    .u64(R.size_, r.size).u64(R.offset, r.offset);
  return x.b;
}

const D = LAYOUT.vfio_device_info;
export function deviceReply(flags: number, numRegions: number, numIrqs: number, caps: Cap[] = []): Uint8Array {
  const { x, at } = withCaps(D.size, caps);
  x.u32(D.argsz, x.b.length).u32(D.flags, caps.length ? flags | 0x80 : flags).u32(D.num_regions, numRegions).u32(D.num_irqs, numIrqs).u32(D.cap_offset, at[0] ?? 0);
  return x.b;
}

const I = LAYOUT.vfio_irq_info;
export const irqReply = (flags: number, index: number, count: number) =>
  new Bytes(I.size).u32(I.argsz, I.size).u32(I.flags, flags).u32(I.index, index).u32(I.count, count).b;

const T = LAYOUT.vfio_iommu_type1_info;
export function type1Reply(pgsizes: bigint, caps: Cap[]): Uint8Array {
  const { x, at } = withCaps(T.size, caps);
  x.u32(T.argsz, x.b.length).u32(T.flags, caps.length ? 3 : 1).u64(T.iova_pgsizes, pgsizes).u32(T.cap_offset, at[0] ?? 0);
  return x.b;
}

/** What IOMMU_IOAS_IOVA_RANGES leaves, as the decoder takes it: struct iommu_ioas_iova_ranges
 *  (size @0, ioas_id @4, num_iovas @8, __reserved @12, allowed_iovas @16, out_iova_alignment @24)
 *  followed by the array of `capacity` struct iommu_iova_range {start, last}. num_iovas defaults to
 *  the ranges given, capacity to as many, the alignment to 4 KiB. */
export function ioasRangesReply(ranges: [bigint, bigint][], o: { num?: number; capacity?: number; align?: bigint; ioasId?: number; allowedIovas?: bigint } = {}): Uint8Array {
  const capacity = o.capacity ?? ranges.length;
  const x = new Bytes(32 + 16 * capacity).u32(0, 32).u32(4, o.ioasId ?? 2).u32(8, o.num ?? ranges.length)
    .u64(16, o.allowedIovas ?? 0x7f00_0000_0000n).u64(24, o.align ?? 0x1000n);
  ranges.slice(0, capacity).forEach(([a, b], i) => x.u64(32 + 16 * i, a).u64(40 + 16 * i, b));
  return x.b;
}
