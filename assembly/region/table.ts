// The region module: the region table, its map/trap split and the guest access check. Its exports (prefixed "region_") are listed by ./index.ts.
// docs/vfio-region.md describes the ABI.
//
// A region table per device, keyed by the kernel's region index: a region whose info query
// failed is recorded as failed with its status and keeps its index (crosvm and rust-vmm drop it
// and shift every later index by one). For each region:
// - the split into ranges to MAP (mmap of the device fd, zero-copy) and ranges to TRAP (read and
//   write through the device fd), covering the region exactly, in order, no two neighbours of the
//   same kind. Mappable: the sparse areas when the region has the sparse-mmap capability, else the
//   whole region, and only when the region has VFIO_REGION_INFO_FLAG_MMAP and a page-aligned file
//   offset. Each mappable area is shrunk INWARD to page boundaries (a sub-page region or area
//   maps nothing) and carve-out holes (MSI-X table, PBA) are rounded OUTWARD to page boundaries
//   and trapped.
// - the guest access check: width 1, 2, 4 or 8, inside the region, naturally aligned, and allowed
//   by the READ/WRITE flags. A refused access is a guest outcome, not a VMM failure: the read gives
//   all-ones (slot 0), the write is dropped, and per-region counters count it.
//
// Not responsible for: decoding the kernel's reply (region_add_info runs assembly/vfio's strict
// decoder and records what it accepts in the same call; region_add, for a host that decodes
// itself, checks what it is given so that it cannot corrupt the table), or doing the mmap.

import { MIN_PAGE_SIZE, MAX_PAGE_SIZE, validPageSize } from "../page";
import { ERR_BAD_ARG, ERR_BAD_HANDLE, ERR_LIMIT, ERR_NO_SPACE, ERR_NOT_FOUND, ERR_OVERFLOW } from "../status";
import { inScratch, ld64le, st64le, st32le, clearResults, setResult, getResult } from "../mem";
import { vfio_region_info_decode } from "../vfio/codec";
import { MAX_REGIONS, MAX_SPARSE_AREAS } from "../vfio/bounds";
import {
  REGION_OUT_OF_RANGE, REGION_MISALIGNED, REGION_DENIED, REGION_ERR_FAILED, REGION_ERR_AREA_OUTSIDE,
  REGION_ERR_AREAS_OVERLAP, REGION_ERR_HOLE_OUTSIDE,
} from "./status";

import { VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE } from "../vfio/uapi";

/** Tables open at once: one per passed-through device, with room for several VMs in a process. */
const MAX_TABLES: i32 = 16;
/** Carve-out holes per split: the PCI helper needs 2 (MSI-X table and PBA); 8 leaves room. */
const MAX_HOLES: u32 = 8;
/** One output entry of region_split: offset u64 @0, size u64 @8, kind u32 @16, 0 u32 @20. */
const ENTRY_SIZE: u32 = 24;
const KIND_MAP: u32 = 1;
const KIND_TRAP: u32 = 2;
const STATE_EMPTY: u8 = 0;
const STATE_OK: u8 = 1;
const STATE_FAILED: u8 = 2;
const U64_MAX: u64 = 0xffff_ffff_ffff_ffff;
const SLOT_BITS: i32 = 5;  // 1 << 5 > MAX_TABLES
const GEN_MASK: u32 = (1 << (31 - SLOT_BITS)) - 1;

const NR = <i32>MAX_REGIONS;
const NA = <i32>MAX_SPARSE_AREAS;
const T_USED = new StaticArray<bool>(MAX_TABLES);
const T_GEN = new StaticArray<u32>(MAX_TABLES);
// --- regions: [table * NR + index] ---
const R_STATE = new StaticArray<u8>(MAX_TABLES * NR);
const R_STATUS = new StaticArray<i32>(MAX_TABLES * NR);
const R_FLAGS = new StaticArray<u32>(MAX_TABLES * NR);
const R_SIZE = new StaticArray<u64>(MAX_TABLES * NR);
const R_FOFF = new StaticArray<u64>(MAX_TABLES * NR);
const R_SPARSE = new StaticArray<bool>(MAX_TABLES * NR);
const R_NAREAS = new StaticArray<i32>(MAX_TABLES * NR);
const C_BAD_READS = new StaticArray<u64>(MAX_TABLES * NR);
const C_BAD_WRITES = new StaticArray<u64>(MAX_TABLES * NR);
const C_OOR = new StaticArray<u64>(MAX_TABLES * NR);
const C_MISALIGNED = new StaticArray<u64>(MAX_TABLES * NR);
const C_DENIED = new StaticArray<u64>(MAX_TABLES * NR);
// --- sparse areas: [(table * NR + index) * NA + i] ---
const A_OFF = new StaticArray<u64>(MAX_TABLES * NR * NA);
const A_SIZE = new StaticArray<u64>(MAX_TABLES * NR * NA);
// --- split work list: [first, end) pairs, sorted, disjoint ---
const WMAX = NA + <i32>MAX_HOLES + 1;
const W_A = new StaticArray<u64>(WMAX);
const W_B = new StaticArray<u64>(WMAX);
let wn: i32 = 0;

function slotOf(h: i32): i32 {
  if (h <= 0) return -1;
  const s = (h & ((1 << SLOT_BITS) - 1)) - 1;
  if (s < 0 || s >= MAX_TABLES || !T_USED[s]) return -1;
  if (T_GEN[s] != (<u32>h >> <u32>SLOT_BITS)) return -1;
  return s;
}

/** Row of (handle, index) in the region arrays, or a status. */
function rowOf(h: i32, index: u32): i32 {
  const s = slotOf(h);
  if (s < 0) return ERR_BAD_HANDLE;
  if (index >= MAX_REGIONS) return ERR_NOT_FOUND;
  return s * NR + <i32>index;
}

function clearRow(r: i32): void {
  R_STATE[r] = STATE_EMPTY; R_STATUS[r] = 0; R_FLAGS[r] = 0; R_SIZE[r] = 0; R_FOFF[r] = 0;
  R_SPARSE[r] = false; R_NAREAS[r] = 0;
  C_BAD_READS[r] = 0; C_BAD_WRITES[r] = 0; C_OOR[r] = 0; C_MISALIGNED[r] = 0; C_DENIED[r] = 0;
}

/** A new empty table; returns its handle > 0. ERR_LIMIT when MAX_TABLES are open. */
export function region_table_create(): i32 {
  clearResults();
  for (let s = 0; s < MAX_TABLES; s++) {
    if (T_USED[s]) continue;
    T_USED[s] = true;
    for (let i = 0; i < NR; i++) clearRow(s * NR + i);
    return <i32>((T_GEN[s] << <u32>SLOT_BITS) | <u32>(s + 1));
  }
  return ERR_LIMIT;
}

/** Frees a table. ERR_BAD_HANDLE for an unknown or freed handle. */
export function region_table_free(h: i32): i32 {
  clearResults();
  const s = slotOf(h);
  if (s < 0) return ERR_BAD_HANDLE;
  T_USED[s] = false;
  T_GEN[s] = (T_GEN[s] + 1) & GEN_MASK;
  return 0;
}

/** Records region `index` (replacing what was there, counters reset): flags (READ/WRITE/MMAP),
 *  size, file offset, and when `sparse` != 0 the sparse-mmap capability's nAreas (offset u64,
 *  size u64) pairs at `areas` (16 bytes each; sparse with 0 areas = nothing mappable).
 *  Statuses: ERR_BAD_HANDLE, ERR_LIMIT (index >= MAX_REGIONS, nAreas > MAX_SPARSE_AREAS),
 *  ERR_BAD_ARG (areas outside scratch), ERR_OVERFLOW (offset + size, area offset + size),
 *  REGION_ERR_AREA_OUTSIDE, REGION_ERR_AREAS_OVERLAP (slot 0: the area's position). Nothing
 *  changes on error. */
export function region_add(h: i32, index: u32, flags: u32, size: u64, fileOffset: u64, sparse: i32, areas: usize, nAreas: u32): i32 {
  clearResults();
  const s = slotOf(h);
  if (s < 0) return ERR_BAD_HANDLE;
  if (index >= MAX_REGIONS || nAreas > MAX_SPARSE_AREAS) return ERR_LIMIT;
  if (size > U64_MAX - fileOffset) return ERR_OVERFLOW;
  if (sparse == 0) nAreas = 0;
  if (nAreas > 0 && !inScratch(areas, <usize>nAreas * 16)) return ERR_BAD_ARG;   // no areas: ptr unused
  let prevEnd: u64 = 0;
  for (let i: u32 = 0; i < nAreas; i++) {
    const o = ld64le(areas + <usize>i * 16), z = ld64le(areas + <usize>i * 16 + 8);
    setResult(0, i);
    if (z > U64_MAX - o) return ERR_OVERFLOW;
    if (o + z > size) return REGION_ERR_AREA_OUTSIDE;
    if (z == 0) continue;
    if (i > 0 && o < prevEnd) return REGION_ERR_AREAS_OVERLAP;
    prevEnd = o + z;
  }
  clearResults();
  record(s * NR + <i32>index, flags, size, fileOffset, sparse != 0, areas, nAreas);
  return 0;
}

/** Decodes a VFIO_DEVICE_GET_REGION_INFO reply of `len` bytes at p, asked for region `index`, with
 *  the strict decoder and records it in table h: one call where a host would otherwise decode,
 *  read the sparse areas out and give them back to region_add, which checked them again. Returns
 *  what vfio_region_info_decode returns (its capability count), with its result slots. Statuses:
 *  ERR_BAD_HANDLE, ERR_LIMIT (index >= MAX_REGIONS), then every status of vfio_region_info_decode
 *  (a reply for another index is VFIO_ERR_INDEX_MISMATCH); on error nothing is recorded: the host
 *  queries again on VFIO_NEED_ARGSZ, or records the region as failed (region_add_failed). */
export function region_add_info(h: i32, index: u32, p: usize, len: u32): i32 {
  clearResults();
  const s = slotOf(h);
  if (s < 0) return ERR_BAD_HANDLE;
  if (index >= MAX_REGIONS) return ERR_LIMIT;
  const caps = vfio_region_info_decode(p, len, <i32>index);
  if (caps < 0) return caps;
  // The decoder has checked all that region_add checks (areas inside the region, sorted, disjoint,
  // at most MAX_SPARSE_AREAS, offset + size without overflow), inside the reply's argsz bytes.
  const sparse = getResult(5) != 0;
  record(s * NR + <i32>index, <u32>getResult(0), getResult(2), getResult(3), sparse, p + <usize>getResult(7), sparse ? <u32>getResult(6) : 0);
  return caps;
}

/** Writes a checked region into row r: counters reset, empty areas dropped (they map nothing, and
 *  dropping them keeps the list strictly sorted). Leaves the result slots alone. */
function record(r: i32, flags: u32, size: u64, fileOffset: u64, sparse: bool, areas: usize, nAreas: u32): void {
  clearRow(r);
  R_STATE[r] = STATE_OK; R_FLAGS[r] = flags; R_SIZE[r] = size; R_FOFF[r] = fileOffset;
  R_SPARSE[r] = sparse;
  let w = 0;
  for (let i: u32 = 0; i < nAreas; i++) {
    const z = ld64le(areas + <usize>i * 16 + 8);
    if (z == 0) continue;
    A_OFF[r * NA + w] = ld64le(areas + <usize>i * 16);
    A_SIZE[r * NA + w] = z;
    w++;
  }
  R_NAREAS[r] = w;
}

/** Records that region `index`'s info query failed with `status` (< 0), keeping its index.
 *  Statuses: ERR_BAD_HANDLE, ERR_LIMIT (index), ERR_BAD_ARG (status >= 0). */
export function region_add_failed(h: i32, index: u32, status: i32): i32 {
  clearResults();
  const s = slotOf(h);
  if (s < 0) return ERR_BAD_HANDLE;
  if (index >= MAX_REGIONS) return ERR_LIMIT;
  if (status >= 0) return ERR_BAD_ARG;
  const r = s * NR + <i32>index;
  clearRow(r);
  R_STATE[r] = STATE_FAILED; R_STATUS[r] = status;
  return 0;
}

/** What the table holds for `index`: 1 = a region (slots 0 flags, 1 size, 2 file offset,
 *  3 sparse (0/1), 4 number of non-empty sparse areas), 2 = failed (slot 0 = its status, as a
 *  sign-extended u64). ERR_BAD_HANDLE, ERR_NOT_FOUND (never added, or index >= MAX_REGIONS). */
export function region_get(h: i32, index: u32): i32 {
  clearResults();
  const r = rowOf(h, index);
  if (r < 0) return r;
  const st = R_STATE[r];
  if (st == STATE_EMPTY) return ERR_NOT_FOUND;
  if (st == STATE_FAILED) { setResult(0, <u64><i64>R_STATUS[r]); return 2; }
  setResult(0, R_FLAGS[r]); setResult(1, R_SIZE[r]); setResult(2, R_FOFF[r]);
  setResult(3, R_SPARSE[r] ? 1 : 0); setResult(4, <u64>R_NAREAS[r]);
  return 1;
}

/** Sparse area i of region index (after region_add dropped empty ones): slots 0 offset, 1 size.
 *  ERR_BAD_HANDLE, ERR_NOT_FOUND. */
export function region_area(h: i32, index: u32, i: u32): i32 {
  clearResults();
  const r = rowOf(h, index);
  if (r < 0) return r;
  if (R_STATE[r] != STATE_OK || i >= <u32>R_NAREAS[r]) return ERR_NOT_FOUND;
  setResult(0, A_OFF[r * NA + <i32>i]); setResult(1, A_SIZE[r * NA + <i32>i]);
  return 0;
}

/** Row of an OK region, or a status (REGION_ERR_FAILED with slot 0 = the stored status). */
function okRow(h: i32, index: u32): i32 {
  const r = rowOf(h, index);
  if (r < 0) return r;
  if (R_STATE[r] == STATE_EMPTY) return ERR_NOT_FOUND;
  if (R_STATE[r] == STATE_FAILED) { setResult(0, <u64><i64>R_STATUS[r]); return REGION_ERR_FAILED; }
  return r;
}

/** Removes [hs, he) from the work list. */
function subtract(hs: u64, he: u64): void {
  let n = wn;
  let i = 0;
  while (i < n) {
    const a = W_A[i], b = W_B[i];
    if (b <= hs || he <= a) { i++; continue; }
    const left = a < hs, right = he < b;
    if (left && right) {
      // split in two: shift the tail right by one (WMAX leaves room: each hole adds at most one)
      for (let j = n; j > i + 1; j--) { W_A[j] = W_A[j - 1]; W_B[j] = W_B[j - 1]; }
      W_B[i] = hs; W_A[i + 1] = he; W_B[i + 1] = b;
      n++; i += 2;
    } else if (left) { W_B[i] = hs; i++; }
    else if (right) { W_A[i] = he; i++; }
    else {
      for (let j = i; j < n - 1; j++) { W_A[j] = W_A[j + 1]; W_B[j] = W_B[j + 1]; }
      n--;
    }
  }
  wn = n;
}

/** Splits region `index` into MAP and TRAP ranges for pages of `pageSize` bytes (a power of two,
 *  4096..65536), minus nHoles carve-out holes (offset u64, size u64; 16 bytes each at `holes`).
 *  Writes entries of 24 bytes (offset u64 @0, size u64 @8, kind u32 @16: 1 MAP, 2 TRAP; 0 @20)
 *  to [out, out+cap), covering [0, size) exactly, in order, neighbours of different kinds.
 *  Returns the number of entries; slot 1 = MAP entries, 2 = bytes mapped. Statuses:
 *  ERR_BAD_HANDLE, ERR_NOT_FOUND, REGION_ERR_FAILED, ERR_BAD_ARG (page size, buffers), ERR_LIMIT
 *  (nHoles > MAX_HOLES), ERR_OVERFLOW (hole offset + size), REGION_ERR_HOLE_OUTSIDE (slot 0: the
 *  hole's position), ERR_NO_SPACE (slot 0 = bytes needed). */
export function region_split(h: i32, index: u32, pageSize: u64, holes: usize, nHoles: u32, out: usize, cap: u32): i32 {
  clearResults();
  const r = okRow(h, index);
  if (r < 0) return r;
  if (!validPageSize(pageSize)) return ERR_BAD_ARG;
  if (nHoles > MAX_HOLES) return ERR_LIMIT;
  if ((nHoles > 0 && !inScratch(holes, <usize>nHoles * 16)) || !inScratch(out, <usize>cap)) return ERR_BAD_ARG;
  const pm = pageSize - 1;
  const size = R_SIZE[r];
  wn = 0;
  if ((R_FLAGS[r] & VFIO_REGION_INFO_FLAG_MMAP) != 0 && (R_FOFF[r] & pm) == 0) {
    const n = R_SPARSE[r] ? R_NAREAS[r] : 1;
    for (let i = 0; i < n; i++) {
      const o = R_SPARSE[r] ? A_OFF[r * NA + i] : 0;
      const z = R_SPARSE[r] ? A_SIZE[r * NA + i] : size;
      if (o > U64_MAX - pm) continue;
      const a = (o + pm) & ~pm;          // inward: start rounded up
      const b = (o + z) & ~pm;           // inward: end rounded down (o + z <= size, checked at add)
      if (a >= b) continue;
      W_A[wn] = a; W_B[wn] = b; wn++;
    }
  }
  for (let i: u32 = 0; i < nHoles; i++) {
    const o = ld64le(holes + <usize>i * 16), z = ld64le(holes + <usize>i * 16 + 8);
    if (z > U64_MAX - o) { setResult(0, i); return ERR_OVERFLOW; }
    if (o + z > size) { setResult(0, i); return REGION_ERR_HOLE_OUTSIDE; }
  }
  for (let i: u32 = 0; i < nHoles; i++) {
    const o = ld64le(holes + <usize>i * 16), z = ld64le(holes + <usize>i * 16 + 8);
    if (z == 0) continue;
    const e = o + z;
    const hs = o & ~pm;                                       // outward: start rounded down
    const he = e > U64_MAX - pm ? U64_MAX : (e + pm) & ~pm;   // outward: end rounded up
    subtract(hs, he);
  }
  // merge touching MAP ranges so that neighbours always differ in kind
  let m = 0;
  for (let i = 0; i < wn; i++) {
    if (m > 0 && W_B[m - 1] == W_A[i]) { W_B[m - 1] = W_B[i]; continue; }
    W_A[m] = W_A[i]; W_B[m] = W_B[i]; m++;
  }
  wn = m;
  // count, then write
  let count: u32 = 0, pos: u64 = 0, mapped: u64 = 0;
  for (let i = 0; i < wn; i++) {
    if (W_A[i] > pos) count++;
    count++; mapped += W_B[i] - W_A[i]; pos = W_B[i];
  }
  if (pos < size) count++;
  const need = <u64>count * ENTRY_SIZE;
  if (need > <u64>cap) { clearResults(); setResult(0, need); return ERR_NO_SPACE; }
  let q = out;
  pos = 0;
  for (let i = 0; i < wn; i++) {
    if (W_A[i] > pos) { entry(q, pos, W_A[i] - pos, KIND_TRAP); q += ENTRY_SIZE; }
    entry(q, W_A[i], W_B[i] - W_A[i], KIND_MAP); q += ENTRY_SIZE;
    pos = W_B[i];
  }
  if (pos < size) entry(q, pos, size - pos, KIND_TRAP);
  setResult(1, <u64>wn); setResult(2, mapped);
  return <i32>count;
}

function entry(q: usize, off: u64, size: u64, kind: u32): void {
  st64le(q, off); st64le(q + 8, size); st32le(q + 16, kind); st32le(q + 20, 0);
}

/** Checks a guest access of `width` bytes (1, 2, 4, 8) at `offset` in region `index`; write != 0
 *  for a write. OK (0): slot 0 = file offset to use (region file offset + offset). A refused access
 *  returns REGION_OUT_OF_RANGE, then REGION_MISALIGNED, then REGION_DENIED (first that applies),
 *  is counted, and slot 0 = the all-ones value of the width (what the guest reads). ERR_BAD_HANDLE,
 *  ERR_NOT_FOUND, REGION_ERR_FAILED, ERR_BAD_ARG (width). */
export function region_check(h: i32, index: u32, offset: u64, width: u32, write: i32): i32 {
  clearResults();
  const r = okRow(h, index);
  if (r < 0) return r;
  if (width != 1 && width != 2 && width != 4 && width != 8) return ERR_BAD_ARG;
  const size = R_SIZE[r];
  let st = 0;
  if (offset >= size || <u64>width > size - offset) { st = REGION_OUT_OF_RANGE; C_OOR[r]++; }
  else if ((offset & (<u64>width - 1)) != 0) { st = REGION_MISALIGNED; C_MISALIGNED[r]++; }
  else if ((R_FLAGS[r] & (write != 0 ? VFIO_REGION_INFO_FLAG_WRITE : VFIO_REGION_INFO_FLAG_READ)) == 0) { st = REGION_DENIED; C_DENIED[r]++; }
  if (st == 0) { setResult(0, R_FOFF[r] + offset); return 0; }
  if (write != 0) C_BAD_WRITES[r]++; else C_BAD_READS[r]++;
  setResult(0, width == 8 ? U64_MAX : ((<u64>1 << (<u64>width * 8)) - 1));
  return st;
}

/** Counters of refused guest accesses to region `index`: slots 0 reads answered all-ones,
 *  1 writes dropped, 2 out of range, 3 misaligned, 4 denied. ERR_BAD_HANDLE, ERR_NOT_FOUND,
 *  REGION_ERR_FAILED. */
export function region_counters(h: i32, index: u32): i32 {
  clearResults();
  const r = okRow(h, index);
  if (r < 0) return r;
  setResult(0, C_BAD_READS[r]); setResult(1, C_BAD_WRITES[r]); setResult(2, C_OOR[r]);
  setResult(3, C_MISALIGNED[r]); setResult(4, C_DENIED[r]);
  return 0;
}

/** The named bounds: slots 0 MAX_TABLES, 1 MAX_REGIONS, 2 MAX_SPARSE_AREAS, 3 MAX_HOLES,
 *  4 smallest page size, 5 largest page size, 6 split entry size in bytes. Returns 0. */
export function region_limits(): i32 {
  clearResults();
  setResult(0, <u64>MAX_TABLES); setResult(1, MAX_REGIONS); setResult(2, MAX_SPARSE_AREAS);
  setResult(3, MAX_HOLES); setResult(4, MIN_PAGE_SIZE); setResult(5, MAX_PAGE_SIZE); setResult(6, ENTRY_SIZE);
  return 0;
}
