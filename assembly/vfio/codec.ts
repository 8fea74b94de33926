// The vfio module: the strict decoders of the kernel's replies and the encoders of requests. Its exports (prefixed "vfio_") are listed by ./index.ts.
// docs/vfio-region.md describes the ABI.
//
// Strict decoders of what the kernel's VFIO ioctls answer (struct vfio_device_info,
// vfio_region_info, vfio_irq_info, vfio_iommu_type1_info and their capability chains) and
// encoders of the request structs (vfio_irq_set, vfio_iommu_type1_dma_map / dma_unmap, and
// iommufd's iommu_ioas_map / iommu_ioas_unmap), and iommufd's IOMMU_IOAS_IOVA_RANGES both ways
// (request encoder, reply decoder). Layouts are those of include/uapi/linux/vfio.h
// and iommufd.h; test/unit/vfio/layout.c and iommufd.c pin them against the headers.
//
// QEMU and rust-vmm follow a chain's `next` blindly. Here every reply is distrusted:
// - argsz protocol: a reply whose argsz is larger than the buffer we passed is the kernel asking
//   for a larger buffer (it sets argsz to what it needs and leaves the chain out): VFIO_NEED_ARGSZ,
//   slot 0 = argsz. Otherwise the reply is decoded within its argsz bytes only.
// - chain rule: STRICTLY INCREASING offsets. The first capability must start at or after the end
//   of the fixed struct, and each `next` must be 0 (the end) or at least the current offset plus
//   the 8-byte header. Termination follows without a visited set (no allocation, no bound to
//   tune): at most argsz/8 steps. The kernel builds chains by appending (vfio_info_cap_add), so
//   a real chain always satisfies the rule; a loop or a backward pointer is VFIO_ERR_CHAIN_LOOP.
// - a capability extends from its offset to the next one (or to argsz for the last); a type
//   whose fixed part or array needs more is VFIO_ERR_CAP_TRUNCATED. Unknown ids are skipped but
//   their headers are bounds-checked like the others.
// On error, result slot 0 is the byte offset of the fault in the reply.
//
// Not responsible for: issuing ioctls (shim/), or deciding what to map (assembly/region).

import { ERR_BAD_ARG, ERR_NO_SPACE, ERR_OVERFLOW } from "../status";
import { inScratch, ld32le, ld16le, ld64le, st32le, st64le, st8, ld8, clearResults, setResult } from "../mem";
import {
  VFIO_NEED_ARGSZ, VFIO_ERR_ARGSZ_SMALL, VFIO_ERR_SHORT_BUFFER, VFIO_ERR_CHAIN_LOOP,
  VFIO_ERR_CHAIN_OUT_OF_BUFFER, VFIO_ERR_CAP_TRUNCATED, VFIO_ERR_CAP_DUPLICATE, VFIO_ERR_TOO_MANY,
  VFIO_ERR_AREA_OUT_OF_REGION, VFIO_ERR_AREAS_OVERLAP, VFIO_ERR_AREAS_UNSORTED,
  VFIO_ERR_RANGE_INVERTED, VFIO_ERR_INDEX_MISMATCH, VFIO_ERR_BAD_ALIGNMENT,
} from "./status";

// --- uapi constants (include/uapi/linux/vfio.h) ---
const VFIO_DEVICE_FLAGS_CAPS: u32 = 1 << 7;          // vfio_device_info.flags
const VFIO_IOMMU_INFO_CAPS: u32 = 1 << 1;            // vfio_iommu_type1_info.flags
const VFIO_REGION_INFO_CAP_SPARSE_MMAP: u32 = 1;
const VFIO_REGION_INFO_CAP_TYPE: u32 = 2;
const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: u32 = 3;
const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: u32 = 1;
const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: u32 = 3;
const VFIO_IRQ_SET_DATA_NONE: u32 = 1 << 0;
const VFIO_IRQ_SET_DATA_BOOL: u32 = 1 << 1;
const VFIO_IRQ_SET_DATA_EVENTFD: u32 = 1 << 2;
const VFIO_IRQ_SET_ACTION_MASK: u32 = 1 << 3;
const VFIO_IRQ_SET_ACTION_UNMASK: u32 = 1 << 4;
const VFIO_IRQ_SET_ACTION_TRIGGER: u32 = 1 << 5;
const VFIO_DMA_MAP_FLAG_READ: u32 = 1 << 0;
const VFIO_DMA_MAP_FLAG_WRITE: u32 = 1 << 1;
const VFIO_DMA_MAP_FLAG_VADDR: u32 = 1 << 2;
const VFIO_DMA_UNMAP_FLAG_ALL: u32 = 1 << 1;
const VFIO_DMA_UNMAP_FLAG_VADDR: u32 = 1 << 2;

// --- layouts (sizeof and offsets; pinned by test/unit/vfio/layout.test.ts) ---
/** vfio_info_cap_header: id u16 @0, version u16 @2, next u32 @4. */
const CAP_HDR: u32 = 8;
/** vfio_device_info: argsz @0, flags @4, num_regions @8, num_irqs @12, cap_offset @16. The kernel
 *  requires argsz >= 16 (offsetofend num_irqs); cap_offset exists from 20 bytes on. */
const DEVICE_INFO_MIN: u32 = 16;
const DEVICE_INFO_SIZE: u32 = 20;
/** vfio_region_info: argsz @0, flags @4, index @8, cap_offset @12, size @16, offset @24. */
const REGION_INFO_SIZE: u32 = 32;
/** vfio_region_info_cap_sparse_mmap: header, nr_areas @8, reserved @12, areas[] @16 of 16 bytes. */
const SPARSE_FIXED: u32 = 16;
const SPARSE_AREA: u32 = 16;
/** vfio_region_info_cap_type: header, type @8, subtype @12. */
const CAP_TYPE_SIZE: u32 = 16;
/** vfio_irq_info: argsz @0, flags @4, index @8, count @12. */
const IRQ_INFO_SIZE: u32 = 16;
/** vfio_iommu_type1_info: argsz @0, flags @4, iova_pgsizes @8, cap_offset @16, 4 bytes padding.
 *  The kernel requires argsz >= 16; cap_offset exists from 20; caps start after sizeof = 24. */
const TYPE1_INFO_MIN: u32 = 16;
const TYPE1_INFO_CAPSZ: u32 = 20;
const TYPE1_INFO_SIZE: u32 = 24;
/** vfio_iommu_type1_info_cap_iova_range: header, nr_iovas @8, reserved @12, ranges[] @16 of 16. */
const IOVA_FIXED: u32 = 16;
const IOVA_RANGE: u32 = 16;
/** vfio_iommu_type1_info_dma_avail: header, avail @8. */
const DMA_AVAIL_SIZE: u32 = 12;
/** vfio_irq_set: argsz @0, flags @4, index @8, start @12, count @16, data[] @20. */
const IRQ_SET_SIZE: u32 = 20;
/** vfio_iommu_type1_dma_map: argsz @0, flags @4, vaddr @8, iova @16, size @24. */
const DMA_MAP_SIZE: u32 = 32;
/** vfio_iommu_type1_dma_unmap: argsz @0, flags @4, iova @8, size @16. */
const DMA_UNMAP_SIZE: u32 = 24;

import { MAX_REGIONS, MAX_IRQ_INDEXES, MAX_IRQS, MAX_SPARSE_AREAS, MAX_IOVA_RANGES, MAX_IOVA_ALIGNMENT } from "./bounds";
import { VFIO_REGION_INFO_FLAG_CAPS } from "./uapi";

const U64_MAX: u64 = 0xffff_ffff_ffff_ffff;

// --- decoder state (module fields: no allocation, no tuples) ---
let capCount: u32 = 0;
let sparseAt: u32 = 0;      // offset of the sparse cap, 0 = absent
let nrAreas: u32 = 0;
let typeAt: u32 = 0;
let capType: u32 = 0;
let capSubtype: u32 = 0;
let msixAt: u32 = 0;
let iovaAt: u32 = 0;
let nrIovas: u32 = 0;
let availAt: u32 = 0;
let avail: u32 = 0;
let regionSize: u64 = 0;

const KIND_DEVICE: i32 = 0;
const KIND_REGION: i32 = 1;
const KIND_TYPE1: i32 = 2;

function fail(status: i32, off: u64): i32 {
  clearResults();
  setResult(0, off);
  return status;
}

function resetState(): void {
  capCount = 0; sparseAt = 0; nrAreas = 0; typeAt = 0; capType = 0; capSubtype = 0; msixAt = 0;
  iovaAt = 0; nrIovas = 0; availAt = 0; avail = 0;
}

/** Checks the argsz protocol. Returns 0 and leaves argsz in `argszSeen`, or a status. */
let argszSeen: u32 = 0;
function checkArgsz(p: usize, len: u32, min: u32): i32 {
  if (!inScratch(p, <usize>len)) return ERR_BAD_ARG;
  if (len < min) return fail(VFIO_ERR_SHORT_BUFFER, <u64>len);
  const argsz = ld32le(p);
  argszSeen = argsz;
  if (argsz > len) { clearResults(); setResult(0, <u64>argsz); return VFIO_NEED_ARGSZ; }
  if (argsz < min) return fail(VFIO_ERR_ARGSZ_SMALL, 0);
  return 0;
}

/** Walks the chain starting at `first` in the reply [p, p+end); fixedEnd: where caps may begin. */
function walk(p: usize, end: u32, first: u32, fixedEnd: u32, kind: i32): i32 {
  if (first == 0) return 0;
  if (first < fixedEnd) return fail(VFIO_ERR_CHAIN_LOOP, <u64>first);
  let cur = first;
  while (true) {
    if (cur > end || end - cur < CAP_HDR) return fail(VFIO_ERR_CHAIN_OUT_OF_BUFFER, <u64>cur);
    const id = ld16le(p + cur);
    const next = ld32le(p + cur + 4);
    let extent: u32;
    if (next == 0) {
      extent = end - cur;
    } else {
      if (next < cur || next - cur < CAP_HDR) return fail(VFIO_ERR_CHAIN_LOOP, <u64>cur + 4);
      if (next > end || end - next < CAP_HDR) return fail(VFIO_ERR_CHAIN_OUT_OF_BUFFER, <u64>cur + 4);
      extent = next - cur;
    }
    capCount++;
    let st = 0;
    if (kind == KIND_REGION) st = regionCap(p, cur, id, extent);
    else if (kind == KIND_TYPE1) st = type1Cap(p, cur, id, extent);
    // KIND_DEVICE: device caps (zPCI on s390) are not interpreted; headers are checked above.
    if (st < 0) return st;
    if (next == 0) return 0;
    cur = next;
  }
  return 0;
}

/** Needs `need` bytes within a cap's extent. */
// @ts-ignore: decorator
@inline function fits(need: u64, extent: u32): bool { return need <= <u64>extent; }

function regionCap(p: usize, cur: u32, id: u32, extent: u32): i32 {
  if (id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
    if (sparseAt != 0) return fail(VFIO_ERR_CAP_DUPLICATE, <u64>cur);
    if (!fits(SPARSE_FIXED, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    const n = ld32le(p + cur + 8);
    if (n > MAX_SPARSE_AREAS) return fail(VFIO_ERR_TOO_MANY, <u64>cur + 8);
    if (!fits(<u64>SPARSE_FIXED + <u64>n * SPARSE_AREA, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    const st = checkAreas(p + cur + SPARSE_FIXED, cur + SPARSE_FIXED, n, false);
    if (st < 0) return st;
    sparseAt = cur; nrAreas = n;
  } else if (id == VFIO_REGION_INFO_CAP_TYPE) {
    if (typeAt != 0) return fail(VFIO_ERR_CAP_DUPLICATE, <u64>cur);
    if (!fits(CAP_TYPE_SIZE, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    typeAt = cur; capType = ld32le(p + cur + 8); capSubtype = ld32le(p + cur + 12);
  } else if (id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
    if (msixAt != 0) return fail(VFIO_ERR_CAP_DUPLICATE, <u64>cur);
    msixAt = cur;
  }
  return 0;
}

function type1Cap(p: usize, cur: u32, id: u32, extent: u32): i32 {
  if (id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
    if (iovaAt != 0) return fail(VFIO_ERR_CAP_DUPLICATE, <u64>cur);
    if (!fits(IOVA_FIXED, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    const n = ld32le(p + cur + 8);
    if (n > MAX_IOVA_RANGES) return fail(VFIO_ERR_TOO_MANY, <u64>cur + 8);
    if (!fits(<u64>IOVA_FIXED + <u64>n * IOVA_RANGE, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    const st = checkAreas(p + cur + IOVA_FIXED, cur + IOVA_FIXED, n, true);
    if (st < 0) return st;
    iovaAt = cur; nrIovas = n;
  } else if (id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
    if (availAt != 0) return fail(VFIO_ERR_CAP_DUPLICATE, <u64>cur);
    if (!fits(DMA_AVAIL_SIZE, extent)) return fail(VFIO_ERR_CAP_TRUNCATED, <u64>cur);
    availAt = cur; avail = ld32le(p + cur + 8);
  }
  return 0;
}

/** n pairs of u64 at q (offset `at` in the reply). Sparse areas: (offset, size) inside
 *  [0, regionSize); IOVA ranges: inclusive (start, end). Both sorted and disjoint. */
function checkAreas(q: usize, at: u32, n: u32, inclusive: bool): i32 {
  let prevFirst: u64 = 0, prevLast: u64 = 0, have = false;
  for (let i: u32 = 0; i < n; i++) {
    const a = q + <usize>(i * 16);
    const off = <u64>at + <u64>(i * 16);
    const x = ld64le(a), y = ld64le(a + 8);
    let first = x, last: u64;
    if (inclusive) {
      if (x > y) return fail(VFIO_ERR_RANGE_INVERTED, off);
      last = y;
    } else {
      if (y > U64_MAX - x) return fail(ERR_OVERFLOW, off + 8);
      if (x + y > regionSize) return fail(VFIO_ERR_AREA_OUT_OF_REGION, off);
      if (y == 0) continue;        // an empty area maps nothing; harmless, kept out of the order check
      last = x + y - 1;
    }
    if (have) {
      if (first < prevFirst) return fail(VFIO_ERR_AREAS_UNSORTED, off);
      if (first <= prevLast) return fail(VFIO_ERR_AREAS_OVERLAP, off);
    }
    prevFirst = first; prevLast = last; have = true;
  }
  return 0;
}

/** Decodes a VFIO_DEVICE_GET_INFO reply of `len` bytes (the buffer passed; its argsz field).
 *  Returns the number of capabilities (>= 0). Slots: 0 flags, 1 num_regions, 2 num_irqs,
 *  3 cap_offset (0 without caps), 4 argsz. Statuses: ERR_BAD_ARG, VFIO_NEED_ARGSZ,
 *  VFIO_ERR_SHORT_BUFFER, VFIO_ERR_ARGSZ_SMALL, VFIO_ERR_TOO_MANY (num_regions > MAX_REGIONS,
 *  num_irqs > MAX_IRQ_INDEXES), chain statuses. */
export function vfio_device_info_decode(p: usize, len: u32): i32 {
  clearResults(); resetState();
  let st = checkArgsz(p, len, DEVICE_INFO_MIN);
  if (st < 0) return st;
  const argsz = argszSeen;
  const flags = ld32le(p + 4);
  const nreg = ld32le(p + 8), nirq = ld32le(p + 12);
  if (nreg > MAX_REGIONS) return fail(VFIO_ERR_TOO_MANY, 8);
  if (nirq > MAX_IRQ_INDEXES) return fail(VFIO_ERR_TOO_MANY, 12);
  let capOff: u32 = 0;
  if ((flags & VFIO_DEVICE_FLAGS_CAPS) != 0 && argsz >= DEVICE_INFO_SIZE) capOff = ld32le(p + 16);
  st = walk(p, argsz, capOff, DEVICE_INFO_SIZE, KIND_DEVICE);
  if (st < 0) return st;
  setResult(0, flags); setResult(1, nreg); setResult(2, nirq); setResult(3, capOff); setResult(4, argsz);
  return <i32>capCount;
}

/** Decodes a VFIO_DEVICE_GET_REGION_INFO reply. index: the index asked for (-1: not checked).
 *  Returns the number of capabilities. Slots: 0 flags, 1 index, 2 size, 3 offset, 4 cap_offset,
 *  5 sparse cap present (0/1), 6 nr_areas, 7 byte offset of areas[0] in the reply, 8 type cap
 *  present, 9 type, 10 subtype, 11 MSI-X mappable (0/1), 12 argsz.
 *  Statuses: as vfio_device_info_decode, plus VFIO_ERR_INDEX_MISMATCH, ERR_OVERFLOW (offset +
 *  size, or an area's offset + size), VFIO_ERR_TOO_MANY (nr_areas > MAX_SPARSE_AREAS),
 *  VFIO_ERR_AREA_OUT_OF_REGION, VFIO_ERR_AREAS_UNSORTED, VFIO_ERR_AREAS_OVERLAP,
 *  VFIO_ERR_CAP_DUPLICATE. Empty areas are accepted and take no part in the order check. */
export function vfio_region_info_decode(p: usize, len: u32, index: i32): i32 {
  clearResults(); resetState();
  let st = checkArgsz(p, len, REGION_INFO_SIZE);
  if (st < 0) return st;
  const argsz = argszSeen;
  const flags = ld32le(p + 4), idx = ld32le(p + 8);
  if (index >= 0 && idx != <u32>index) return fail(VFIO_ERR_INDEX_MISMATCH, 8);
  const size = ld64le(p + 16), off = ld64le(p + 24);
  if (size > U64_MAX - off) return fail(ERR_OVERFLOW, 16);
  regionSize = size;
  const capOff: u32 = (flags & VFIO_REGION_INFO_FLAG_CAPS) != 0 ? ld32le(p + 12) : 0;
  st = walk(p, argsz, capOff, REGION_INFO_SIZE, KIND_REGION);
  if (st < 0) return st;
  setResult(0, flags); setResult(1, idx); setResult(2, size); setResult(3, off); setResult(4, capOff);
  setResult(5, sparseAt != 0 ? 1 : 0); setResult(6, nrAreas); setResult(7, sparseAt != 0 ? sparseAt + SPARSE_FIXED : 0);
  setResult(8, typeAt != 0 ? 1 : 0); setResult(9, capType); setResult(10, capSubtype);
  setResult(11, msixAt != 0 ? 1 : 0); setResult(12, argsz);
  return <i32>capCount;
}

/** Decodes a VFIO_DEVICE_GET_IRQ_INFO reply. index: asked for (-1: not checked). Returns 0.
 *  Slots: 0 flags, 1 index, 2 count, 3 argsz. Statuses: ERR_BAD_ARG, VFIO_NEED_ARGSZ,
 *  VFIO_ERR_SHORT_BUFFER, VFIO_ERR_ARGSZ_SMALL, VFIO_ERR_INDEX_MISMATCH, VFIO_ERR_TOO_MANY
 *  (count > MAX_IRQS). */
export function vfio_irq_info_decode(p: usize, len: u32, index: i32): i32 {
  clearResults(); resetState();
  const st = checkArgsz(p, len, IRQ_INFO_SIZE);
  if (st < 0) return st;
  const flags = ld32le(p + 4), idx = ld32le(p + 8), count = ld32le(p + 12);
  if (index >= 0 && idx != <u32>index) return fail(VFIO_ERR_INDEX_MISMATCH, 8);
  if (count > MAX_IRQS) return fail(VFIO_ERR_TOO_MANY, 12);
  setResult(0, flags); setResult(1, idx); setResult(2, count); setResult(3, argszSeen);
  return 0;
}

/** Decodes a VFIO_IOMMU_GET_INFO reply (type1). Returns the number of capabilities. Slots:
 *  0 flags, 1 iova_pgsizes, 2 cap_offset, 3 IOVA range cap present, 4 nr_iovas, 5 byte offset of
 *  iova_ranges[0], 6 DMA_AVAIL present, 7 avail, 8 argsz. Statuses: as the others, plus
 *  VFIO_ERR_TOO_MANY (nr_iovas > MAX_IOVA_RANGES), VFIO_ERR_RANGE_INVERTED,
 *  VFIO_ERR_AREAS_UNSORTED, VFIO_ERR_AREAS_OVERLAP (ranges are inclusive [start, end]). */
export function vfio_iommu_type1_info_decode(p: usize, len: u32): i32 {
  clearResults(); resetState();
  let st = checkArgsz(p, len, TYPE1_INFO_MIN);
  if (st < 0) return st;
  const argsz = argszSeen;
  const flags = ld32le(p + 4);
  const pgsizes = ld64le(p + 8);
  let capOff: u32 = 0;
  if ((flags & VFIO_IOMMU_INFO_CAPS) != 0 && argsz >= TYPE1_INFO_CAPSZ) capOff = ld32le(p + 16);
  st = walk(p, argsz, capOff, TYPE1_INFO_SIZE, KIND_TYPE1);
  if (st < 0) return st;
  setResult(0, flags); setResult(1, pgsizes); setResult(2, capOff);
  setResult(3, iovaAt != 0 ? 1 : 0); setResult(4, nrIovas); setResult(5, iovaAt != 0 ? iovaAt + IOVA_FIXED : 0);
  setResult(6, availAt != 0 ? 1 : 0); setResult(7, avail); setResult(8, argsz);
  return <i32>capCount;
}

// --- encoders ---

/** Encodes a struct vfio_irq_set into [out, out+cap): flags = one ACTION_* | one DATA_*; data
 *  (dataLen bytes at `data`): none for DATA_NONE, `count` bytes 0/1 for DATA_BOOL, `count` s32
 *  eventfds (>= 0, or -1 to detach/skip) for DATA_EVENTFD. count 0 with DATA_NONE|ACTION_TRIGGER
 *  disables the index. Returns the bytes written (= argsz). Statuses: ERR_BAD_ARG (flags, a
 *  buffer outside scratch, dataLen not matching, a bool not 0/1, an fd < -1), VFIO_ERR_TOO_MANY
 *  (start + count > MAX_IRQS), ERR_NO_SPACE (slot 0 = bytes needed). */
export function vfio_irq_set_encode(out: usize, cap: u32, index: u32, start: u32, count: u32, flags: u32, data: usize, dataLen: u32): i32 {
  clearResults();
  const dataType = flags & (VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD);
  const action = flags & (VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER);
  if (flags != (dataType | action) || popcnt(dataType) != 1 || popcnt(action) != 1) return ERR_BAD_ARG;
  if (!inScratch(out, <usize>cap) || (dataLen > 0 && !inScratch(data, <usize>dataLen))) return ERR_BAD_ARG;
  if (start > MAX_IRQS || count > MAX_IRQS - start) return VFIO_ERR_TOO_MANY;
  const elem: u32 = dataType == VFIO_IRQ_SET_DATA_NONE ? 0 : dataType == VFIO_IRQ_SET_DATA_BOOL ? 1 : 4;
  if (dataLen != count * elem) return ERR_BAD_ARG;
  for (let i: u32 = 0; i < count; i++) {
    if (elem == 1 && ld8(data + i) > 1) return ERR_BAD_ARG;
    if (elem == 4 && <i32>ld32le(data + (i << 2)) < -1) return ERR_BAD_ARG;
  }
  const need = IRQ_SET_SIZE + dataLen;
  if (cap < need) { setResult(0, need); return ERR_NO_SPACE; }
  st32le(out, need); st32le(out + 4, flags); st32le(out + 8, index); st32le(out + 12, start); st32le(out + 16, count);
  for (let i: u32 = 0; i < dataLen; i++) st8(out + IRQ_SET_SIZE + i, ld8(data + i));
  return <i32>need;
}

/** Encodes a struct vfio_iommu_type1_dma_map (32 bytes). flags: READ|WRITE|VADDR. Returns 32.
 *  Statuses: ERR_BAD_ARG (unknown flag, size 0, out outside scratch), ERR_OVERFLOW (iova + size
 *  or vaddr + size past 2^64), ERR_NO_SPACE (slot 0 = 32). */
export function vfio_dma_map_encode(out: usize, cap: u32, flags: u32, vaddr: u64, iova: u64, size: u64): i32 {
  clearResults();
  if ((flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR)) != 0) return ERR_BAD_ARG;
  if (size == 0 || !inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  if (size - 1 > U64_MAX - iova || size - 1 > U64_MAX - vaddr) return ERR_OVERFLOW;
  if (cap < DMA_MAP_SIZE) { setResult(0, DMA_MAP_SIZE); return ERR_NO_SPACE; }
  st32le(out, DMA_MAP_SIZE); st32le(out + 4, flags); st64le(out + 8, vaddr); st64le(out + 16, iova); st64le(out + 24, size);
  return <i32>DMA_MAP_SIZE;
}

/** Encodes a struct vfio_iommu_type1_dma_unmap (24 bytes, no dirty bitmap). flags: ALL (iova and
 *  size must be 0) or VADDR. Returns 24. Statuses: ERR_BAD_ARG (unknown or GET_DIRTY_BITMAP flag,
 *  size 0 without ALL, ALL with a range), ERR_OVERFLOW (iova + size), ERR_NO_SPACE. */
export function vfio_dma_unmap_encode(out: usize, cap: u32, flags: u32, iova: u64, size: u64): i32 {
  clearResults();
  if ((flags & ~(VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) != 0) return ERR_BAD_ARG;
  if (!inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
    if (iova != 0 || size != 0) return ERR_BAD_ARG;
  } else {
    if (size == 0) return ERR_BAD_ARG;
    if (size - 1 > U64_MAX - iova) return ERR_OVERFLOW;
  }
  if (cap < DMA_UNMAP_SIZE) { setResult(0, DMA_UNMAP_SIZE); return ERR_NO_SPACE; }
  st32le(out, DMA_UNMAP_SIZE); st32le(out + 4, flags); st64le(out + 8, iova); st64le(out + 16, size);
  return <i32>DMA_UNMAP_SIZE;
}

// --- iommufd (include/uapi/linux/iommufd.h) ---
const IOMMU_IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
const IOMMU_IOAS_MAP_WRITEABLE: u32 = 1 << 1;
const IOMMU_IOAS_MAP_READABLE: u32 = 1 << 2;
/** struct iommu_ioas_map: size @0, flags @4, ioas_id @8, __reserved @12, user_va @16, length @24, iova @32. */
const IOAS_MAP_SIZE: u32 = 40;
/** struct iommu_ioas_unmap: size @0, ioas_id @4, iova @8, length @16. */
const IOAS_UNMAP_SIZE: u32 = 24;

/** Encodes a struct iommu_ioas_map (40 bytes) for IOMMU_IOAS_MAP. flags: FIXED_IOVA | WRITEABLE |
 *  READABLE, at least one of the last two; without FIXED_IOVA the kernel picks the IOVA and `iova`
 *  must be 0. Returns 40. Statuses: ERR_BAD_ARG (flags, length 0, iova without FIXED_IOVA, out
 *  outside scratch), ERR_OVERFLOW (user_va + length, or iova + length with FIXED_IOVA, past 2^64),
 *  ERR_NO_SPACE (slot 0 = 40). */
export function vfio_ioas_map_encode(out: usize, cap: u32, flags: u32, ioasId: u32, userVa: u64, length: u64, iova: u64): i32 {
  clearResults();
  if ((flags & ~(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) != 0) return ERR_BAD_ARG;
  if ((flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) == 0) return ERR_BAD_ARG;
  if (length == 0 || !inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  const fixed = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) != 0;
  if (!fixed && iova != 0) return ERR_BAD_ARG;
  if (length - 1 > U64_MAX - userVa || (fixed && length - 1 > U64_MAX - iova)) return ERR_OVERFLOW;
  if (cap < IOAS_MAP_SIZE) { setResult(0, IOAS_MAP_SIZE); return ERR_NO_SPACE; }
  st32le(out, IOAS_MAP_SIZE); st32le(out + 4, flags); st32le(out + 8, ioasId); st32le(out + 12, 0);
  st64le(out + 16, userVa); st64le(out + 24, length); st64le(out + 32, iova);
  return <i32>IOAS_MAP_SIZE;
}

/** Encodes a struct iommu_ioas_unmap (24 bytes) for IOMMU_IOAS_UNMAP. iova 0 with length
 *  2^64-1 unmaps everything (the kernel's convention); otherwise length > 0 and iova + length
 *  must not pass 2^64. Returns 24. Statuses: ERR_BAD_ARG, ERR_OVERFLOW, ERR_NO_SPACE. */
export function vfio_ioas_unmap_encode(out: usize, cap: u32, ioasId: u32, iova: u64, length: u64): i32 {
  clearResults();
  if (length == 0 || !inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  const all = iova == 0 && length == U64_MAX;
  if (!all && length - 1 > U64_MAX - iova) return ERR_OVERFLOW;
  if (cap < IOAS_UNMAP_SIZE) { setResult(0, IOAS_UNMAP_SIZE); return ERR_NO_SPACE; }
  st32le(out, IOAS_UNMAP_SIZE); st32le(out + 4, ioasId); st64le(out + 8, iova); st64le(out + 16, length);
  return <i32>IOAS_UNMAP_SIZE;
}

/** struct iommu_ioas_iova_ranges: size @0, ioas_id @4, num_iovas @8, __reserved @12,
 *  allowed_iovas @16 (a user pointer to struct iommu_iova_range[num_iovas]), out_iova_alignment @24. */
const IOAS_IOVA_RANGES_SIZE: u32 = 32;
/** struct iommu_iova_range: start @0, last @8 (inclusive). */
const IOMMU_IOVA_RANGE: u32 = 16;

/** Encodes a struct iommu_ioas_iova_ranges (32 bytes) for IOMMU_IOAS_IOVA_RANGES: room for
 *  `numIovas` ranges at the user address `allowedIovas` (0 with numIovas 0: the first of the two
 *  steps, which only asks how many there are). Returns 32. Statuses: ERR_BAD_ARG (out outside
 *  scratch; numIovas > 0 with allowedIovas 0), VFIO_ERR_TOO_MANY (numIovas > MAX_IOVA_RANGES),
 *  ERR_OVERFLOW (the array would end past 2^64), ERR_NO_SPACE (slot 0 = 32). */
export function vfio_ioas_iova_ranges_encode(out: usize, cap: u32, ioasId: u32, numIovas: u32, allowedIovas: u64): i32 {
  clearResults();
  if (!inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  if (numIovas > MAX_IOVA_RANGES) return VFIO_ERR_TOO_MANY;
  if (numIovas > 0) {
    if (allowedIovas == 0) return ERR_BAD_ARG;
    if (<u64>numIovas * IOMMU_IOVA_RANGE - 1 > U64_MAX - allowedIovas) return ERR_OVERFLOW;
  }
  if (cap < IOAS_IOVA_RANGES_SIZE) { setResult(0, IOAS_IOVA_RANGES_SIZE); return ERR_NO_SPACE; }
  st32le(out, IOAS_IOVA_RANGES_SIZE); st32le(out + 4, ioasId); st32le(out + 8, numIovas); st32le(out + 12, 0);
  st64le(out + 16, allowedIovas); st64le(out + 24, 0);
  return <i32>IOAS_IOVA_RANGES_SIZE;
}

/** Decodes what IOMMU_IOAS_IOVA_RANGES left: the 32-byte struct iommu_ioas_iova_ranges followed,
 *  in the same buffer, by the host's copy of the array it passed (len = 32 + 16 * capacity; the
 *  host copies the array there from its allowed_iovas memory). The kernel sets num_iovas to the
 *  total it has, fills as many as fit, and answers EMSGSIZE when they do not (the reply is still
 *  written back and decodes to ERR_NO_SPACE here).
 *  Checks, in order: num_iovas <= MAX_IOVA_RANGES; out_iova_alignment a power of two up to
 *  MAX_IOVA_ALIGNMENT; num_iovas <= capacity; every range start <= last, in increasing order,
 *  disjoint. Returns num_iovas (>= 0; 0 is a valid, empty list). Slots: 0 num_iovas,
 *  1 out_iova_alignment, 2 ioas_id, 3 byte offset of ranges[0] (32).
 *  Statuses: ERR_BAD_ARG (buffer outside scratch, or len not 32 + a multiple of 16),
 *  VFIO_ERR_SHORT_BUFFER (len < 32), VFIO_ERR_TOO_MANY, VFIO_ERR_BAD_ALIGNMENT, ERR_NO_SPACE (the
 *  array is too small: slot 0 = the len needed, 32 + 16 * num_iovas, slot 1 = num_iovas; query
 *  again with that many), VFIO_ERR_RANGE_INVERTED, VFIO_ERR_AREAS_UNSORTED, VFIO_ERR_AREAS_OVERLAP.
 *  On the other errors slot 0 is the byte offset of the fault. */
export function vfio_ioas_iova_ranges_decode(p: usize, len: u32): i32 {
  clearResults();
  if (!inScratch(p, <usize>len)) return ERR_BAD_ARG;
  if (len < IOAS_IOVA_RANGES_SIZE) return fail(VFIO_ERR_SHORT_BUFFER, <u64>len);
  if (((len - IOAS_IOVA_RANGES_SIZE) & (IOMMU_IOVA_RANGE - 1)) != 0) return ERR_BAD_ARG;
  const capacity = (len - IOAS_IOVA_RANGES_SIZE) / IOMMU_IOVA_RANGE;
  const ioasId = ld32le(p + 4), n = ld32le(p + 8);
  const align = ld64le(p + 24);
  if (n > MAX_IOVA_RANGES) return fail(VFIO_ERR_TOO_MANY, 8);
  if (align == 0 || (align & (align - 1)) != 0 || align > MAX_IOVA_ALIGNMENT) return fail(VFIO_ERR_BAD_ALIGNMENT, 24);
  if (n > capacity) {
    clearResults();
    setResult(0, <u64>IOAS_IOVA_RANGES_SIZE + <u64>n * IOMMU_IOVA_RANGE); setResult(1, n);
    return ERR_NO_SPACE;
  }
  const st = checkAreas(p + IOAS_IOVA_RANGES_SIZE, IOAS_IOVA_RANGES_SIZE, n, true);
  if (st < 0) return st;
  setResult(0, n); setResult(1, align); setResult(2, ioasId); setResult(3, IOAS_IOVA_RANGES_SIZE);
  return <i32>n;
}

/** The named bounds, for hosts to pin their copies: slots 0 MAX_REGIONS, 1 MAX_IRQ_INDEXES,
 *  2 MAX_IRQS, 3 MAX_SPARSE_AREAS, 4 MAX_IOVA_RANGES, 5 MAX_IOVA_ALIGNMENT. Returns 0. */
export function vfio_limits(): i32 {
  clearResults();
  setResult(0, MAX_REGIONS); setResult(1, MAX_IRQ_INDEXES); setResult(2, MAX_IRQS);
  setResult(3, MAX_SPARSE_AREAS); setResult(4, MAX_IOVA_RANGES); setResult(5, MAX_IOVA_ALIGNMENT);
  return 0;
}
