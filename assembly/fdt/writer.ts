// The FDT sequential writer, in the manner of libfdt's fdt_sw: a caller-owned buffer (ptr, cap) in
// scratch receives the header, the reservation map and the structure block from the front and the
// strings block from the back; finish() emits FDT_END, moves the strings next to the structure
// block, fixes the property name offsets and writes the header. Several writers may be open at
// once, each named by a handle (a slot of a small static table plus a generation).
//
// Strings are deduplicated (a name already present, also as the tail of a longer one, is reused).
// Property name offsets are kept, while writing, as distances from the buffer's end, so resize()
// can move the buffer and the strings without touching the structure block.
//
// State machine (every entry point checks it first and returns ERR_BAD_STATE otherwise):
//
//   state        add_reserve  begin_node  end_node  prop_*  alloc_phandle  finish  resize  info  close
//   RESERVE_MAP      yes      yes (root)     -        -          yes          -       yes    yes   yes
//   PROPS             -          yes        yes      yes         yes          -       yes    yes   yes
//   CHILDREN          -          yes        yes       -          yes          -       yes    yes   yes
//   ROOT_DONE         -           -          -        -          yes         yes      yes    yes   yes
//   FINISHED          -           -          -        -           -           -        -     yes   yes
//
//   RESERVE_MAP --begin_node("")--> PROPS --begin_node--> PROPS (one level deeper)
//   PROPS/CHILDREN --end_node--> CHILDREN (parent still open) or ROOT_DONE (the root closed)
//   ROOT_DONE --finish--> FINISHED.   close frees the handle in any state.
// PROPS vs CHILDREN enforces the format's rule that a node's properties precede its subnodes.
//
// Space: every call checks that the bytes it adds, plus the 4 of the final FDT_END, fit; if not it
// returns ERR_NO_SPACE with result slot 0 = the exact buffer size needed, and changes nothing, so a
// host can resize() to that size and repeat the call.
//
// Not responsible for: owning the buffer (the host allocates and frees it), duplicate property
// names within a node, or what the properties mean.

import { OK, ERR_BAD_ARG, ERR_BAD_STATE, ERR_NO_SPACE, ERR_BAD_HANDLE, ERR_LIMIT } from "../status";
import { inScratch, setResult, ld8, st8, st32be, ld32be, st64be, copy, fill, cmp } from "../mem";
import {
  FDT_MAGIC, FDT_VERSION, FDT_LAST_COMP_VERSION, FDT_HEADER_SIZE, FDT_RESERVE_ENTRY_SIZE,
  FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END, FDT_MAX_DEPTH, FDT_MAX_NAME,
  HDR_MAGIC, HDR_TOTALSIZE, HDR_OFF_DT_STRUCT, HDR_OFF_DT_STRINGS, HDR_OFF_MEM_RSVMAP, HDR_VERSION,
  HDR_LAST_COMP_VERSION, HDR_BOOT_CPUID_PHYS, HDR_SIZE_DT_STRINGS, HDR_SIZE_DT_STRUCT,
} from "./format";
import { FDT_ERR_W_BAD_NAME, FDT_ERR_W_TOO_DEEP, FDT_ERR_W_PHANDLES_EXHAUSTED, FDT_ERR_W_CORRUPT } from "./status-write";

export const W_RESERVE_MAP: i32 = 0;
export const W_PROPS: i32 = 1;
export const W_CHILDREN: i32 = 2;
export const W_ROOT_DONE: i32 = 3;
export const W_FINISHED: i32 = 4;

/** Writers open at once: a VMM builds its tree and a few subtrees (one per device) at a time. */
export const MAX_WRITERS: i32 = 16;
const SLOT_BITS: u32 = 4;   // 1 << 4 == MAX_WRITERS
const GEN_LIMIT: u32 = 1 << 26;  // keeps handles positive i32
/** Bytes every buffer needs at least: the header, the reservation terminator and FDT_END. */
export const MIN_BUFFER: u32 = FDT_HEADER_SIZE + FDT_RESERVE_ENTRY_SIZE + 4;
/** The spec reserves 0 and 0xffffffff; phandles are allocated in [1, PHANDLE_MAX]. */
const PHANDLE_MAX: u32 = 0xffff_fffe;

/** One writer's state. Fields rather than parallel arrays: a field is one load, an array element a
 *  bounds-checked call (measured: StaticArray<u32>#__get was about 9% of a 1000-node build). */
class Writer {
  used: bool = false;
  gen: u32 = 0;
  ptr: usize = 0;
  cap: u32 = 0;
  state: i32 = W_RESERVE_MAP;
  depth: i32 = 0;
  nrsv: u32 = 0;
  struct0: u32 = 0;  // structure block start (set by the root)
  end: u32 = 0;      // next structure byte (in RESERVE_MAP: past the terminator's room)
  strlen: u32 = 0;   // strings bytes, at [cap - strlen, cap)
  nextph: u32 = 1;
}
const WRITERS = new StaticArray<Writer>(MAX_WRITERS);
for (let i = 0; i < MAX_WRITERS; i++) WRITERS[i] = new Writer();
let genCounter: u32 = 0;

/** The writer of a live handle, or null. */
export function writerOf(h: i32): Writer | null {
  if (h <= 0) return null;
  const w = WRITERS[h & (MAX_WRITERS - 1)];
  if (!w.used || w.gen != (<u32>h >>> SLOT_BITS)) return null;
  return w;
}

function used(w: Writer): u64 { return <u64>w.end + 4 + <u64>w.strlen; }

/** ERR_NO_SPACE (slot 0 = size needed) unless add structure bytes and addStr string bytes fit. */
function room(w: Writer, add: u64, addStr: u64): i32 {
  const need = used(w) + add + addStr;
  if (need > <u64>w.cap) { setResult(0, need); return ERR_NO_SPACE; }
  return OK;
}

export function create(ptr: usize, cap: usize, firstPhandle: u32): i32 {
  if (!inScratch(ptr, cap)) return ERR_BAD_ARG;
  return createIn(ptr, cap, firstPhandle);
}
/** create() on a buffer the core owns (static data outside scratch, e.g. dtnode's measuring
 *  buffer): the caller vouches for [ptr, ptr + cap). Not reachable from the exports. */
export function createIn(ptr: usize, cap: usize, firstPhandle: u32): i32 {
  if (cap < <usize>MIN_BUFFER) { setResult(0, MIN_BUFFER); return ERR_NO_SPACE; }
  let s = -1;
  for (let i = 0; i < MAX_WRITERS; i++) if (!WRITERS[i].used) { s = i; break; }
  if (s < 0) return ERR_LIMIT;
  const w = WRITERS[s];
  genCounter = genCounter + 1 >= GEN_LIMIT ? 1 : genCounter + 1;
  w.used = true; w.gen = genCounter; w.ptr = ptr; w.cap = <u32>cap;
  w.state = W_RESERVE_MAP; w.depth = 0; w.nrsv = 0; w.struct0 = 0;
  w.end = FDT_HEADER_SIZE + FDT_RESERVE_ENTRY_SIZE; w.strlen = 0;
  w.nextph = firstPhandle == 0 ? 1 : firstPhandle;
  fill(ptr, 0, FDT_HEADER_SIZE);
  return <i32>((genCounter << SLOT_BITS) | <u32>s);
}

export function close(h: i32): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  w.used = false;
  return OK;
}

export function addReserve(h: i32, addr: u64, size: u64): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state != W_RESERVE_MAP) return ERR_BAD_STATE;
  const st = room(w, FDT_RESERVE_ENTRY_SIZE, 0);
  if (st < 0) return st;
  const p = w.ptr + <usize>(w.end - FDT_RESERVE_ENTRY_SIZE);
  st64be(p, addr); st64be(p + 8, size);
  w.end += FDT_RESERVE_ENTRY_SIZE;
  w.nrsv++;
  return OK;
}

function validName(np: usize, nl: u32, node: bool): bool {
  if (nl >= FDT_MAX_NAME) return false;
  for (let i: u32 = 0; i < nl; i++) {
    const c = ld8(np + i);
    if (c == 0 || (node && c == 0x2f)) return false;
  }
  return true;
}

export function beginNode(h: i32, np: usize, nl: usize): i32 { return beginNodeAt(h, np, nl, true); }
/** beginNode with a name the core holds itself (a literal in static data): no scratch check. */
export function beginNodeCore(h: i32, np: usize, nl: usize): i32 { return beginNodeAt(h, np, nl, false); }

function beginNodeAt(h: i32, np: usize, nl: usize, checkScratch: bool): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  const state = w.state;
  if (state != W_RESERVE_MAP && state != W_PROPS && state != W_CHILDREN) return ERR_BAD_STATE;
  if (checkScratch && !inScratch(np, nl)) return ERR_BAD_ARG;
  const isRoot = state == W_RESERVE_MAP;
  if (isRoot ? nl != 0 : (nl == 0 || !validName(np, <u32>nl, true))) return FDT_ERR_W_BAD_NAME;
  if (w.depth >= FDT_MAX_DEPTH) return FDT_ERR_W_TOO_DEEP;
  const add = (4 + <u32>nl + 1 + 3) & ~3;
  const st = room(w, add, 0);
  if (st < 0) return st;
  const b = w.ptr;
  if (isRoot) {
    // The reservation map's terminator, then the structure block.
    fill(b + <usize>(w.end - FDT_RESERVE_ENTRY_SIZE), 0, FDT_RESERVE_ENTRY_SIZE);
    w.struct0 = w.end;
  }
  const p = b + <usize>w.end;
  fill(p, 0, add);
  st32be(p, FDT_BEGIN_NODE);
  copy(p + 4, np, nl);
  w.end += add;
  w.depth++;
  w.state = W_PROPS;
  return OK;
}

export function endNode(h: i32): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state != W_PROPS && w.state != W_CHILDREN) return ERR_BAD_STATE;
  const st = room(w, 4, 0);
  if (st < 0) return st;
  st32be(w.ptr + <usize>w.end, FDT_END_NODE);
  w.end += 4;
  w.depth--;
  w.state = w.depth == 0 ? W_ROOT_DONE : W_CHILDREN;
  return OK;
}

/** Distance from the buffer's end of an existing string equal to (np, nl) + NUL, or 0. */
function findString(w: Writer, np: usize, nl: u32): u32 {
  const len = w.strlen;
  if (nl + 1 > len) return 0;
  const start = w.ptr + <usize>(w.cap - len);
  const last = len - nl - 1;   // candidate starts 0..last
  const first = nl == 0 ? 0 : ld8(np);
  for (let i: u32 = 0; i <= last; i++) {
    if (ld8(start + i) == first && ld8(start + i + nl) == 0 && cmp(start + i, np, nl) == 0) return len - i;
  }
  return 0;
}

/** Checks the state and name, makes room for a property of dl bytes, writes its header, and returns
 *  the buffer offset of its value (>= 0), or a status. The value bytes are zeroed (padding too). */
export function propBegin(h: i32, np: usize, nl: usize, dl: u32): i32 { return propBeginAt(h, np, nl, dl, true); }
/** propBegin with a name the core holds itself (a literal in static data): no scratch check. */
export function propBeginCore(h: i32, np: usize, nl: usize, dl: u32): i32 { return propBeginAt(h, np, nl, dl, false); }

function propBeginAt(h: i32, np: usize, nl: usize, dl: u32, checkScratch: bool): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state != W_PROPS) return ERR_BAD_STATE;
  if (checkScratch && !inScratch(np, nl)) return ERR_BAD_ARG;
  if (nl == 0 || !validName(np, <u32>nl, false)) return FDT_ERR_W_BAD_NAME;
  let dist = findString(w, np, <u32>nl);
  const addStr: u32 = dist == 0 ? <u32>nl + 1 : 0;
  const add: u64 = 12 + ((<u64>dl + 3) & ~3);
  const st = room(w, add, addStr);
  if (st < 0) return st;
  const b = w.ptr;
  if (dist == 0) {
    w.strlen += addStr;
    dist = w.strlen;
    const q = b + <usize>(w.cap - dist);
    copy(q, np, nl);
    st8(q + nl, 0);
  }
  const p = b + <usize>w.end;
  st32be(p, FDT_PROP);
  st32be(p + 4, dl);
  st32be(p + 8, dist);   // fixed to a strings-block offset by finish()
  fill(p + 12, 0, <usize>(add - 12));
  w.end += <u32>add;
  return <i32>(w.end - <u32>add + 12);
}

/** After a property's value is written: a phandle at or above the next one moves the allocator. */
export function propEnd(h: i32, np: usize, nl: usize, valueOff: u32, dl: u32): void {
  const w = writerOf(h);
  if (w === null || dl != 4) return;
  if (!(nl == 7 && isName(np, "phandle")) && !(nl == 13 && isName(np, "linux,phandle"))) return;
  const v = ld32be(w.ptr + <usize>valueOff);
  if (v >= w.nextph && v <= PHANDLE_MAX) w.nextph = v + 1;
}
function isName(np: usize, t: string): bool {
  for (let i = 0; i < t.length; i++) if (ld8(np + <usize>i) != <u32>t.charCodeAt(i)) return false;
  return true;
}
export function bufferPtr(h: i32): usize { const w = writerOf(h); return w === null ? 0 : w.ptr; }

export function allocPhandle(h: i32): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state == W_FINISHED) return ERR_BAD_STATE;
  const v = w.nextph;
  if (v > PHANDLE_MAX) return FDT_ERR_W_PHANDLES_EXHAUSTED;
  w.nextph = v + 1;
  setResult(0, v);
  return OK;
}

/** Moves the writer to a new buffer (ptr, cap): the same one grown or shrunk in place, or one that
 *  does not overlap the old. ERR_NO_SPACE (slot 0 = bytes in use) when cap is too small. */
export function resize(h: i32, ptr: usize, cap: usize): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state == W_FINISHED) return ERR_BAD_STATE;
  if (!inScratch(ptr, cap)) return ERR_BAD_ARG;
  const old = w.ptr, oldCap = <usize>w.cap;
  if (ptr != old && ptr < old + oldCap && old < ptr + cap) return ERR_BAD_ARG;
  const need = used(w);
  if (<u64>cap < need) { setResult(0, need); return ERR_NO_SPACE; }
  const sl = <usize>w.strlen;
  if (ptr == old) {
    copy(ptr + cap - sl, old + oldCap - sl, sl);
  } else {
    copy(ptr, old, <usize>w.end);
    copy(ptr + cap - sl, old + oldCap - sl, sl);
  }
  w.ptr = ptr; w.cap = <u32>cap;
  return OK;
}

/** Completes the blob at the buffer's start; returns its totalsize. FDT_ERR_W_CORRUPT when the
 *  structure block was changed by someone else since it was written. */
export function finish(h: i32): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  if (w.state != W_ROOT_DONE) return ERR_BAD_STATE;
  const b = w.ptr;
  const s0 = w.struct0, end = w.end, sl = w.strlen;
  // Fix the name offsets first: a walk of our own tokens, bounds-checked against [s0, end).
  let off = s0;
  while (off < end) {
    if (end - off < 4) return FDT_ERR_W_CORRUPT;
    const t = ld32be(b + off);
    if (t == FDT_BEGIN_NODE) {
      let q = off + 4;
      while (q < end && ld8(b + q) != 0) q++;
      if (q >= end) return FDT_ERR_W_CORRUPT;
      off = (q + 4) & ~3;
    } else if (t == FDT_PROP) {
      if (end - off < 12) return FDT_ERR_W_CORRUPT;
      const dl = ld32be(b + off + 4);
      const dist = ld32be(b + off + 8);
      if (dl > end - off - 12 || dist == 0 || dist > sl) return FDT_ERR_W_CORRUPT;
      off = (off + 12 + dl + 3) & ~3;
    } else if (t == FDT_END_NODE || t == FDT_NOP) {
      off += 4;
    } else return FDT_ERR_W_CORRUPT;
  }
  off = s0;
  while (off < end) {
    const t = ld32be(b + off);
    if (t == FDT_BEGIN_NODE) {
      let q = off + 4;
      while (ld8(b + q) != 0) q++;
      off = (q + 4) & ~3;
    } else if (t == FDT_PROP) {
      const dl = ld32be(b + off + 4);
      st32be(b + off + 8, sl - ld32be(b + off + 8));
      off = (off + 12 + dl + 3) & ~3;
    } else off += 4;
  }
  st32be(b + end, FDT_END);
  const strOff = end + 4;
  copy(b + strOff, b + <usize>(w.cap - sl), sl);
  const total = strOff + sl;
  st32be(b + HDR_MAGIC, FDT_MAGIC);
  st32be(b + HDR_TOTALSIZE, total);
  st32be(b + HDR_OFF_DT_STRUCT, s0);
  st32be(b + HDR_OFF_DT_STRINGS, strOff);
  st32be(b + HDR_OFF_MEM_RSVMAP, FDT_HEADER_SIZE);
  st32be(b + HDR_VERSION, FDT_VERSION);
  st32be(b + HDR_LAST_COMP_VERSION, FDT_LAST_COMP_VERSION);
  st32be(b + HDR_BOOT_CPUID_PHYS, 0);
  st32be(b + HDR_SIZE_DT_STRINGS, sl);
  st32be(b + HDR_SIZE_DT_STRUCT, strOff - s0);
  w.state = W_FINISHED;
  setResult(0, total);
  return <i32>total;
}

/** State of the writer; slots 0 = bytes a buffer needs now, 1 = depth, 2 = next phandle,
 *  3 = buffer pointer, 4 = capacity, 5 = reservation entries. */
export function info(h: i32): i32 {
  const w = writerOf(h);
  if (w === null) return ERR_BAD_HANDLE;
  setResult(0, used(w)); setResult(1, <u64>w.depth); setResult(2, w.nextph);
  setResult(3, <u64>w.ptr); setResult(4, w.cap); setResult(5, w.nrsv);
  return w.state;
}
