// Exports of the FDT reader (prefix fdt_), re-exported through fdt/index.ts. docs/fdt.md is the
// reference. Every export takes the blob as (ptr, len) in scratch; a host validates once with
// fdt_check (or fdt_index) and then queries with the same (ptr, len): a query re-reads the header
// only and bounds-checks every token it touches, so it is cheap and never reads outside the blob.
// Node/property offsets are byte offsets from the blob's first byte. On a fault, result slot 0
// holds its offset. Not responsible for: keeping the blob in scratch between calls (the host's).

import { OK, ERR_BAD_ARG, ERR_NOT_FOUND, ERR_NO_SPACE } from "../status";
import { inScratch, clearResults, setResult, ld32be } from "../mem";
import { FDT_RESERVE_ENTRY_SIZE, HDR_BOOT_CPUID_PHYS } from "./format";
import {
  openBlob, validate, rsvCount, checkNode, firstSubnode, nextSubnode, firstProp, nextProp,
  getProp, parentOf, pathOffset, nodeByPhandle, nodeByCompatible, regOf, indexBytes, writeIndex,
  B, TOTAL, S0, S1, T0, T1, R0, VERSION, FAULT, NAME, NAMELEN, DATA, DATALEN,
  V_NODES, V_PROPS, V_DEPTH, V_MAXPH, V_RSV, REG_ADDR, REG_SIZE, REG_AC, REG_SC,
  INDEX_NODE_WORDS, INDEX_PROP_WORDS,
} from "./reader";

/** Common prologue: blob inside scratch, header sane. */
function open(ptr: usize, len: usize): i32 {
  clearResults();
  if (!inScratch(ptr, len)) return ERR_BAD_ARG;
  return done(openBlob(ptr, len));
}
/** Puts the fault offset in slot 0 for reader faults. */
function done(st: i32): i32 {
  if (st <= -100 && st > -150) setResult(0, <u64>FAULT);
  return st;
}

/** Validates the whole blob (docs/fdt.md, "Validation"). OK; results 0 = totalsize, 1 = nodes,
 *  2 = properties, 3 = deepest nesting, 4 = max phandle (0: none), 5 = version,
 *  6 = reservation entries, 7 = boot_cpuid_phys, 8/9 = structure block offset/size,
 *  10/11 = strings block offset/size. A fault: its status, slot 0 = its byte offset. */
export function fdt_check(ptr: usize, len: usize): i32 {
  clearResults();
  if (!inScratch(ptr, len)) return ERR_BAD_ARG;
  const st = validate(ptr, len);
  if (st < 0) return done(st);
  setResult(0, TOTAL); setResult(1, V_NODES); setResult(2, V_PROPS); setResult(3, V_DEPTH);
  setResult(4, V_MAXPH); setResult(5, VERSION); setResult(6, V_RSV); setResult(7, ld32be(B + HDR_BOOT_CPUID_PHYS));
  setResult(8, S0); setResult(9, S1 - S0); setResult(10, T0); setResult(11, T1 - T0);
  return OK;
}

/** The largest phandle of a valid blob in slot 0 (0 when none): a subtree to merge allocates its
 *  phandles above it. Validation statuses as fdt_check. */
export function fdt_max_phandle(ptr: usize, len: usize): i32 {
  clearResults();
  if (!inScratch(ptr, len)) return ERR_BAD_ARG;
  const st = validate(ptr, len);
  if (st < 0) return done(st);
  setResult(0, V_MAXPH);
  return OK;
}

/** Validates the blob and writes its index to (out, cap): node records then property records,
 *  u32 little-endian (docs/fdt.md). Returns the node count; results 0 = bytes written, 1 = nodes,
 *  2 = properties, 3 = words per node record, 4 = words per property record, 5 = max phandle,
 *  6 = version, 7 = reservation entries, 8 = boot_cpuid_phys, 9 = totalsize. ERR_NO_SPACE with
 *  slot 0 = bytes needed; ERR_BAD_ARG when out leaves scratch or overlaps the blob. */
export function fdt_index(ptr: usize, len: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(ptr, len) || !inScratch(out, cap)) return ERR_BAD_ARG;
  if (out < ptr + len && ptr < out + cap) return ERR_BAD_ARG;
  let st = validate(ptr, len);
  if (st < 0) return done(st);
  const need = indexBytes();
  if (<usize>need > cap) { setResult(0, need); return ERR_NO_SPACE; }
  st = writeIndex(out);
  if (st < 0) return done(st);
  setResult(0, need); setResult(1, V_NODES); setResult(2, V_PROPS);
  setResult(3, INDEX_NODE_WORDS); setResult(4, INDEX_PROP_WORDS); setResult(5, V_MAXPH);
  setResult(6, VERSION); setResult(7, V_RSV); setResult(8, ld32be(B + HDR_BOOT_CPUID_PHYS)); setResult(9, TOTAL);
  return <i32>V_NODES;
}

/** Reservation entry i: OK with slot 0 = address, 1 = size; ERR_NOT_FOUND past the last one. */
export function fdt_rsv_entry(ptr: usize, len: usize, i: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  st = rsvCount();
  if (st < 0) return done(st);
  if (i < 0 || i >= st) return ERR_NOT_FOUND;
  const p = B + R0 + <usize>i * FDT_RESERVE_ENTRY_SIZE;
  setResult(0, (<u64>ld32be(p) << 32) | ld32be(p + 4));
  setResult(1, (<u64>ld32be(p + 8) << 32) | ld32be(p + 12));
  return OK;
}

/** Node at an absolute path (path bytes (pp, pl) in scratch, no NUL needed): its offset.
 *  ERR_BAD_ARG (path not starting with '/'), ERR_NOT_FOUND, or a reader status. */
export function fdt_path_offset(ptr: usize, len: usize, pp: usize, pl: usize): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (!inScratch(pp, pl)) return ERR_BAD_ARG;
  return done(pathOffset(pp, <u32>pl));
}

/** Node with phandle (or linux,phandle) ph: its offset; ERR_NOT_FOUND; or a reader status. */
export function fdt_node_by_phandle(ptr: usize, len: usize, ph: u32): i32 {
  const st = open(ptr, len);
  if (st < 0) return st;
  return done(nodeByPhandle(ph));
}

/** Next node after `after` (-1: from the root) whose compatible list holds the string (cp, cl):
 *  its offset; ERR_NOT_FOUND; ERR_BAD_ARG when after is not a node; or a reader status. */
export function fdt_node_by_compatible(ptr: usize, len: usize, after: i32, cp: usize, cl: usize): i32 {
  const st = open(ptr, len);
  if (st < 0) return st;
  if (!inScratch(cp, cl)) return ERR_BAD_ARG;
  return done(nodeByCompatible(after, cp, <u32>cl));
}

/** First subnode of node: its offset; ERR_NOT_FOUND; ERR_BAD_ARG when node is not a node. */
export function fdt_first_subnode(ptr: usize, len: usize, node: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  return done(firstSubnode(<u32>node));
}

/** The next sibling of node: its offset; ERR_NOT_FOUND; ERR_BAD_ARG. */
export function fdt_next_subnode(ptr: usize, len: usize, node: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  return done(nextSubnode(<u32>node));
}

/** Parent of node: its offset; ERR_NOT_FOUND for the root; ERR_BAD_ARG. */
export function fdt_parent(ptr: usize, len: usize, node: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  return done(parentOf(<u32>node));
}

/** Name of node (with its unit address): returns its length; slot 0 = offset of its first byte. */
export function fdt_node_name(ptr: usize, len: usize, node: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  setResult(0, NAME);
  return <i32>NAMELEN;
}

function propResults(off: i32): i32 {
  if (off < 0) return done(off);
  setResult(0, NAME); setResult(1, NAMELEN); setResult(2, DATA); setResult(3, DATALEN);
  return off;
}

/** First property of node: its offset; slots 0/1 = name offset/length, 2/3 = value offset/length.
 *  ERR_NOT_FOUND when it has none; ERR_BAD_ARG. */
export function fdt_first_prop(ptr: usize, len: usize, node: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  return propResults(firstProp(<u32>node));
}

/** The property after prop, with the slots of fdt_first_prop; ERR_NOT_FOUND; ERR_BAD_ARG. */
export function fdt_next_prop(ptr: usize, len: usize, prop: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (prop < 0) return ERR_BAD_ARG;
  return propResults(nextProp(<u32>prop));
}

/** Property of node named (np, nl): its offset, with the slots of fdt_first_prop; ERR_NOT_FOUND. */
export function fdt_get_prop(ptr: usize, len: usize, node: i32, np: usize, nl: usize): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (!inScratch(np, nl)) return ERR_BAD_ARG;
  if (checkNode(node) < 0) return ERR_BAD_ARG;
  return propResults(getProp(<u32>node, np, <u32>nl));
}

/** reg of node under its parent's #address-cells/#size-cells (defaults 2/1, at most 2 each):
 *  returns the entry count; when i < count, slot 0 = address and 1 = size of entry i; slots 2/3 =
 *  the address/size cells used. ERR_NOT_FOUND without reg; FDT_ERR_BAD_CELLS; FDT_ERR_BAD_REG. */
export function fdt_reg(ptr: usize, len: usize, node: i32, i: i32): i32 {
  let st = open(ptr, len);
  if (st < 0) return st;
  if (node < 0 || i < 0) return ERR_BAD_ARG;
  st = regOf(<u32>node, <u32>i);
  if (st < 0) return done(st);
  setResult(0, REG_ADDR); setResult(1, REG_SIZE); setResult(2, REG_AC); setResult(3, REG_SC);
  return st;
}

