// Strict decoders of the kernel's VFIO replies, over the core's vfio_*_decode exports
// (assembly/vfio/codec.ts, whose header states the chain rule and the checks). Each takes the
// whole buffer passed to the ioctl, as the kernel left it, and returns plain objects with u64
// values as bigint. A malformed reply throws VfioError kind 'kernel-reply' with the core's status,
// its name and the byte offset of the fault; a reply asking for a larger buffer throws kind
// 'no-space' with status VFIO_NEED_ARGSZ (queryWithArgsz in src/vfio/query.ts handles that).
// Not responsible for: issuing the ioctls.

import { bindExports, core, TRANSIENT_BYTES, type Core, type CoreFn } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { statusError, statusKind, statusParts } from '../core/status.js';
import {
  VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PLATFORM, VFIO_DEVICE_FLAGS_AMBA,
  VFIO_DEVICE_FLAGS_CCW, VFIO_DEVICE_FLAGS_AP, VFIO_DEVICE_FLAGS_FSL_MC, VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_MMAP, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE,
  VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_NORESIZE,
} from './uapi.js';
import { u64 } from '../../shim/bytes.js';
import { checkBytes, checkOptInt } from '../../shim/args.js';

/** The bus driver of a device, from the VFIO_DEVICE_FLAGS_* bit of its info ('unknown' when none vfiokit knows is set). */
export type DeviceApi = 'pci' | 'platform' | 'amba' | 'ccw' | 'ap' | 'fsl-mc' | 'unknown';

/** struct vfio_device_info, decoded ({@link decodeDeviceInfo}). */
export interface DeviceInfo {
  /** The reply's argsz: the bytes the whole reply needs (more than the buffer when the kernel has more to say). */
  argsz: number;
  /** vfio_device_info.flags, raw. */
  flags: number;
  /** VFIO_DEVICE_FLAGS_RESET. */
  reset: boolean;
  /** The bus driver, from the VFIO_DEVICE_FLAGS_* bit that is set. */
  api: DeviceApi;
  /** num_regions: region indexes 0..numRegions-1. */
  numRegions: number;
  /** num_irqs: IRQ indexes 0..numIrqs-1. */
  numIrqs: number;
  /** 0 when the reply has no capability chain. */
  capOffset: number;
  /** Capabilities in the chain (none is interpreted for devices; all are bounds-checked). */
  caps: number;
}

/** One area of a region that may be mmapped (VFIO_REGION_INFO_CAP_SPARSE_MMAP). */
export interface SparseArea {
  /** Offset in the region, in bytes. */
  offset: bigint;
  /** Bytes in the area. */
  size: bigint;
}

/** struct vfio_region_info and its capabilities, decoded ({@link decodeRegionInfo}). */
export interface RegionInfo {
  /** The reply's argsz (the bytes the whole reply with its capabilities needs). */
  argsz: number;
  /** The region index the reply is for. */
  index: number;
  /** vfio_region_info.flags, raw. */
  flags: number;
  /** VFIO_REGION_INFO_FLAG_READ. */
  read: boolean;
  /** VFIO_REGION_INFO_FLAG_WRITE. */
  write: boolean;
  /** VFIO_REGION_INFO_FLAG_MMAP. */
  mmap: boolean;
  /** The region's size in bytes. */
  size: bigint;
  /** Offset of the region in the device fd (for pread/pwrite and mmap). */
  offset: bigint;
  /** Offset of the first capability in the reply (0: none). */
  capOffset: number;
  /** VFIO_REGION_INFO_CAP_SPARSE_MMAP: only these areas may be mmapped (sorted, disjoint, inside
   *  the region); undefined when the region has no such capability. */
  sparse?: SparseArea[];
  /** VFIO_REGION_INFO_CAP_TYPE. */
  type?: { type: number; subtype: number };
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: the MSI-X table may be mmapped. */
  msixMappable: boolean;
  /** Capabilities in the chain (every one bounds-checked; the three above interpreted). */
  caps: number;
}

/** struct vfio_irq_info, decoded ({@link decodeIrqInfo}). */
export interface IrqInfo {
  /** The reply's argsz. */
  argsz: number;
  /** The IRQ index the reply is for. */
  index: number;
  /** vfio_irq_info.flags, raw. */
  flags: number;
  /** Vectors in the index (0: the device has none here). */
  count: number;
  /** VFIO_IRQ_INFO_EVENTFD: can signal an eventfd. */
  eventfd: boolean;
  /** VFIO_IRQ_INFO_MASKABLE: can be masked and unmasked. */
  maskable: boolean;
  /** VFIO_IRQ_INFO_AUTOMASKED: level-triggered, masked by the kernel on delivery. */
  automasked: boolean;
  /** VFIO_IRQ_INFO_NORESIZE: the vector count cannot change while enabled. */
  noresize: boolean;
}

/** An inclusive IOVA range [start, end]. */
export interface IovaRange {
  /** First usable IOVA. */
  start: bigint;
  /** Last usable IOVA (inclusive, so a range may end at 2^64 - 1). */
  end: bigint;
}

/** struct vfio_iommu_type1_info and its capabilities, decoded ({@link decodeIommuType1Info}). */
export interface IommuType1Info {
  /** The reply's argsz. */
  argsz: number;
  /** vfio_iommu_type1_info.flags (VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_INFO_CAPS). */
  flags: number;
  /** Bitmap of supported IOMMU page sizes. */
  iovaPgsizes: bigint;
  /** Offset of the first capability in the reply (0: none). */
  capOffset: number;
  /** VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: sorted, disjoint; undefined without the capability. */
  iovaRanges?: IovaRange[];
  /** VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: DMA mappings that may still be made. */
  dmaAvail?: number;
  /** Capabilities in the chain (every one bounds-checked). */
  caps: number;
}

/** Runs one decoder over `bytes`; returns the status (>= 0) or throws. `label` names the reply in
 *  errors (a function when it has to be built: only on failure, as open decodes many replies).
 *  A decoder's NO_SPACE (a reply whose array did not fit what the caller passed: iommufd's IOVA
 *  ranges) throws kind 'no-space' with status NO_SPACE, like VFIO_NEED_ARGSZ. */
export function runDecoder(name: string, label: Label, bytes: Uint8Array, index?: number): number {
  const c = core();
  const p = stageReply(bytes, label);
  const f = decoderFn(c, name);
  const st = index === undefined ? f(p, bytes.length) : f(p, bytes.length, index);
  if (st >= 0) return st;
  throw decoderError(st, label, bytes.length);
}

/** The decoders by name, bound once per core instance (a device open runs one per info reply;
 *  bindExports would build a names array and a key string for each). */
let decoders: { c: Core; fns: Map<string, CoreFn> } | undefined;
function decoderFn(c: Core, name: string): CoreFn {
  if (decoders?.c !== c) decoders = { c, fns: new Map() };
  let f = decoders.fns.get(name);
  if (!f) { f = bindExports(c, '', [name])[name]!; decoders.fns.set(name, f); }
  return f;
}

/** Names a reply in errors; a function is called only on failure. */
export type Label = string | (() => string);
const labelText = (label: Label): string => (typeof label === 'function' ? label() : label);

/** Copies a reply to the start of the core's transient scratch, where the decoders read it. */
export function stageReply(bytes: Uint8Array, label: Label): number {
  if (bytes.length > TRANSIENT_BYTES) {
    throw new VfioError({ kind: 'bad-argument', message: `${labelText(label)}: a ${bytes.length}-byte reply does not fit the core's ${TRANSIENT_BYTES}-byte transient scratch`, hint: 'pass the buffer given to the ioctl, sized by its argsz' });
  }
  return core().put(bytes, 0);
}

/** The VfioError of a decoder's negative status over a reply of `len` bytes: the kernel's faults
 *  are 'kernel-reply' with the offset of the fault, VFIO_NEED_ARGSZ and NO_SPACE 'no-space'. */
export function decoderError(st: number, label: Label, len: number): VfioError {
  const c = core();
  const what = labelText(label);
  const slot0 = c.result(0);
  const status = statusParts(c, st).name;
  if (status === 'VFIO_NEED_ARGSZ') {
    return statusError(c, st, { what, detail: ` (argsz ${slot0}; the buffer has ${len} bytes)`, hint: `query again with a ${slot0}-byte buffer (queryWithArgsz does this)`, offset: 0 });
  }
  if (status === 'NO_SPACE') {
    return statusError(c, st, { what, detail: ` (the reply needs ${slot0} bytes; the buffer has ${len})`, hint: 'query again with an array as large as the kernel asks for', offset: 0 });
  }
  const reply = statusKind(c, st, 'kernel-reply') === 'kernel-reply';
  return statusError(c, st, {
    what, input: 'kernel-reply',
    hint: reply ? 'the kernel (or a driver) returned a malformed structure; report the kernel version and driver' : 'pass a buffer at least as large as the fixed struct',
  });
}

const u32 = (i: number): number => core().resultNumber(i);
const le64 = u64;

function apiOf(flags: number): DeviceApi {
  if (flags & VFIO_DEVICE_FLAGS_PCI) return 'pci';
  if (flags & VFIO_DEVICE_FLAGS_PLATFORM) return 'platform';
  if (flags & VFIO_DEVICE_FLAGS_AMBA) return 'amba';
  if (flags & VFIO_DEVICE_FLAGS_CCW) return 'ccw';
  if (flags & VFIO_DEVICE_FLAGS_AP) return 'ap';
  if (flags & VFIO_DEVICE_FLAGS_FSL_MC) return 'fsl-mc';
  return 'unknown';
}

/** struct vfio_device_info as VFIO_DEVICE_GET_INFO left it.
 * Pure: the Wasm core validates the bytes (argsz, the capability chain, every bound) before
 * anything is read from them.
 * @throws VfioError 'kernel-reply' (a malformed reply: `status`, `statusName`, `offset` of the
 *   fault), 'bad-argument' (a buffer shorter than the fixed struct, or over 4 MiB), 'no-space'
 *   with status VFIO_NEED_ARGSZ (the reply needs a larger buffer: query again with the size the
 *   message names; {@link queryWithArgsz} does it for you).
 */
export function decodeDeviceInfo(bytes: Uint8Array): DeviceInfo {
  checkBytes('bytes', bytes);
  const caps = runDecoder('vfio_device_info_decode', 'VFIO_DEVICE_GET_INFO reply', bytes);
  const flags = u32(0);
  return { argsz: u32(4), flags, reset: (flags & VFIO_DEVICE_FLAGS_RESET) !== 0, api: apiOf(flags), numRegions: u32(1), numIrqs: u32(2), capOffset: u32(3), caps };
}

/** struct vfio_region_info (and its chain) as VFIO_DEVICE_GET_REGION_INFO left it. `index`: the
 *  index asked for; a reply for another index is a kernel-reply error.
 * Pure: the Wasm core validates the bytes (argsz, the capability chain, every bound) before
 * anything is read from them.
 * @throws VfioError 'kernel-reply' (a malformed reply: `status`, `statusName`, `offset` of the
 *   fault), 'bad-argument' (a buffer shorter than the fixed struct, or over 4 MiB), 'no-space'
 *   with status VFIO_NEED_ARGSZ (the reply needs a larger buffer: query again with the size the
 *   message names; {@link queryWithArgsz} does it for you).
 */
export function decodeRegionInfo(bytes: Uint8Array, index?: number): RegionInfo {
  checkBytes('bytes', bytes); checkOptInt('index', index, 0, 0xffff_ffff);
  const caps = runDecoder('vfio_region_info_decode', () => `VFIO_DEVICE_GET_REGION_INFO reply${index === undefined ? '' : ` for region ${index}`}`, bytes, index ?? -1);
  return regionInfoFromResults(bytes, caps);
}

/** The RegionInfo that vfio_region_info_decode (or region_add_info, which runs it) left in the
 *  result slots after accepting `bytes`, which returned `caps`. */
export function regionInfoFromResults(bytes: Uint8Array, caps: number): RegionInfo {
  const c = core();
  const flags = u32(0);
  const info: RegionInfo = {
    argsz: u32(12), index: u32(1), flags, read: (flags & VFIO_REGION_INFO_FLAG_READ) !== 0,
    write: (flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0, mmap: (flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0,
    size: c.result(2), offset: c.result(3), capOffset: u32(4), msixMappable: c.result(11) === 1n, caps,
  };
  if (c.result(8) === 1n) info.type = { type: u32(9), subtype: u32(10) };
  if (c.result(5) === 1n) {
    const n = u32(6), at = u32(7);
    info.sparse = [];
    // The core validated every area; read them from the caller's copy of the reply.
    for (let i = 0; i < n; i++) info.sparse.push({ offset: le64(bytes, at + 16 * i), size: le64(bytes, at + 16 * i + 8) });
  }
  return info;
}

/** struct vfio_irq_info as VFIO_DEVICE_GET_IRQ_INFO left it.
 * `index`: the index asked for (checked as for regions).
 * Pure: the Wasm core validates the bytes (argsz, the capability chain, every bound) before
 * anything is read from them.
 * @throws VfioError 'kernel-reply' (a malformed reply: `status`, `statusName`, `offset` of the
 *   fault), 'bad-argument' (a buffer shorter than the fixed struct, or over 4 MiB), 'no-space'
 *   with status VFIO_NEED_ARGSZ (the reply needs a larger buffer: query again with the size the
 *   message names; {@link queryWithArgsz} does it for you).
 */
export function decodeIrqInfo(bytes: Uint8Array, index?: number): IrqInfo {
  checkBytes('bytes', bytes); checkOptInt('index', index, 0, 0xffff_ffff);
  runDecoder('vfio_irq_info_decode', () => `VFIO_DEVICE_GET_IRQ_INFO reply${index === undefined ? '' : ` for IRQ index ${index}`}`, bytes, index ?? -1);
  const flags = u32(0);
  return {
    argsz: u32(3), index: u32(1), flags, count: u32(2), eventfd: (flags & VFIO_IRQ_INFO_EVENTFD) !== 0,
    maskable: (flags & VFIO_IRQ_INFO_MASKABLE) !== 0, automasked: (flags & VFIO_IRQ_INFO_AUTOMASKED) !== 0,
    noresize: (flags & VFIO_IRQ_INFO_NORESIZE) !== 0,
  };
}

/** struct vfio_iommu_type1_info (and its chain) as VFIO_IOMMU_GET_INFO left it.
 * Pure: the Wasm core validates the bytes (argsz, the capability chain, every bound) before
 * anything is read from them.
 * @throws VfioError 'kernel-reply' (a malformed reply: `status`, `statusName`, `offset` of the
 *   fault), 'bad-argument' (a buffer shorter than the fixed struct, or over 4 MiB), 'no-space'
 *   with status VFIO_NEED_ARGSZ (the reply needs a larger buffer: query again with the size the
 *   message names; {@link queryWithArgsz} does it for you).
 */
export function decodeIommuType1Info(bytes: Uint8Array): IommuType1Info {
  checkBytes('bytes', bytes);
  const caps = runDecoder('vfio_iommu_type1_info_decode', 'VFIO_IOMMU_GET_INFO reply', bytes);
  const c = core();
  const info: IommuType1Info = { argsz: u32(8), flags: u32(0), iovaPgsizes: c.result(1), capOffset: u32(2), caps };
  if (c.result(6) === 1n) info.dmaAvail = u32(7);
  if (c.result(3) === 1n) {
    const n = u32(4), at = u32(5);
    info.iovaRanges = [];
    for (let i = 0; i < n; i++) info.iovaRanges.push({ start: le64(bytes, at + 16 * i), end: le64(bytes, at + 16 * i + 8) });
  }
  return info;
}
