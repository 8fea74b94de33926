// FDT merge: grafts the children of a subtree blob's root (a complete small DTB, typically built
// with the writer) under the node at parentPath of a base blob, writing a new blob to the caller's
// (out, cap). The base's bytes are copied unchanged around the insertion point (just before the
// parent's END_NODE, after its existing children); the subtree's tokens are copied with their
// property name offsets rewritten into the merged strings block (the base's strings block, then
// every subtree name the base lacks, once). Reservation maps are concatenated (base, then subtree).
//
// Refused, with nothing written that the caller may use:
//   - a malformed input: the reader's status, slot 0 = fault offset, slot 1 = 0 (base) / 1 (subtree);
//   - no node at parentPath: ERR_NOT_FOUND (ERR_BAD_ARG when the path does not start with '/');
//   - a subtree child named exactly like a child of the parent: FDT_ERR_NAME_CLASH (slot 0 = the
//     subtree child's offset);
//   - a phandle of the subtree already used in the base: FDT_ERR_PHANDLE_CLASH (slot 0 = phandle).
//     The caller allocates subtree phandles above fdt_max_phandle(base) to avoid it.
//   - out too small: ERR_NO_SPACE, slot 0 = the exact totalsize needed;
//   - out overlapping an input: ERR_BAD_ARG.
// Not responsible for: the subtree root's own properties (ignored: they only make the subtree a
// valid standalone blob), renumbering phandles, or fixing references between the trees.

import { ERR_BAD_ARG, ERR_NO_SPACE, ERR_NOT_FOUND } from "../status";
import { inScratch, setResult, ld8, st32be, copy, fill, cmp } from "../mem";
import {
  FDT_MAGIC, FDT_VERSION, FDT_LAST_COMP_VERSION, FDT_HEADER_SIZE, FDT_RESERVE_ENTRY_SIZE,
  FDT_BEGIN_NODE, FDT_PROP, HDR_MAGIC, HDR_TOTALSIZE, HDR_OFF_DT_STRUCT, HDR_OFF_DT_STRINGS,
  HDR_OFF_MEM_RSVMAP, HDR_VERSION, HDR_LAST_COMP_VERSION, HDR_BOOT_CPUID_PHYS, HDR_SIZE_DT_STRINGS,
  HDR_SIZE_DT_STRUCT,
} from "./format";
import {
  validate, saveCtx, useCtx, token, pathOffset, subtreeEnd, firstSubnode, nextSubnode, nodeByPhandle,
  isPhandleProp, rootOffset, B, S0, S1, T0, T1, R0, V_RSV, FAULT, TOK, NEXT, NAME, NAMELEN, DATA,
} from "./reader";
import { ld32be } from "../mem";
import { FDT_ERR_NAME_CLASH, FDT_ERR_PHANDLE_CLASH } from "./status-write";

const BASE = 0;
const SUB = 1;

function overlaps(a: usize, al: usize, b: usize, bl: usize): bool { return al != 0 && bl != 0 && a < b + bl && b < a + al; }

/** A reader status from input `which`, with the fault in slot 0 and the input in slot 1. */
function bad(st: i32, which: i32): i32 {
  if (st <= -100 && st > -150) { setResult(0, FAULT); setResult(1, which); }
  return st;
}

/** Offset (from start) of the string (np, nl) + NUL inside [start, start + len), also as the tail
 *  of a longer one; -1 when absent. */
function findTail(start: usize, len: u32, np: usize, nl: u32): i32 {
  if (nl + 1 > len) return -1;
  const last = len - nl - 1;
  for (let i: u32 = 0; i <= last; i++) if (ld8(start + i + nl) == 0 && cmp(start + i, np, nl) == 0) return <i32>i;
  return -1;
}
/** Offset of a whole string equal to (np, nl) among the NUL-terminated strings of [start, start + len). */
function findWhole(start: usize, len: u32, np: usize, nl: u32): i32 {
  let i: u32 = 0;
  while (i < len) {
    let j = i;
    while (j < len && ld8(start + j) != 0) j++;
    if (j - i == nl && cmp(start + i, np, nl) == 0) return <i32>i;
    i = j + 1;
  }
  return -1;
}

export function merge(bp: usize, bl: usize, sp: usize, sl: usize, pp: usize, pl: usize, out: usize, cap: usize): i32 {
  if (!inScratch(bp, bl) || !inScratch(sp, sl) || !inScratch(pp, pl) || !inScratch(out, cap)) return ERR_BAD_ARG;
  if (overlaps(out, cap, bp, bl) || overlaps(out, cap, sp, sl) || overlaps(out, cap, pp, pl)) return ERR_BAD_ARG;

  let st = validate(sp, sl);
  if (st < 0) return bad(st, SUB);
  const subRsv = V_RSV;
  saveCtx(SUB);
  st = validate(bp, bl);
  if (st < 0) return bad(st, BASE);
  const baseRsv = V_RSV;
  saveCtx(BASE);

  // Where the subtree goes: just before the parent's END_NODE.
  st = pathOffset(pp, <u32>pl);
  if (st < 0) return bad(st, BASE);
  const parent = <u32>st;
  st = subtreeEnd(parent);
  if (st < 0) return bad(st, BASE);
  const insertAt = <u32>st - 4;
  const bS0 = S0, bS1 = S1, bT0 = T0, bT1 = T1, bR0 = R0;
  const bB = B;

  // What goes there: the subtree root's children, from the first to the root's END_NODE.
  useCtx(SUB);
  st = rootOffset();
  if (st < 0) return bad(st, SUB);
  const sroot = <u32>st;
  st = subtreeEnd(sroot);
  if (st < 0) return bad(st, SUB);
  const kidsTo = <u32>st - 4;
  st = firstSubnode(sroot);
  if (st < 0 && st != ERR_NOT_FOUND) return bad(st, SUB);
  const kidsFrom = st < 0 ? kidsTo : <u32>st;

  // Name clashes with the parent's children.
  let c = st;
  while (c >= 0) {
    token(<u32>c);
    const cp = B + NAME, cl = NAMELEN;
    useCtx(BASE);
    let b = firstSubnode(parent);
    while (b >= 0) {
      token(<u32>b);
      if (NAMELEN == cl && cmp(B + NAME, cp, cl) == 0) { setResult(0, <u64>c); return FDT_ERR_NAME_CLASH; }
      b = nextSubnode(<u32>b);
    }
    if (b != ERR_NOT_FOUND) return bad(b, BASE);
    useCtx(SUB);
    c = nextSubnode(<u32>c);
  }
  if (c != ERR_NOT_FOUND) return bad(c, SUB);

  // Phandle clashes, and the strings the base lacks (counted once each).
  let added: u32 = 0;
  let off = kidsFrom;
  while (off < kidsTo) {
    st = token(off);
    if (st < 0) return bad(st, SUB);
    const next = NEXT;
    if (TOK == FDT_PROP) {
      const np = B + NAME, nl = NAMELEN;
      if (isPhandleProp()) {
        const v = ld32be(B + DATA);
        useCtx(BASE);
        const hit = nodeByPhandle(v);
        if (hit >= 0) { setResult(0, v); return FDT_ERR_PHANDLE_CLASH; }
        if (hit != ERR_NOT_FOUND) return bad(hit, BASE);
        useCtx(SUB);
      }
      if (findTail(bB + bT0, bT1 - bT0, np, nl) < 0 && !earlierName(kidsFrom, off, np, nl)) added += nl + 1;
      token(off);
    }
    off = next;
  }

  // Layout: header | reservation map | structure | strings.
  const rsvBytes = (baseRsv + subRsv + 1) * FDT_RESERVE_ENTRY_SIZE;
  const structOff = FDT_HEADER_SIZE + rsvBytes;
  const structBytes: u64 = <u64>(bS1 - bS0) + <u64>(kidsTo - kidsFrom);
  const strOff: u64 = <u64>structOff + structBytes;
  const baseStr = bT1 - bT0;
  const total: u64 = strOff + <u64>baseStr + <u64>added;
  if (total > <u64>cap) { setResult(0, total); return ERR_NO_SPACE; }

  useCtx(SUB);
  const sB = B, sR0 = R0;
  fill(out, 0, FDT_HEADER_SIZE);
  copy(out + FDT_HEADER_SIZE, bB + bR0, baseRsv * FDT_RESERVE_ENTRY_SIZE);
  copy(out + FDT_HEADER_SIZE + baseRsv * FDT_RESERVE_ENTRY_SIZE, sB + sR0, subRsv * FDT_RESERVE_ENTRY_SIZE);
  fill(out + structOff - FDT_RESERVE_ENTRY_SIZE, 0, FDT_RESERVE_ENTRY_SIZE);
  const head = insertAt - bS0;
  const kids = kidsTo - kidsFrom;
  copy(out + structOff, bB + bS0, head);
  copy(out + structOff + head, sB + kidsFrom, kids);
  copy(out + structOff + head + kids, bB + insertAt, bS1 - insertAt);
  const strs = out + <usize>strOff;
  copy(strs, bB + bT0, baseStr);

  // Rewrite the copied subtree's name offsets into the merged strings block.
  let appended: u32 = 0;
  off = kidsFrom;
  while (off < kidsTo) {
    st = token(off);
    if (st < 0) return bad(st, SUB);
    if (TOK == FDT_PROP) {
      const np = B + NAME, nl = NAMELEN;
      let at = findTail(strs, baseStr, np, nl);
      if (at < 0) {
        at = findWhole(strs + baseStr, appended, np, nl);
        if (at >= 0) at += <i32>baseStr;
        else {
          at = <i32>(baseStr + appended);
          copy(strs + <usize>at, np, nl);
          fill(strs + <usize>at + nl, 0, 1);
          appended += nl + 1;
        }
      }
      st32be(out + structOff + head + (off - kidsFrom) + 8, <u32>at);
    }
    off = NEXT;
  }

  st32be(out + HDR_MAGIC, FDT_MAGIC);
  st32be(out + HDR_TOTALSIZE, <u32>total);
  st32be(out + HDR_OFF_DT_STRUCT, structOff);
  st32be(out + HDR_OFF_DT_STRINGS, <u32>strOff);
  st32be(out + HDR_OFF_MEM_RSVMAP, FDT_HEADER_SIZE);
  st32be(out + HDR_VERSION, FDT_VERSION);
  st32be(out + HDR_LAST_COMP_VERSION, FDT_LAST_COMP_VERSION);
  st32be(out + HDR_BOOT_CPUID_PHYS, ld32be(bB + HDR_BOOT_CPUID_PHYS));
  st32be(out + HDR_SIZE_DT_STRINGS, baseStr + appended);
  st32be(out + HDR_SIZE_DT_STRUCT, <u32>structBytes);
  setResult(0, total);
  return <i32>total;
}

/** True when a PROP token of the open (subtree) blob in [from, before) is named (np, nl).
 *  Leaves the token decoder on an arbitrary token: callers re-decode. */
function earlierName(from: u32, before: u32, np: usize, nl: u32): bool {
  let off = from;
  while (off < before) {
    if (token(off) < 0) return false;
    const next = NEXT;
    if (TOK == FDT_PROP && NAMELEN == nl && cmp(B + NAME, np, nl) == 0) return true;
    off = next;
  }
  return false;
}
