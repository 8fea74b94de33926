// Exports of the FDT writer (prefix fdt_sw_) and merge (fdt_merge), re-exported through
// fdt/index.ts. writer.ts holds the state table; docs/fdt.md is the reference. Names and values
// travel as (ptr, len) in scratch; names carry no NUL. Every call returns ERR_BAD_HANDLE for a
// handle that is not open, ERR_BAD_STATE in a state the table does not allow, and ERR_NO_SPACE
// with result slot 0 = the buffer size needed (nothing changed: resize and repeat).
// The node and property calls are the hot path (thousands per tree) and do not clear the result
// slots first, unlike other exports (measured from Node on this 2-vCPU machine: a raw begin_node +
// end_node pair went from about 220 ns to 120-150 ns without clearing 512 bytes of slots per call).
// Their only result is slot 0 on ERR_NO_SPACE, which they set.

import { OK, ERR_BAD_ARG } from "../status";
import { inScratch, clearResults, st32be, st64be, ld32le, ld64le, ld8, copy } from "../mem";
import {
  create, close, addReserve, beginNode, endNode, propBegin, propEnd, bufferPtr, allocPhandle,
  resize, finish, info,
} from "./writer";
import { FDT_ERR_W_BAD_VALUE } from "./status-write";
import { merge } from "./merge";

/** Opens a writer on the buffer (ptr, cap); phandles are allocated from firstPhandle (0: 1).
 *  Returns a handle > 0; ERR_NO_SPACE (slot 0 = MIN_BUFFER); ERR_LIMIT (MAX_WRITERS open). */
export function fdt_sw_create(ptr: usize, cap: usize, firstPhandle: u32): i32 { clearResults(); return create(ptr, cap, firstPhandle); }
/** Frees the handle (any state). The buffer is the host's to free. */
export function fdt_sw_close(h: i32): i32 { clearResults(); return close(h); }
/** A memory reservation entry (RESERVE_MAP state only). */
export function fdt_sw_add_reserve(h: i32, addr: u64, size: u64): i32 { clearResults(); return addReserve(h, addr, size); }
/** Opens a node named (np, nl): the root first, with an empty name; then "name" or "name@unit". */
export function fdt_sw_begin_node(h: i32, np: usize, nl: usize): i32 { return beginNode(h, np, nl); }
/** Closes the innermost open node. */
export function fdt_sw_end_node(h: i32): i32 { return endNode(h); }

/** A property with raw bytes (dp, dl) as its value. */
export function fdt_sw_prop(h: i32, np: usize, nl: usize, dp: usize, dl: usize): i32 {
  if (!inScratch(dp, dl)) return ERR_BAD_ARG;
  const v = propBegin(h, np, nl, <u32>dl);
  if (v < 0) return v;
  copy(bufferPtr(h) + <usize>v, dp, dl);
  propEnd(h, np, nl, <u32>v, <u32>dl);
  return OK;
}
/** A property of one u32 cell. */
export function fdt_sw_prop_u32(h: i32, np: usize, nl: usize, x: u32): i32 {
  const v = propBegin(h, np, nl, 4);
  if (v < 0) return v;
  st32be(bufferPtr(h) + <usize>v, x);
  propEnd(h, np, nl, <u32>v, 4);
  return OK;
}
/** A property of one u64 (two cells, high first). */
export function fdt_sw_prop_u64(h: i32, np: usize, nl: usize, x: u64): i32 {
  const v = propBegin(h, np, nl, 8);
  if (v < 0) return v;
  st64be(bufferPtr(h) + <usize>v, x);
  propEnd(h, np, nl, <u32>v, 8);
  return OK;
}
/** A property of n u32 cells read little-endian from cp (4n bytes in scratch), written big-endian. */
export function fdt_sw_prop_cells(h: i32, np: usize, nl: usize, cp: usize, n: u32): i32 {
  return propArray(h, np, nl, cp, n, 4);
}
/** A property of n u64 values read little-endian from cp (8n bytes), each written as two cells. */
export function fdt_sw_prop_cells64(h: i32, np: usize, nl: usize, cp: usize, n: u32): i32 {
  return propArray(h, np, nl, cp, n, 8);
}
/** n little-endian values of `width` bytes (4 or 8) from cp, written big-endian; the byte count
 *  must fit a u32 (n below 2^32 / width). */
function propArray(h: i32, np: usize, nl: usize, cp: usize, n: u32, width: u32): i32 {
  if (n > 0xffff_ffff / width || !inScratch(cp, <usize>n * width)) return ERR_BAD_ARG;
  const v = propBegin(h, np, nl, n * width);
  if (v < 0) return v;
  const o = bufferPtr(h) + <usize>v;
  if (width == 4) for (let i: u32 = 0; i < n; i++) st32be(o + i * 4, ld32le(cp + i * 4));
  else for (let i: u32 = 0; i < n; i++) st64be(o + i * 8, ld64le(cp + i * 8));
  propEnd(h, np, nl, <u32>v, n * width);
  return OK;
}
/** A string property: the bytes (sp, sl), which may not hold NUL, plus a NUL.
 *  FDT_ERR_W_BAD_VALUE when they do. */
export function fdt_sw_prop_string(h: i32, np: usize, nl: usize, sp: usize, sl: usize): i32 {
  if (!inScratch(sp, sl)) return ERR_BAD_ARG;
  for (let i: usize = 0; i < sl; i++) if (ld8(sp + i) == 0) return FDT_ERR_W_BAD_VALUE;
  const v = propBegin(h, np, nl, <u32>sl + 1);
  if (v < 0) return v;
  copy(bufferPtr(h) + <usize>v, sp, sl);   // the NUL is already there (propBegin zeroes)
  propEnd(h, np, nl, <u32>v, <u32>sl + 1);
  return OK;
}
/** A string-list property: (sp, sl) is the NUL-terminated strings back to back ("a\0b\0");
 *  empty, or ending in NUL, else FDT_ERR_W_BAD_VALUE. */
export function fdt_sw_prop_strings(h: i32, np: usize, nl: usize, sp: usize, sl: usize): i32 {
  if (!inScratch(sp, sl)) return ERR_BAD_ARG;
  if (sl > 0 && ld8(sp + sl - 1) != 0) return FDT_ERR_W_BAD_VALUE;
  const v = propBegin(h, np, nl, <u32>sl);
  if (v < 0) return v;
  copy(bufferPtr(h) + <usize>v, sp, sl);
  propEnd(h, np, nl, <u32>v, <u32>sl);
  return OK;
}
/** The next free phandle in slot 0 (then one above it); a "phandle" property written with a value
 *  at or above the next one moves the allocator past it. FDT_ERR_W_PHANDLES_EXHAUSTED. */
export function fdt_sw_alloc_phandle(h: i32): i32 { clearResults(); return allocPhandle(h); }
/** Moves the writer to (ptr, cap) (in place or non-overlapping); ERR_NO_SPACE (slot 0 = bytes in use). */
export function fdt_sw_resize(h: i32, ptr: usize, cap: usize): i32 { clearResults(); return resize(h, ptr, cap); }
/** Completes the blob at the buffer's start: returns its totalsize (also slot 0). */
export function fdt_sw_finish(h: i32): i32 { clearResults(); return finish(h); }
/** The writer's state (0 RESERVE_MAP, 1 PROPS, 2 CHILDREN, 3 ROOT_DONE, 4 FINISHED); slots
 *  0 = bytes needed now, 1 = depth, 2 = next phandle, 3 = buffer pointer, 4 = capacity, 5 = rsv entries. */
export function fdt_sw_info(h: i32): i32 { clearResults(); return info(h); }

/** Grafts the children of the subtree blob's root under the node at parentPath of the base blob,
 *  writing a new blob to (out, cap); returns its totalsize (also slot 0). See merge.ts. */
export function fdt_merge(bp: usize, bl: usize, sp: usize, sl: usize, pp: usize, pl: usize, out: usize, cap: usize): i32 {
  clearResults();
  return merge(bp, bl, sp, sl, pp, pl, out, cap);
}
