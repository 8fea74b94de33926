// dtnode's view of the host DTB, through the fdt reader (assembly/fdt/reader.ts): validation with
// the reader's rules (once per call), the mapping of reader faults to DTNODE_ERR_BAD_DTB with the
// reader's status and fault offset in result slots, the cells of a node's parent, and the lookup
// of a node by its Linux device name.
// Not responsible for: the reader's rules (docs/fdt.md), or what the guest node holds (index.ts).

import { ERR_NOT_FOUND, ERR_NO_SPACE } from "../status";
import { setResult, ld8, ld32be, st8, copy, cmp } from "../mem";
import { FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_END, FDT_MAX_DEPTH } from "../fdt/format";
import { validate, token, parentOf, getPropS, nameIs, FAULT, B, S0, TOK, NEXT, NAME, NAMELEN, DATA, DATALEN } from "../fdt/reader";
import { DTNODE_ERR_BAD_DTB, DTNODE_ERR_NO_NODE } from "./status";

/** Result slots of a DTNODE_ERR_BAD_DTB the reader found: its fault offset (from the blob's first
 *  byte) and its own status (FDT_ERR_*, docs/fdt.md), as a negative number. */
export const SLOT_FAULT_OFFSET: i32 = 1;
export const SLOT_FAULT_STATUS: i32 = 2;

/** DTNODE_ERR_BAD_DTB for a reader status st (slots set for a reader fault, -100 .. -149). */
export function hostFault(st: i32): i32 {
  if (st <= -100 && st > -150) {
    setResult(SLOT_FAULT_OFFSET, <u64>FAULT);
    setResult(SLOT_FAULT_STATUS, <u64>(<i64>st));
  }
  return DTNODE_ERR_BAD_DTB;
}

/** Validates the host blob (dtb, len) (inside scratch) and leaves it open: 0 or DTNODE_ERR_BAD_DTB. */
export function openHost(dtb: usize, len: usize): i32 {
  const st = validate(dtb, len);
  return st < 0 ? hostFault(st) : 0;
}

/** Default cells of a node without #address-cells / #size-cells (devicetree spec 2.3.5). */
const DEFAULT_AC: u32 = 2;
const DEFAULT_SC: u32 = 1;
/** The cells of the last parentCells() node's parent. */
export let parentAc: u32 = DEFAULT_AC;
export let parentSc: u32 = DEFAULT_SC;

/** A cells property of node: its value when it is one cell, else dflt (not range-checked here). */
function cellsProp(node: u32, s: string, dflt: u32): u32 {
  const st = getPropS(node, s);
  return st >= 0 && DATALEN == 4 ? ld32be(B + DATA) : dflt;
}

/** Sets parentAc/parentSc to the cells of node's parent (the defaults for the root); 0 or BAD_DTB. */
export function parentCells(node: u32): i32 {
  parentAc = DEFAULT_AC; parentSc = DEFAULT_SC;
  const p = parentOf(node);
  if (p == ERR_NOT_FOUND) return 0;
  if (p < 0) return hostFault(p);
  parentAc = cellsProp(<u32>p, "#address-cells", DEFAULT_AC);
  parentSc = cellsProp(<u32>p, "#size-cells", DEFAULT_SC);
  return 0;
}

// The walk of findDevice: per depth, the node's name and its own #address-cells (for its children).
const NAME_OFF = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const NAME_LEN = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const CELLS_A = new StaticArray<u32>(FDT_MAX_DEPTH + 1);

/** Length of a node name before its '@' (the whole name when it has none). */
export function baseLength(np: usize, nl: u32): u32 {
  for (let k: u32 = 0; k < nl; k++) if (ld8(np + k) == 0x40) return k;
  return nl;
}

/** In the open, validated host blob: the first node in structure order, below the root, whose name
 *  before '@' is the bytes (bs, bl) and whose first reg address (in its parent's #address-cells,
 *  1 or 2) is addr. Writes its path ("/a/b@1") to (out, cap); returns its length.
 *  DTNODE_ERR_NO_NODE, ERR_NO_SPACE (slot 0 = bytes needed), DTNODE_ERR_BAD_DTB. */
export function findDevice(bs: usize, bl: u32, addr: u64, out: usize, cap: usize): i32 {
  let off = S0;
  let depth = -1;
  while (true) {
    let st = token(off);
    if (st < 0) return hostFault(st);
    if (TOK == FDT_BEGIN_NODE) {
      depth++;
      if (depth > FDT_MAX_DEPTH) return DTNODE_ERR_BAD_DTB;   // validation bounds it; a changed blob
      CELLS_A[depth] = DEFAULT_AC;
      NAME_OFF[depth] = NAME; NAME_LEN[depth] = NAMELEN;
      if (depth > 0 && baseLength(B + NAME, NAMELEN) == bl && cmp(B + NAME, bs, <usize>bl) == 0) {
        const node = off;
        const ac = CELLS_A[depth - 1];
        if (ac == 1 || ac == 2) {
          st = getPropS(node, "reg");
          if (st >= 0 && DATALEN >= ac * 4 && firstCells(DATA, ac) == addr) return writePath(depth, out, cap);
          if (st < 0 && st != ERR_NOT_FOUND) return hostFault(st);
        }
        st = token(node);   // restore the walk's token
        if (st < 0) return hostFault(st);
      }
    } else if (TOK == FDT_PROP) {
      if (depth < 0) return DTNODE_ERR_BAD_DTB;
      if (DATALEN == 4 && nameIs("#address-cells")) CELLS_A[depth] = ld32be(B + DATA);
    } else if (TOK == FDT_END_NODE) {
      depth--;
      if (depth < 0) return DTNODE_ERR_NO_NODE;
    } else if (TOK == FDT_END) {
      return DTNODE_ERR_NO_NODE;
    }
    off = NEXT;
  }
}

/** `cells` (1 or 2) big-endian cells at B + off. */
function firstCells(off: u32, cells: u32): u64 {
  if (cells == 1) return <u64>ld32be(B + off);
  return (<u64>ld32be(B + off) << 32) | <u64>ld32be(B + off + 4);
}

function writePath(depth: i32, out: usize, cap: usize): i32 {
  let need: usize = 0;
  for (let d = 1; d <= depth; d++) need += 1 + <usize>NAME_LEN[d];
  setResult(0, <u64>need);
  if (need > cap) return ERR_NO_SPACE;
  let p = out;
  for (let d = 1; d <= depth; d++) {
    st8(p, 0x2f); p++;
    copy(p, B + NAME_OFF[d], <usize>NAME_LEN[d]); p += <usize>NAME_LEN[d];
  }
  return <i32>need;
}
