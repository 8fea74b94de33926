// The FDT reader: validates a whole blob, then answers queries (path, phandle, compatible,
// subnodes, properties, reg) on it. docs/fdt.md lists the rules and the exports.
//
// Design: a query takes the same (ptr, len) as validation and re-reads only the header (O(1));
// every token it decodes is bounds-checked again by token(), so a blob changed after validation
// can make a query answer a fault status, never read outside [ptr, ptr + totalsize) or trap.
// Node and property offsets are byte offsets from the blob's first byte (of the BEGIN_NODE or PROP
// token), so they are also valid offsets into a host-side copy of the blob.
//
// One blob is "open" at a time (the globals below); merge switches between two with saveCtx/useCtx.
// Not responsible for: writing (writer.ts), merging (merge.ts), or unit-address/alias semantics
// beyond libfdt's "name matches name@unit" rule in path lookup.

import { OK, ERR_BAD_ARG, ERR_NOT_FOUND } from "../status";
import { ld32be, ld8, st32le, ld32le, cmp } from "../mem";
import {
  FDT_MAGIC, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END, FDT_MAX_DEPTH, FDT_MAX_NAME,
  FDT_RESERVE_ENTRY_SIZE, HDR_TOTALSIZE, HDR_OFF_DT_STRUCT, HDR_OFF_DT_STRINGS, HDR_OFF_MEM_RSVMAP,
  HDR_VERSION, HDR_LAST_COMP_VERSION, HDR_SIZE_DT_STRINGS, HDR_SIZE_DT_STRUCT,
} from "./format";
import {
  FDT_ERR_TRUNCATED, FDT_ERR_BAD_MAGIC, FDT_ERR_BAD_VERSION, FDT_ERR_BAD_LAYOUT, FDT_ERR_BAD_RSVMAP,
  FDT_ERR_BAD_TOKEN, FDT_ERR_BAD_NESTING, FDT_ERR_BAD_NAME, FDT_ERR_BAD_PROP, FDT_ERR_BAD_STRING,
  FDT_ERR_TOO_DEEP, FDT_ERR_NO_END, FDT_ERR_BAD_CELLS, FDT_ERR_BAD_REG,
} from "./status-read";

/** Header bytes of a version 16 blob (no size_dt_struct) and of version >= 17. */
const HDR_SIZE_V16: u32 = 36;
const HDR_SIZE_V17: u32 = 40;
/** Default cells of a node without #address-cells / #size-cells (devicetree spec 2.3.5). */
export const DEFAULT_ADDRESS_CELLS: u32 = 2;
export const DEFAULT_SIZE_CELLS: u32 = 1;
/** Widest reg field decoded into a u64. */
const MAX_REG_CELLS: u32 = 2;
/** Words per fdt_index node and property record (docs/fdt.md). */
export const INDEX_NODE_WORDS: u32 = 9;
export const INDEX_PROP_WORDS: u32 = 4;
/** Marker in an index record for a #address-cells/#size-cells that is not one 4-byte cell. */
const CELLS_INVALID: u32 = 0xff;
const NO_PARENT: u32 = 0xffff_ffff;

// ---------------------------------------------------------------- the open blob
export let B: usize = 0;     // blob pointer
export let TOTAL: u32 = 0;   // totalsize
export let S0: u32 = 0;      // structure block [S0, S1), offsets from B
export let S1: u32 = 0;
export let T0: u32 = 0;      // strings block [T0, T1)
export let T1: u32 = 0;
export let R0: u32 = 0;      // reservation map start
export let RSV_END: u32 = 0; // first block start after R0 (or TOTAL): the map's bound
export let VERSION: u32 = 0;
/** Offset (from B) of the last fault found. */
export let FAULT: u32 = 0;

const CTX_B = new StaticArray<usize>(2);
const CTX_W = new StaticArray<u32>(16);
/** Saves the open blob as context k (0 or 1). */
export function saveCtx(k: i32): void {
  const i = k & 1;
  CTX_B[i] = B;
  const o = i * 8;
  CTX_W[o] = TOTAL; CTX_W[o + 1] = S0; CTX_W[o + 2] = S1; CTX_W[o + 3] = T0; CTX_W[o + 4] = T1;
  CTX_W[o + 5] = R0; CTX_W[o + 6] = RSV_END; CTX_W[o + 7] = VERSION;
}
/** Makes context k the open blob again. */
export function useCtx(k: i32): void {
  const i = k & 1;
  B = CTX_B[i];
  const o = i * 8;
  TOTAL = CTX_W[o]; S0 = CTX_W[o + 1]; S1 = CTX_W[o + 2]; T0 = CTX_W[o + 3]; T1 = CTX_W[o + 4];
  R0 = CTX_W[o + 5]; RSV_END = CTX_W[o + 6]; VERSION = CTX_W[o + 7];
}

function fault(off: u32, st: i32): i32 { FAULT = off; return st; }

/** Checks the header of the blob at p (len bytes, already inside scratch) and opens it. O(1).
 *  Returns OK or a status with FAULT at the offending header field. */
export function openBlob(p: usize, len: usize): i32 {
  B = p; FAULT = 0;
  if (len < <usize>HDR_SIZE_V16) return fault(<u32>len, FDT_ERR_TRUNCATED);
  if (ld32be(p) != FDT_MAGIC) return fault(0, FDT_ERR_BAD_MAGIC);
  const version = ld32be(p + HDR_VERSION);
  if (version < 16) return fault(HDR_VERSION, FDT_ERR_BAD_VERSION);
  if (ld32be(p + HDR_LAST_COMP_VERSION) > 16) return fault(HDR_LAST_COMP_VERSION, FDT_ERR_BAD_VERSION);
  const hdr = version >= 17 ? HDR_SIZE_V17 : HDR_SIZE_V16;
  if (len < <usize>hdr) return fault(<u32>len, FDT_ERR_TRUNCATED);
  const total = ld32be(p + HDR_TOTALSIZE);
  if (<u64>total > <u64>len) return fault(HDR_TOTALSIZE, FDT_ERR_TRUNCATED);
  if (total < hdr) return fault(HDR_TOTALSIZE, FDT_ERR_BAD_LAYOUT);
  const os = ld32be(p + HDR_OFF_DT_STRUCT);
  const ot = ld32be(p + HDR_OFF_DT_STRINGS);
  const orv = ld32be(p + HDR_OFF_MEM_RSVMAP);
  const ts = ld32be(p + HDR_SIZE_DT_STRINGS);
  if (os < hdr || os > total || (os & 3) != 0) return fault(HDR_OFF_DT_STRUCT, FDT_ERR_BAD_LAYOUT);
  if (ot < hdr || ot > total) return fault(HDR_OFF_DT_STRINGS, FDT_ERR_BAD_LAYOUT);
  if (ts > total - ot) return fault(HDR_SIZE_DT_STRINGS, FDT_ERR_BAD_LAYOUT);
  let ss: u32;
  if (version >= 17) {
    ss = ld32be(p + HDR_SIZE_DT_STRUCT);
    if (ss > total - os) return fault(HDR_SIZE_DT_STRUCT, FDT_ERR_BAD_LAYOUT);
    // The two blocks may not overlap (an empty block overlaps nothing).
    if (ss != 0 && ts != 0 && <u64>os < <u64>ot + <u64>ts && <u64>ot < <u64>os + <u64>ss) return fault(HDR_OFF_DT_STRINGS, FDT_ERR_BAD_LAYOUT);
  } else {
    // Version 16 has no size_dt_struct: the block runs to the strings block or to totalsize.
    ss = (ot > os ? ot : total) - os;
  }
  if (orv < hdr || orv > total || (orv & 7) != 0) return fault(HDR_OFF_MEM_RSVMAP, FDT_ERR_BAD_LAYOUT);
  if ((orv >= os && orv - os < ss) || (orv >= ot && orv - ot < ts)) return fault(HDR_OFF_MEM_RSVMAP, FDT_ERR_BAD_LAYOUT);
  let rend = total;
  if (os > orv && os < rend) rend = os;
  if (ot > orv && ot < rend) rend = ot;
  TOTAL = total; S0 = os; S1 = os + ss; T0 = ot; T1 = ot + ts; R0 = orv; RSV_END = rend; VERSION = version;
  return OK;
}

/** Number of reservation entries before the (0, 0) terminator, or a status (FAULT set). */
export function rsvCount(): i32 {
  let off = R0;
  let n: i32 = 0;
  while (true) {
    if (RSV_END - off < FDT_RESERVE_ENTRY_SIZE) return fault(off, FDT_ERR_BAD_RSVMAP);
    if (ld32be(B + off) == 0 && ld32be(B + off + 4) == 0 && ld32be(B + off + 8) == 0 && ld32be(B + off + 12) == 0) return n;
    off += FDT_RESERVE_ENTRY_SIZE;
    n++;
  }
}

// ---------------------------------------------------------------- tokens
/** The decoded token: kind, the offset after it, and for BEGIN_NODE/PROP the name (offset from B,
 *  length without NUL) and for PROP the value. */
export let TOK: u32 = 0;
export let NEXT: u32 = 0;
export let NAME: u32 = 0;
export let NAMELEN: u32 = 0;
export let DATA: u32 = 0;
export let DATALEN: u32 = 0;

/** Where a name starting at p ends: the offset of its NUL, searched below end and within
 *  FDT_MAX_NAME bytes; NO_NUL when there is none there. */
const NO_NUL: u32 = 0xffff_ffff;
function nulWithin(p: u32, end: u32): u32 {
  let lim = end;
  if (lim - p > FDT_MAX_NAME) lim = p + FDT_MAX_NAME;
  for (let q = p; q < lim; q++) if (ld8(B + q) == 0) return q;
  return NO_NUL;
}

/** Decodes the token at off; OK, or a status with FAULT = off. Every byte read is inside the
 *  structure or strings block of the open blob. NEXT > off always, so walks terminate. */
export function token(off: u32): i32 {
  if (off < S0 || off > S1 || S1 - off < 4 || (off & 3) != 0) return fault(off, FDT_ERR_NO_END);
  TOK = ld32be(B + off);
  const p = off + 4;
  if (TOK == FDT_BEGIN_NODE) {
    const q = nulWithin(p, S1);
    if (q == NO_NUL) return fault(off, FDT_ERR_BAD_NAME);
    NAME = p; NAMELEN = q - p;
    NEXT = (q + 4) & ~3;   // past the NUL, aligned up
    return OK;
  }
  if (TOK == FDT_PROP) {
    if (S1 - p < 8) return fault(off, FDT_ERR_BAD_PROP);
    const dl = ld32be(B + p);
    const no = ld32be(B + p + 4);
    const d = p + 8;
    if (dl > S1 - d) return fault(off, FDT_ERR_BAD_PROP);
    if (no >= T1 - T0) return fault(off, FDT_ERR_BAD_STRING);
    const n0 = T0 + no;
    const q = nulWithin(n0, T1);
    if (q == NO_NUL) return fault(off, FDT_ERR_BAD_STRING);
    NAME = n0; NAMELEN = q - n0; DATA = d; DATALEN = dl;
    NEXT = (d + dl + 3) & ~3;
    return OK;
  }
  if (TOK == FDT_END_NODE || TOK == FDT_NOP || TOK == FDT_END) { NEXT = p; return OK; }
  return fault(off, FDT_ERR_BAD_TOKEN);
}

/** True when the last decoded name equals the ASCII string s. */
export function nameIs(s: string): bool {
  if (NAMELEN != <u32>s.length) return false;
  for (let i: u32 = 0; i < NAMELEN; i++) if (ld8(B + NAME + i) != <u32>s.charCodeAt(<i32>i)) return false;
  return true;
}

/** The last decoded PROP is "phandle" or "linux,phandle" with one cell. */
export function isPhandleProp(): bool {
  return DATALEN == 4 && (nameIs("phandle") || nameIs("linux,phandle"));
}

// ---------------------------------------------------------------- the walker
// Every walk of the structure that follows nesting goes through step(): it decodes the next token
// (token() bounds-checks it) and keeps the stack of open nodes, so that the nesting and depth
// faults are decided here once. A scan that ignores nesting (skipNops, nodeByCompatible) uses
// token() alone.
/** Offset of the token step() decoded last, and where the next step starts. */
let W_AT: u32 = 0;
let W_NEXT: u32 = 0;
/** Nodes open after the last step (a BEGIN_NODE counts itself); W_OPEN[W_DEPTH - 1] is the
 *  innermost one's offset. */
let W_DEPTH: i32 = 0;
const W_OPEN = new StaticArray<u32>(FDT_MAX_DEPTH + 1);

/** Starts a walk at off (no node open). */
function walkFrom(off: u32): void { W_NEXT = off; W_DEPTH = 0; }

/** Decodes the next token of the walk (TOK, NAME, DATA... as token() leaves them): a BEGIN_NODE
 *  opens a node (FDT_ERR_TOO_DEEP past FDT_MAX_DEPTH), an END_NODE closes one (FDT_ERR_BAD_NESTING
 *  when none is open). OK or a status with FAULT at the token. */
function step(): i32 {
  const off = W_NEXT;
  const st = token(off);
  if (st < 0) return st;
  W_AT = off; W_NEXT = NEXT;
  if (TOK == FDT_BEGIN_NODE) {
    if (W_DEPTH >= FDT_MAX_DEPTH) return fault(off, FDT_ERR_TOO_DEEP);
    W_OPEN[W_DEPTH] = off;
    W_DEPTH++;
  } else if (TOK == FDT_END_NODE) {
    if (W_DEPTH == 0) return fault(off, FDT_ERR_BAD_NESTING);
    W_DEPTH--;
  }
  return OK;
}

// ---------------------------------------------------------------- whole-blob validation
export let V_NODES: u32 = 0;
export let V_PROPS: u32 = 0;
export let V_DEPTH: u32 = 0;
export let V_MAXPH: u32 = 0;
export let V_RSV: u32 = 0;

/** Validates the blob at (p, len): header, reservation map, and every structure token (nesting,
 *  names, property bounds, depth, properties before subnodes, FDT_END). Leaves it open.
 *  OK, or the status of the first fault with FAULT at its offset. */
export function validate(p: usize, len: usize): i32 {
  let st = openBlob(p, len);
  if (st < 0) return st;
  st = rsvCount();
  if (st < 0) return st;
  V_RSV = <u32>st;
  V_NODES = 0; V_PROPS = 0; V_DEPTH = 0; V_MAXPH = 0;
  let seenRoot = false;
  let childSeen = false;   // the current node has had a subnode: no more properties
  walkFrom(S0);
  while (true) {
    st = step();
    if (st < 0) return st;
    if (TOK == FDT_BEGIN_NODE) {
      if (W_DEPTH == 1 && seenRoot) return fault(W_AT, FDT_ERR_BAD_NESTING);
      if (<u32>W_DEPTH > V_DEPTH) V_DEPTH = <u32>W_DEPTH;
      seenRoot = true;
      childSeen = false;
      V_NODES++;
    } else if (TOK == FDT_END_NODE) {
      childSeen = true;
    } else if (TOK == FDT_PROP) {
      if (W_DEPTH == 0 || childSeen) return fault(W_AT, FDT_ERR_BAD_NESTING);
      V_PROPS++;
      if (isPhandleProp()) {
        const v = ld32be(B + DATA);
        if (v > V_MAXPH && v != 0xffff_ffff) V_MAXPH = v;
      }
    } else if (TOK == FDT_END) {
      if (W_DEPTH != 0 || !seenRoot) return fault(W_AT, FDT_ERR_BAD_NESTING);
      return OK;
    }
  }
}

// ---------------------------------------------------------------- node navigation
/** OK when off is a BEGIN_NODE token of the open blob; ERR_BAD_ARG otherwise. Leaves it decoded. */
export function checkNode(off: i32): i32 {
  if (off < 0) return ERR_BAD_ARG;
  if (token(<u32>off) < 0 || TOK != FDT_BEGIN_NODE) return ERR_BAD_ARG;
  return OK;
}

/** Offset of the first token after `from` that is not NOP, or a status. */
function skipNops(from: u32): i32 {
  let off = from;
  while (true) {
    const st = token(off);
    if (st < 0) return st;
    if (TOK != FDT_NOP) return <i32>off;
    off = NEXT;
  }
}

/** Offset of the root node (NOPs may precede it), or a status. */
export function rootOffset(): i32 {
  const st = skipNops(S0);
  if (st < 0) return st;
  token(<u32>st);
  if (TOK != FDT_BEGIN_NODE) return fault(<u32>st, FDT_ERR_BAD_NESTING);
  return st;
}

/** Offset of the first token after the node's properties (its first subnode or END_NODE). */
function afterProps(node: u32): i32 {
  walkFrom(node);
  let st = step();
  if (st < 0) return st;
  while (true) {
    const off = W_NEXT;
    st = token(off);
    if (st < 0) return st;
    if (TOK != FDT_PROP && TOK != FDT_NOP) return <i32>off;
    W_NEXT = NEXT;
  }
}

/** Offset just past the node's END_NODE, or a status. */
export function subtreeEnd(node: u32): i32 {
  walkFrom(node);
  while (true) {
    const st = step();
    if (st < 0) return st;
    if (TOK == FDT_END_NODE && W_DEPTH == 0) return <i32>W_NEXT;
    if (TOK == FDT_END) return fault(W_AT, FDT_ERR_BAD_NESTING);
  }
}

/** First subnode of node, ERR_NOT_FOUND when it has none, or a status. */
export function firstSubnode(node: u32): i32 {
  let st = afterProps(node);
  if (st < 0) return st;
  return childAt(<u32>st);
}

/** What stands at `off` among a node's children: a subnode (its offset), the parent's end
 *  (ERR_NOT_FOUND), or a nesting fault. */
function childAt(off: u32): i32 {
  const st = token(off);
  if (st < 0) return st;
  if (TOK == FDT_BEGIN_NODE) return <i32>off;
  if (TOK == FDT_END_NODE) return ERR_NOT_FOUND;
  return fault(off, FDT_ERR_BAD_NESTING);
}

/** The sibling after node, ERR_NOT_FOUND when node is the last, or a status. */
export function nextSubnode(node: u32): i32 {
  let st = subtreeEnd(node);
  if (st < 0) return st;
  st = skipNops(<u32>st);
  if (st < 0) return st;
  return childAt(<u32>st);
}

/** First property of node (decoded on return), ERR_NOT_FOUND, or a status. */
export function firstProp(node: u32): i32 {
  let st = token(node);
  if (st < 0) return st;
  return propFrom(NEXT);
}
/** The property after prop (decoded on return), ERR_NOT_FOUND, or a status. */
export function nextProp(prop: u32): i32 {
  let st = token(prop);
  if (st < 0) return st;
  if (TOK != FDT_PROP) return ERR_BAD_ARG;
  return propFrom(NEXT);
}
function propFrom(from: u32): i32 {
  const st = skipNops(from);
  if (st < 0) return st;
  const off = <u32>st;
  const s2 = token(off);
  if (s2 < 0) return s2;
  return TOK == FDT_PROP ? <i32>off : ERR_NOT_FOUND;
}

/** The property of node named by the bytes (np, nl) (decoded on return), ERR_NOT_FOUND, or a status. */
export function getProp(node: u32, np: usize, nl: u32): i32 {
  let off = firstProp(node);
  while (off >= 0) {
    if (NAMELEN == nl && cmp(B + NAME, np, nl) == 0) return off;
    off = nextProp(<u32>off);
  }
  return off;
}
/** getProp with an ASCII name. */
export function getPropS(node: u32, s: string): i32 {
  let off = firstProp(node);
  while (off >= 0) {
    if (nameIs(s)) return off;
    off = nextProp(<u32>off);
  }
  return off;
}

/** Parent of node (ERR_NOT_FOUND for the root), or a status. One walk from the root. */
export function parentOf(node: u32): i32 {
  walkFrom(S0);
  while (true) {
    const st = step();
    if (st < 0) return st;
    if (TOK == FDT_BEGIN_NODE && W_AT == node) return W_DEPTH == 1 ? ERR_NOT_FOUND : <i32>W_OPEN[W_DEPTH - 2];
    if (TOK == FDT_END) return ERR_BAD_ARG;
    if (W_AT > node) return ERR_BAD_ARG;
  }
}

/** The child of node whose name matches (cp, cl) as libfdt does: the name itself, or name@unit
 *  when (cp, cl) has no '@'. First match in order; ERR_NOT_FOUND; or a status. */
export function childNamed(node: u32, cp: usize, cl: u32): i32 {
  let hasAt = false;
  for (let i: u32 = 0; i < cl; i++) if (ld8(cp + i) == 0x40) { hasAt = true; break; }
  let c = firstSubnode(node);
  while (c >= 0) {
    token(<u32>c);
    if (NAMELEN >= cl && cmp(B + NAME, cp, cl) == 0) {
      if (NAMELEN == cl) return c;
      if (!hasAt && ld8(B + NAME + cl) == 0x40) return c;
    }
    c = nextSubnode(<u32>c);
  }
  return c;
}

/** Node at an absolute path (pp, pl) in scratch: "/" or "/a/b@1". ERR_BAD_ARG when it does not
 *  start with '/'; ERR_NOT_FOUND; or a status. */
export function pathOffset(pp: usize, pl: u32): i32 {
  if (pl == 0 || ld8(pp) != 0x2f) return ERR_BAD_ARG;
  let node = rootOffset();
  if (node < 0) return node;
  let i: u32 = 0;
  while (i < pl) {
    while (i < pl && ld8(pp + i) == 0x2f) i++;
    if (i >= pl) break;
    let j = i;
    while (j < pl && ld8(pp + j) != 0x2f) j++;
    node = childNamed(<u32>node, pp + i, j - i);
    if (node < 0) return node;
    i = j;
  }
  return node;
}

/** Node whose phandle (or linux,phandle) is ph, ERR_NOT_FOUND, or a status. */
export function nodeByPhandle(ph: u32): i32 {
  walkFrom(S0);
  while (true) {
    const st = step();
    if (st < 0) return st;
    if (TOK == FDT_PROP && W_DEPTH > 0 && isPhandleProp() && ld32be(B + DATA) == ph) return <i32>W_OPEN[W_DEPTH - 1];
    if (TOK == FDT_END) return ERR_NOT_FOUND;
  }
}

/** 1 when node's compatible list holds exactly the bytes (cp, cl), 0 when not; a status on a fault. */
export function hasCompatible(node: u32, cp: usize, cl: u32): i32 {
  const st = getPropS(node, "compatible");
  if (st == ERR_NOT_FOUND) return 0;
  if (st < 0) return st;
  let i: u32 = 0;
  while (i < DATALEN) {
    let j = i;
    while (j < DATALEN && ld8(B + DATA + j) != 0) j++;
    if (j - i == cl && cmp(B + DATA + i, cp, cl) == 0) return 1;
    i = j + 1;
  }
  return 0;
}

/** The first node after `after` (-1: from the root, included) in structure order whose compatible
 *  list holds (cp, cl); ERR_NOT_FOUND; or a status. */
export function nodeByCompatible(after: i32, cp: usize, cl: u32): i32 {
  let off: u32;
  if (after < 0) off = S0;
  else {
    if (checkNode(after) < 0) return ERR_BAD_ARG;
    off = NEXT;
  }
  while (true) {
    let st = token(off);
    if (st < 0) return st;
    if (TOK == FDT_END) return ERR_NOT_FOUND;
    const next = NEXT;
    if (TOK == FDT_BEGIN_NODE) {
      st = hasCompatible(off, cp, cl);
      if (st < 0) return st;
      if (st == 1) return <i32>off;
    }
    off = next;
  }
}

/** One cells property of node: dflt when absent, FDT_ERR_BAD_CELLS when not one cell or above
 *  MAX_REG_CELLS. */
function cellsOf(node: u32, s: string, dflt: u32): i32 {
  const st = getPropS(node, s);
  if (st == ERR_NOT_FOUND) return <i32>dflt;
  if (st < 0) return st;
  if (DATALEN != 4) return fault(<u32>st, FDT_ERR_BAD_CELLS);
  const v = ld32be(B + DATA);
  if (v > MAX_REG_CELLS) return fault(<u32>st, FDT_ERR_BAD_CELLS);
  return <i32>v;
}

export let REG_AC: u32 = 0;
export let REG_SC: u32 = 0;
export let REG_ADDR: u64 = 0;
export let REG_SIZE: u64 = 0;

/** Entries in node's reg, with entry i decoded into REG_ADDR/REG_SIZE when i < count. The cells
 *  come from the parent (defaults 2/1; the root uses the defaults). ERR_NOT_FOUND without reg. */
export function regOf(node: u32, i: u32): i32 {
  let st = checkNode(<i32>node);
  if (st < 0) return st;
  st = parentOf(node);
  let ac = DEFAULT_ADDRESS_CELLS, sc = DEFAULT_SIZE_CELLS;
  if (st >= 0) {
    const parent = <u32>st;
    st = cellsOf(parent, "#address-cells", DEFAULT_ADDRESS_CELLS);
    if (st < 0) return st;
    ac = <u32>st;
    st = cellsOf(parent, "#size-cells", DEFAULT_SIZE_CELLS);
    if (st < 0) return st;
    sc = <u32>st;
  } else if (st != ERR_NOT_FOUND) return st;
  REG_AC = ac; REG_SC = sc; REG_ADDR = 0; REG_SIZE = 0;
  st = getPropS(node, "reg");
  if (st < 0) return st;
  const entry = (ac + sc) * 4;
  if (entry == 0) return DATALEN == 0 ? 0 : fault(<u32>st, FDT_ERR_BAD_CELLS);
  if (DATALEN % entry != 0) return fault(<u32>st, FDT_ERR_BAD_REG);
  const count = DATALEN / entry;
  if (i < count) {
    const p = B + DATA + i * entry;
    let a: u64 = 0;
    for (let k: u32 = 0; k < ac; k++) a = (a << 32) | <u64>ld32be(p + k * 4);
    let s: u64 = 0;
    for (let k: u32 = 0; k < sc; k++) s = (s << 32) | <u64>ld32be(p + (ac + k) * 4);
    REG_ADDR = a; REG_SIZE = s;
  }
  return <i32>count;
}

// ---------------------------------------------------------------- the index (one call, whole tree)
const IX_NODE = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const IX_AC = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const IX_SC = new StaticArray<u32>(FDT_MAX_DEPTH + 1);

export function indexBytes(): u32 { return V_NODES * INDEX_NODE_WORDS * 4 + V_PROPS * INDEX_PROP_WORDS * 4; }

/** Writes the index of a validated, open blob to out (indexBytes() bytes, u32 little-endian):
 *  V_NODES node records then V_PROPS property records (layout in docs/fdt.md). */
export function writeIndex(out: usize): i32 {
  const props = out + <usize>(V_NODES * INDEX_NODE_WORDS * 4);
  let n: u32 = 0, pi: u32 = 0;
  walkFrom(S0);
  while (true) {
    const st = step();
    if (st < 0) return st;
    const off = W_AT;
    if (TOK == FDT_BEGIN_NODE) {
      const depth = W_DEPTH - 1;   // of this node: its parent is open at depth - 1
      if (n >= V_NODES) return fault(off, FDT_ERR_BAD_NESTING);
      const r = out + <usize>(n * INDEX_NODE_WORDS * 4);
      st32le(r, off);
      st32le(r + 4, depth == 0 ? NO_PARENT : IX_NODE[depth - 1]);
      st32le(r + 8, <u32>depth);
      st32le(r + 12, NAME);
      st32le(r + 16, NAMELEN);
      st32le(r + 20, pi);
      st32le(r + 24, 0);
      const ac = depth == 0 ? DEFAULT_ADDRESS_CELLS : IX_AC[depth - 1];
      const sc = depth == 0 ? DEFAULT_SIZE_CELLS : IX_SC[depth - 1];
      st32le(r + 28, ac | (sc << 8));
      st32le(r + 32, 0);
      IX_NODE[depth] = n; IX_AC[depth] = DEFAULT_ADDRESS_CELLS; IX_SC[depth] = DEFAULT_SIZE_CELLS;
      n++;
    } else if (TOK == FDT_PROP) {
      const depth = W_DEPTH;
      if (depth == 0 || pi >= V_PROPS) return fault(off, FDT_ERR_BAD_NESTING);
      const q = props + <usize>(pi * INDEX_PROP_WORDS * 4);
      st32le(q, NAME); st32le(q + 4, NAMELEN); st32le(q + 8, DATA); st32le(q + 12, DATALEN);
      pi++;
      const r = out + <usize>(IX_NODE[depth - 1] * INDEX_NODE_WORDS * 4);
      st32le(r + 24, ld32le(r + 24) + 1);
      if (nameIs("#address-cells")) IX_AC[depth - 1] = cellValue();
      else if (nameIs("#size-cells")) IX_SC[depth - 1] = cellValue();
      else if (isPhandleProp()) st32le(r + 32, ld32be(B + DATA));
    } else if (TOK == FDT_END) {
      return OK;
    }
  }
}
function cellValue(): u32 {
  if (DATALEN != 4) return CELLS_INVALID;
  const v = ld32be(B + DATA);
  return v >= CELLS_INVALID ? CELLS_INVALID : v;
}

