// iommufd requests and replies (include/uapi/linux/iommufd.h): IOMMU_IOAS_MAP and
// IOMMU_IOAS_UNMAP, the iommufd counterparts of type1's MAP_DMA / UNMAP_DMA, encoded in
// TypeScript word-wise as the type1 ones are (src/vfio/encode.ts says why), and
// IOMMU_IOAS_IOVA_RANGES over the core's vfio_ioas_iova_ranges_* exports (request, reply, and its
// two-step EMSGSIZE protocol: the request goes with the core's decoder of its reply).
// Numbers and layouts: shim/uapi/iommufd.ts (pinned against C there).
// Not responsible for: opening /dev/iommu, allocating the IOAS, the memory the kernel writes the
// ranges into, or issuing the ioctls (the callers' callbacks do).

import { bindExports, core } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { encodeError, endStatus, TWO_53, u64 } from './encode.js';
import { runDecoder, type IovaRange } from './decode.js';
import { MAX_ARGSZ_RETRIES } from './query.js';
import { structWords, u32, u64 as le64, type StructWords } from '../../shim/bytes.js';
import { EMSGSIZE } from '../../shim/errno.js';
import {
  IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, IOMMUFD_LAYOUT,
} from '../../shim/uapi/iommufd.js';

// The iommufd uapi, under the names this module always exported (one home: shim/uapi/iommufd.ts).
export {
  IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES, IOMMUFD_CMD_IOAS_MAP, IOMMUFD_CMD_IOAS_UNMAP, IOMMU_IOAS_IOVA_RANGES,
  IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP_READABLE,
  IOMMUFD_LAYOUT,
} from '../../shim/uapi/iommufd.js';
import { checkBigInt, checkInt, checkObject, checkOptBool, TWO_64 } from '../../shim/args.js';

/** An IOMMU_IOAS_MAP request for {@link encodeIoasMap}. */
export interface IoasMapRequest {
  /** The IOAS to map into (IOMMU_IOAS_ALLOC's id). */
  ioasId: number;
  /** Process virtual address of the memory. */
  userVa: bigint;
  /** Bytes to map. */
  length: bigint;
  /** Place the mapping exactly here; omitted: the kernel picks the IOVA and writes it back. */
  iova?: bigint;
  /** Device may read (default true). */
  read?: boolean;
  /** Device may write (default true). */
  write?: boolean;
}

const HINT = 'check the arguments against docs/vfio-region.md';
function fail(st: number, what: string): never { throw encodeError(st, what, HINT); }
/** The core's statuses the TypeScript encoders find themselves (assembly/status.ts). */
const ERR_BAD_ARG = -1, ERR_NO_SPACE = -3;
const MAP = IOMMUFD_LAYOUT.iommu_ioas_map, UNMAP = IOMMUFD_LAYOUT.iommu_ioas_unmap;
const U64_MAX = TWO_64 - 1n;

/** struct iommu_ioas_map for IOMMU_IOAS_MAP, in a new buffer (encodeIoasMapWords into a struct of
 *  its own). The kernel writes the chosen IOVA at offset 32. Pure: no syscall.
 * @throws VfioError 'bad-argument' (a value that is not a u64, or outside the uapi's rules).
 */
export function encodeIoasMap(req: IoasMapRequest): Uint8Array {
  checkObject('req', req); checkInt('req.ioasId', req.ioasId, 0, 0xffff_ffff); checkBigInt('req.userVa', req.userVa); checkBigInt('req.length', req.length); if (req.iova !== undefined) checkBigInt('req.iova', req.iova);
  checkOptBool('req.read', req.read); checkOptBool('req.write', req.write);
  return encodeIoasMapWords(structWords(MAP.size), req.ioasId, req.userVa, req.length, req.iova, req.read ?? true, req.write ?? true);
}

/**
 * struct iommu_ioas_map written into `out` (reused by the IOAS: the iommufd DMA hot path) through
 * its word views, with the checks of the core's vfio_ioas_map_encode (kept in the core for other
 * hosts: docs/ABI.md): a value outside [0, 2^64) (userVa, length, iova in that order), neither
 * read nor write, length 0, userVa + length or (with `iova`: FIXED_IOVA) iova + length past 2^64,
 * `out` too small. test/unit/vfio/encode-fast.test.ts holds it to the core's bytes and statuses.
 */
export function encodeIoasMapWords(out: StructWords, ioasId: number, userVa: bigint, length: bigint, iova: bigint | undefined, read: boolean, write: boolean): Uint8Array {
  const fixed = iova !== undefined;
  const at = iova ?? 0n;
  let st = 0;
  if (!(userVa >= 0n && length > 0n && at >= 0n && userVa < TWO_53 && length < TWO_53 && at < TWO_53)) {
    u64(userVa); u64(length); u64(at);
    st = length === 0n ? ERR_BAD_ARG : endStatus(userVa, length) || (fixed ? endStatus(at, length) : 0);
  }
  if (!read && !write) st = ERR_BAD_ARG;
  if (st === 0 && out.bytes.length < MAP.size) st = ERR_NO_SPACE;
  if (st < 0) fail(st, `encodeIoasMap(ioas ${ioasId}, length 0x${length.toString(16)})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = MAP.size;
  w32[1] = (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0) | (read ? IOMMU_IOAS_MAP_READABLE : 0) | (write ? IOMMU_IOAS_MAP_WRITEABLE : 0);
  w32[2] = ioasId >>> 0; w32[3] = 0;
  w64[2] = userVa; w64[3] = length; w64[4] = at;
  return out.bytes;
}

/** struct iommu_ioas_unmap for IOMMU_IOAS_UNMAP, in a new buffer; `all` unmaps everything (iova 0,
 *  length 2^64-1). Pure: no syscall.
 * @throws VfioError 'bad-argument' (a value that is not a u64, or outside the uapi's rules).
 */
export function encodeIoasUnmap(req: { ioasId: number; iova?: bigint; length?: bigint; all?: boolean }): Uint8Array {
  checkObject('req', req); checkInt('req.ioasId', req.ioasId, 0, 0xffff_ffff); if (req.iova !== undefined) checkBigInt('req.iova', req.iova); if (req.length !== undefined) checkBigInt('req.length', req.length);
  checkOptBool('req.all', req.all);
  return encodeIoasUnmapWords(structWords(UNMAP.size), req.ioasId, req.all ? 0n : req.iova ?? 0n, req.all ? U64_MAX : req.length ?? 0n);
}

/** struct iommu_ioas_unmap written into `out` (reused) through its word views, with the checks of
 *  vfio_ioas_unmap_encode: length 0, iova + length past 2^64 (except iova 0 with length 2^64-1,
 *  the kernel's "everything"), `out` too small. The kernel writes back the length unmapped into
 *  out.u64[2]. */
export function encodeIoasUnmapWords(out: StructWords, ioasId: number, iova: bigint, length: bigint): Uint8Array {
  let st = 0;
  if (!(iova >= 0n && length > 0n && iova < TWO_53 && length < TWO_53)) {
    u64(iova); u64(length);
    st = length === 0n ? ERR_BAD_ARG : iova === 0n && length === U64_MAX ? 0 : endStatus(iova, length);
  }
  if (st === 0 && out.bytes.length < UNMAP.size) st = ERR_NO_SPACE;
  if (st < 0) fail(st, `encodeIoasUnmap(ioas ${ioasId})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = UNMAP.size; w32[1] = ioasId >>> 0;
  w64[1] = iova; w64[2] = length;
  return out.bytes;
}

/** The request of IOMMU_IOAS_IOVA_RANGES: room for `numIovas` ranges (struct iommu_iova_range,
 *  16 bytes each) at the process address `allowedIovas` (0n with numIovas 0: only asks how many). */
export function encodeIoasIovaRanges(req: { ioasId: number; numIovas: number; allowedIovas: bigint }): Uint8Array {
  const c = core();
  const st = bindExports(c, 'vfio_', ['ioas_iova_ranges_encode']).ioas_iova_ranges_encode(c.transientPtr, IOMMUFD_LAYOUT.iommu_ioas_iova_ranges.size, req.ioasId >>> 0, req.numIovas >>> 0, u64(req.allowedIovas));
  if (st < 0) fail(st, `encodeIoasIovaRanges(ioas ${req.ioasId}, ${req.numIovas} ranges)`);
  return c.take(c.transientPtr, st);
}

export interface IoasIovaRanges {
  /** The usable IOVA ranges, inclusive [start, end], sorted and disjoint (the core checked). */
  ranges: IovaRange[];
  /** out_iova_alignment: IOVA and IOVA + length of a map must be multiples of it (1: any). */
  iovaAlignment: bigint;
}

/** Decodes the reply of IOMMU_IOAS_IOVA_RANGES: the 32-byte struct as the kernel left it, followed
 *  by a copy of the array its allowed_iovas pointed at (32 + 16 * the num_iovas passed bytes). A
 *  malformed reply throws kind 'kernel-reply' (status, offset); an array too small for the kernel's
 *  num_iovas throws kind 'no-space' with statusName NO_SPACE (queryIoasIovaRanges handles it). */
export function decodeIoasIovaRanges(bytes: Uint8Array): IoasIovaRanges {
  const n = runDecoder('vfio_ioas_iova_ranges_decode', 'IOMMU_IOAS_IOVA_RANGES reply', bytes);
  const c = core();
  const iovaAlignment = c.result(1), at = c.resultNumber(3);
  const ranges: IovaRange[] = [];
  for (let i = 0; i < n; i++) ranges.push({ start: le64(bytes, at + 16 * i), end: le64(bytes, at + 16 * i + 8) });
  return { ranges, iovaAlignment };
}

/** Memory the kernel writes the ranges into: `addr` is what allowed_iovas gets; `bytes()` reads it
 *  back after the call; `free()` releases it. */
export interface IovaRangesArray { readonly addr: bigint; bytes(): Uint8Array; free(): void }

/**
 * IOMMU_IOAS_IOVA_RANGES in its two steps. The first call passes no array (num_iovas 0): the
 * kernel writes back how many ranges it has and answers EMSGSIZE when that is more than 0; the
 * second passes an array of that many, from `alloc(bytes)`. The core decides from each reply
 * whether the array sufficed (its NO_SPACE names the count); ranges can change between two calls
 * (a device attached meanwhile), so this repeats up to MAX_ARGSZ_RETRIES + 1 calls.
 * `ioctl(req)` issues the call in place and throws the shim's VfioError; EMSGSIZE is expected
 * and absorbed, any other errno propagates unchanged (errno kept). Throws kind 'kernel-reply' for
 * a malformed reply, for EMSGSIZE when the array already held num_iovas, and when the count keeps
 * growing. Every array from `alloc` is freed before this returns or throws.
 */
export function queryIoasIovaRanges(ioasId: number, ioctl: (req: Uint8Array) => void, alloc: (bytes: number) => IovaRangesArray, maxRetries = MAX_ARGSZ_RETRIES): IoasIovaRanges {
  const RANGE = IOMMUFD_LAYOUT.iommu_iova_range.size, FIXED = IOMMUFD_LAYOUT.iommu_ioas_iova_ranges.size;
  let capacity = 0;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const array = capacity > 0 ? alloc(capacity * RANGE) : undefined;
    try {
      const req = encodeIoasIovaRanges({ ioasId, numIovas: capacity, allowedIovas: array?.addr ?? 0n });
      let tooSmall = false;
      try { ioctl(req); } catch (e) {
        if (!(e instanceof VfioError) || e.errnoName !== 'EMSGSIZE') throw e;
        tooSmall = true;
      }
      const reply = new Uint8Array(FIXED + capacity * RANGE);
      reply.set(req.subarray(0, FIXED));
      if (array) reply.set(array.bytes().subarray(0, capacity * RANGE), FIXED);
      try {
        const r = decodeIoasIovaRanges(reply);
        if (tooSmall) {
          throw new VfioError({ kind: 'kernel-reply', message: `IOMMU_IOAS_IOVA_RANGES answered EMSGSIZE although its ${r.ranges.length} range(s) fit the array of ${capacity}`, hint: 'the kernel contradicts its own count; report the kernel version', errno: EMSGSIZE, errnoName: 'EMSGSIZE', syscall: 'ioctl(IOMMU_IOAS_IOVA_RANGES)' });
        }
        return r;
      } catch (e) {
        if (!(e instanceof VfioError) || e.kind !== 'no-space' || e.statusName !== 'NO_SPACE') throw e;
        capacity = u32(reply, IOMMUFD_LAYOUT.iommu_ioas_iova_ranges.num_iovas); // the count the core named (<= MAX_IOVA_RANGES)
      }
    } finally { array?.free(); }
  }
  throw new VfioError({ kind: 'kernel-reply', message: `IOMMU_IOAS_IOVA_RANGES: the number of IOVA ranges grew on ${maxRetries + 1} calls in a row`, hint: 'devices keep attaching to or detaching from the IOAS meanwhile; retry once they are settled', statusName: 'NO_SPACE', status: -3 });
}
