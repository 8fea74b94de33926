// The device layer's calls into the Wasm core: the VFIO reply decoders and request encoders
// (assembly/vfio) and the region table (assembly/region). A reply is copied into the transient
// half of scratch, decoded there, and what the table needs (sparse areas) is handed to region_add
// from the same place, so nothing is parsed twice and nothing is parsed in TypeScript.
// Not responsible for: issuing ioctls (the shim), owning anything (device.ts), error context
// beyond the status (callers add device and region).
//
// NOTE: thin raw-export wrappers written here because src/vfio/ and src/region/ (the TypeScript
// APIs over these exports) did not exist yet when this layer was written; no decoding happens here.
import { core, type Core } from '../core/loader';
import { VfioError, type VfioErrorKind } from '../errors';

type Fn = (...a: (number | bigint)[]) => number;

/** Statuses of assembly/vfio and assembly/region that the device layer branches on. */
export const VFIO_NEED_ARGSZ = -200;
export const REGION_OUT_OF_RANGE = -300;
export const REGION_MISALIGNED = -301;
export const REGION_DENIED = -302;

/** Scratch layout of one call (offsets from the transient start): the reply or request input at
 *  0, the output at OUT_AT. Replies are bounded by MAX_REPLY below. */
const OUT_AT = 1 << 20;
/** The largest VFIO info reply we accept: far above any real capability chain (a sparse mmap cap
 *  with MAX_SPARSE_AREAS = 32 areas is 528 bytes); a kernel asking for more is malformed. */
export const MAX_REPLY = 64 << 10;
/** Bytes of one region_split entry (offset u64, size u64, kind u32, pad u32). */
const SPLIT_ENTRY = 24;
/** Room for the split of a region with MAX_SPARSE_AREAS areas and 8 holes, as traps around maps. */
const SPLIT_CAP = SPLIT_ENTRY * 96;

let cached: { c: Core; f: Record<string, Fn> } | undefined;
function k(): { c: Core; f: Record<string, Fn> } {
  if (cached) return cached;
  const c = core();
  const names = ['vfio_device_info_decode', 'vfio_region_info_decode', 'vfio_irq_info_decode', 'vfio_irq_set_encode',
    'vfio_dma_map_encode', 'vfio_dma_unmap_encode', 'region_table_create', 'region_table_free', 'region_add',
    'region_add_failed', 'region_get', 'region_area', 'region_split', 'region_check', 'region_counters'];
  const f: Record<string, Fn> = {};
  for (const n of names) f[n] = c.fn<Fn>(n);
  cached = { c, f };
  return cached;
}

const u64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** A core status as a VfioError (kind 'kernel-reply' for a decoder, else by the generic codes). */
export function coreError(status: number, what: string, device?: string, kind?: VfioErrorKind): VfioError {
  const { c } = k();
  const name = c.statusName(status);
  const generic: Record<number, VfioErrorKind> = { [-1]: 'bad-argument', [-2]: 'bad-state', [-3]: 'no-space', [-4]: 'not-found', [-5]: 'closed', [-6]: 'no-space', [-7]: 'bad-argument', [-1000]: 'core-bug' };
  return new VfioError({
    kind: kind ?? generic[status] ?? 'kernel-reply', device, status, statusName: name.split(':')[0],
    message: `${what}: ${name || `status ${status}`}`, offset: status <= -200 && status > -300 ? c.result(0) : undefined,
  });
}

export interface DeviceInfoDecoded { flags: number; numRegions: number; numIrqs: number; caps: number }
export interface RegionInfoDecoded {
  flags: number; index: number; size: bigint; offset: bigint; caps: number;
  sparse: { offset: bigint; size: bigint }[] | null;
  type: { type: number; subtype: number } | null;
  msixMappable: boolean;
}
export interface IrqInfoDecoded { flags: number; index: number; count: number }

/** Result of a decode: the decoded value, or how many bytes the kernel asked for. */
export type Decoded<T> = { ok: T } | { needArgsz: number };

function decode<T>(reply: Uint8Array, call: (p: number, len: number) => number, read: (c: Core, p: number, n: number) => T, what: string, device?: string): Decoded<T> {
  const { c } = k();
  if (reply.length > MAX_REPLY) throw new VfioError({ kind: 'kernel-reply', device, message: `${what}: a ${reply.length}-byte reply is above the ${MAX_REPLY}-byte bound` });
  const p = c.put(reply, 0);
  const n = call(p, reply.length);
  if (n === VFIO_NEED_ARGSZ) return { needArgsz: Number(c.result(0)) };
  if (n < 0) throw coreError(n, what, device, 'kernel-reply');
  return { ok: read(c, p, n) };
}

export function decodeDeviceInfo(reply: Uint8Array, device?: string): Decoded<DeviceInfoDecoded> {
  return decode(reply, (p, len) => k().f.vfio_device_info_decode!(p, len),
    (c, _p, n) => ({ flags: Number(c.result(0)), numRegions: Number(c.result(1)), numIrqs: Number(c.result(2)), caps: n }),
    'the VFIO_DEVICE_GET_INFO reply is malformed', device);
}

/** Decodes a region info reply; when `table` is given, records the region in it (region_add),
 *  straight from the reply in scratch. */
export function decodeRegionInfo(reply: Uint8Array, index: number, table: number | undefined, device?: string): Decoded<RegionInfoDecoded> {
  return decode(reply, (p, len) => k().f.vfio_region_info_decode!(p, len, index), (c, p, n) => {
    const flags = Number(c.result(0)), size = c.result(2), offset = c.result(3);
    const hasSparse = c.result(5) === 1n, nAreas = Number(c.result(6)), areasAt = Number(c.result(7));
    const type = c.result(8) === 1n ? { type: Number(c.result(9)), subtype: Number(c.result(10)) } : null;
    const msixMappable = c.result(11) === 1n;
    let sparse: { offset: bigint; size: bigint }[] | null = null;
    if (hasSparse) {
      const dv = new DataView(reply.buffer, reply.byteOffset, reply.byteLength); // our copy of the reply, not a register
      sparse = [];
      for (let i = 0; i < nAreas; i++) sparse.push({ offset: dv.getBigUint64(areasAt + i * 16, true), size: dv.getBigUint64(areasAt + i * 16 + 8, true) });
    }
    if (table !== undefined) {
      const st = k().f.region_add!(table, index, flags >>> 0, u64(size), u64(offset), hasSparse ? 1 : 0, hasSparse ? p + areasAt : p, hasSparse ? nAreas : 0);
      if (st < 0) throw coreError(st, `region ${index} could not be recorded`, device, 'kernel-reply');
    }
    return { flags, index: Number(c.result(1)), size, offset, caps: n, sparse, type, msixMappable };
  }, `the VFIO_DEVICE_GET_REGION_INFO reply for region ${index} is malformed`, device);
}

export function decodeIrqInfo(reply: Uint8Array, index: number, device?: string): Decoded<IrqInfoDecoded> {
  return decode(reply, (p, len) => k().f.vfio_irq_info_decode!(p, len, index),
    (c) => ({ flags: Number(c.result(0)), index: Number(c.result(1)), count: Number(c.result(2)) }),
    `the VFIO_DEVICE_GET_IRQ_INFO reply for IRQ ${index} is malformed`, device);
}

export const IRQ_SET_DATA_NONE = 1 << 0, IRQ_SET_DATA_BOOL = 1 << 1, IRQ_SET_DATA_EVENTFD = 1 << 2;
export const IRQ_SET_ACTION_MASK = 1 << 3, IRQ_SET_ACTION_UNMASK = 1 << 4, IRQ_SET_ACTION_TRIGGER = 1 << 5;

/** struct vfio_irq_set for `flags` with eventfds (DATA_EVENTFD) or nothing (DATA_NONE). */
export function encodeIrqSet(index: number, start: number, count: number, flags: number, fds: readonly number[] = [], device?: string): Uint8Array {
  const { c, f } = k();
  const data = new Uint8Array(fds.length * 4);
  const dv = new DataView(data.buffer);
  fds.forEach((fd, i) => dv.setInt32(i * 4, fd, true));
  const dp = c.put(data, 0);
  const out = c.transientPtr + OUT_AT;
  const n = f.vfio_irq_set_encode!(out, 4096, index >>> 0, start >>> 0, count >>> 0, flags >>> 0, dp, data.length);
  if (n < 0) throw coreError(n, `cannot encode VFIO_DEVICE_SET_IRQS for IRQ ${index}`, device);
  return c.take(out, n);
}

export const DMA_MAP_FLAG_READ = 1 << 0, DMA_MAP_FLAG_WRITE = 1 << 1;

export function encodeDmaMap(flags: number, vaddr: bigint, iova: bigint, size: bigint, device?: string): Uint8Array {
  const { c, f } = k();
  const out = c.transientPtr + OUT_AT;
  const n = f.vfio_dma_map_encode!(out, 64, flags >>> 0, u64(vaddr), u64(iova), u64(size));
  if (n < 0) throw coreError(n, `cannot encode VFIO_IOMMU_MAP_DMA of 0x${size.toString(16)} bytes at IOVA 0x${iova.toString(16)}`, device);
  return c.take(out, n);
}

export function encodeDmaUnmap(iova: bigint, size: bigint, device?: string): Uint8Array {
  const { c, f } = k();
  const out = c.transientPtr + OUT_AT;
  const n = f.vfio_dma_unmap_encode!(out, 64, 0, u64(iova), u64(size));
  if (n < 0) throw coreError(n, `cannot encode VFIO_IOMMU_UNMAP_DMA of 0x${size.toString(16)} bytes at IOVA 0x${iova.toString(16)}`, device);
  return c.take(out, n);
}

// --- the region table ---

export function regionTableCreate(device?: string): number {
  const h = k().f.region_table_create!();
  if (h < 0) throw coreError(h, 'no free region table in the core (one per open device)', device, 'no-space');
  return h;
}
export function regionTableFree(h: number): void { k().f.region_table_free!(h); }
export function regionAddFailed(h: number, index: number, status: number): void { k().f.region_add_failed!(h, index, status); }

export interface SplitEntry { offset: bigint; size: bigint; kind: 'map' | 'trap' }

/** The map/trap split of region `index` for pages of `pageSize` bytes. */
export function regionSplit(h: number, index: number, pageSize: number, device?: string): SplitEntry[] {
  const { c, f } = k();
  const out = c.transientPtr + OUT_AT;
  const n = f.region_split!(h, index, BigInt(pageSize), c.transientPtr, 0, out, SPLIT_CAP);
  if (n < 0) throw coreError(n, `cannot split region ${index} into mapped and trapped ranges`, device);
  const b = c.take(out, n * SPLIT_ENTRY);
  const dv = new DataView(b.buffer);
  const r: SplitEntry[] = [];
  for (let i = 0; i < n; i++) r.push({ offset: dv.getBigUint64(i * SPLIT_ENTRY, true), size: dv.getBigUint64(i * SPLIT_ENTRY + 8, true), kind: dv.getUint32(i * SPLIT_ENTRY + 16, true) === 1 ? 'map' : 'trap' });
  return r;
}

/** A guest access check: { fileOffset } when allowed, { refused: status, value: all-ones } when
 *  the table refused (and counted) it. */
export function regionCheck(h: number, index: number, offset: bigint, width: number, write: boolean, device?: string): { fileOffset: bigint } | { refused: number; value: bigint } {
  const { c, f } = k();
  if (offset < 0n || offset > 0xffff_ffff_ffff_ffffn) return { refused: REGION_OUT_OF_RANGE, value: width === 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(width * 8)) - 1n };
  const st = f.region_check!(h, index, u64(offset), width, write ? 1 : 0);
  if (st === 0) return { fileOffset: c.result(0) };
  if (st === REGION_OUT_OF_RANGE || st === REGION_MISALIGNED || st === REGION_DENIED) return { refused: st, value: c.result(0) };
  throw coreError(st, `cannot check an access of ${width} bytes at 0x${offset.toString(16)} of region ${index}`, device);
}

export interface RegionCounters { badReads: bigint; badWrites: bigint; outOfRange: bigint; misaligned: bigint; denied: bigint }
export function regionCounters(h: number, index: number, device?: string): RegionCounters {
  const { c, f } = k();
  const st = f.region_counters!(h, index);
  if (st < 0) throw coreError(st, `cannot read the counters of region ${index}`, device);
  return { badReads: c.result(0), badWrites: c.result(1), outOfRange: c.result(2), misaligned: c.result(3), denied: c.result(4) };
}
