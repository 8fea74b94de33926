// How dtnode writes the guest tree: thin calls into the fdt writer (assembly/fdt/writer.ts) on one
// open handle, with a sticky status, so the generator reads as the tree it writes and checks once
// at the end (libfdt's fdt_sw callers chain calls the same way). Names are ASCII literals copied
// into a static buffer (the writer takes names as bytes), or bytes of the host blob.
// Not responsible for: what is written (index.ts, clocks.ts, builders.ts), or the writer's rules
// (properties before subnodes, name checks, space: the writer enforces them and its status sticks).

import { OK, ERR_NO_SPACE, ERR_INTERNAL } from "../status";
import { st8, st32be, copy } from "../mem";
import { FDT_MAX_NAME } from "../fdt/format";
import { beginNodeCore, endNode, propBeginCore, bufferPtr } from "../fdt/writer";
import { FDT_ERR_W_BAD_NAME } from "../fdt/status-write";
import { DTNODE_ERR_BAD_DTB } from "./status";

/** Longest literal name or node name built here: a host name (< FDT_MAX_NAME) + '@' + 16 digits. */
const NAME_CAP: i32 = <i32>FDT_MAX_NAME + 1 + 16;
const LIT = memory.data(NAME_CAP, 8);

let H: i32 = 0;
/** The first failure of the current emission (OK while none). */
let ST: i32 = OK;

/** Starts emitting to the open writer handle h. */
export function emitTo(h: i32): void { H = h; ST = OK; }
/** The emission's status: OK, ERR_NO_SPACE (slot 0 set by the writer), DTNODE_ERR_BAD_DTB (a host
 *  name the writer refuses: empty, holding '/', or too long with the guest unit address), or
 *  ERR_INTERNAL (a writer state error: a bug of dtnode). */
export function emitStatus(): i32 { return ST; }

function note(st: i32): bool {
  if (st >= 0) return true;
  if (ST == OK) ST = st == ERR_NO_SPACE ? st : st == FDT_ERR_W_BAD_NAME ? DTNODE_ERR_BAD_DTB : ERR_INTERNAL;
  return false;
}

/** ASCII bytes of the literal s in the static name buffer (valid until the next call). */
export function lit(s: string): usize {
  const n = s.length < NAME_CAP ? s.length : NAME_CAP;
  for (let i = 0; i < n; i++) st8(LIT + <usize>i, <u32>s.charCodeAt(i));
  return LIT;
}

/** BEGIN_NODE named by bytes (np, nl) (the root: nl 0). */
export function beginBytes(np: usize, nl: usize): void { if (ST == OK) note(beginNodeCore(H, np, nl)); }
/** BEGIN_NODE "<base bytes><literal>@<unit in hex>" (no '@unit' when withUnit is false). */
export function beginUnit(base: usize, baseLen: i32, s: string, unit: u64, withUnit: bool): void {
  if (ST != OK) return;
  let n = baseLen;
  if (n > <i32>FDT_MAX_NAME) n = <i32>FDT_MAX_NAME;   // the writer refuses it anyway
  copy(LIT, base, <usize>n);
  for (let k = 0; k < s.length && n < NAME_CAP - 17; k++) { st8(LIT + <usize>n, <u32>s.charCodeAt(k)); n++; }
  if (withUnit) {
    st8(LIT + <usize>n, 0x40); n++;
    let digits = 1;
    let v = unit >> 4;
    while (v != 0) { digits++; v >>= 4; }
    for (let k = digits - 1; k >= 0; k--) {
      const d = <u32>((unit >> (<u64>k * 4)) & 0xf);
      st8(LIT + <usize>n, d < 10 ? 0x30 + d : 0x57 + d); n++;
    }
  }
  note(beginNodeCore(H, LIT, <usize>n));
}
export function end(): void { if (ST == OK) note(endNode(H)); }

/** Opens a property of len bytes named by bytes (np, nl); the pointer to its (zeroed) value, or 0
 *  when the emission has failed (nothing to write then). */
export function propBytes(np: usize, nl: usize, len: u32): usize {
  if (ST != OK) return 0;
  const v = propBeginCore(H, np, nl, len);
  if (!note(v)) return 0;
  return bufferPtr(H) + <usize>v;
}
/** Opens the property named by the literal s; as propBytes. */
export function prop(s: string, len: u32): usize { return propBytes(lit(s), <usize>s.length, len); }
/** A property whose value is a copy of (src, len). */
export function propCopy(s: string, src: usize, len: u32): void {
  const p = prop(s, len);
  if (p != 0) copy(p, src, <usize>len);
}
export function propWord(s: string, v: u32): void {
  const p = prop(s, 4);
  if (p != 0) st32be(p, v);
}
export function propEmpty(s: string): void { prop(s, 0); }

/** Writes v as `cells` (1 or 2) big-endian cells at p; returns the bytes written. The caller has
 *  checked that v fits (fitsCells). */
export function putCells(p: usize, v: u64, cells: u32): usize {
  if (cells == 1) { st32be(p, <u32>v); return 4; }
  st32be(p, <u32>(v >> 32)); st32be(p + 4, <u32>v);
  return 8;
}
export function fitsCells(v: u64, cells: u32): bool { return cells == 2 || v <= 0xffff_ffff; }
