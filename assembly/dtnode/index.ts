// Exports of the dtnode module, re-exported by assembly/index.ts. Names are prefixed "dtnode_".
// docs/placement-dtnode.md describes the ABI.
//
// Generates the guest's device-tree description of a passed-through platform/AMBA device from the
// host's own node: compatible strings, reg translated to the guest placement, interrupts as GIC
// SPI triples with the trigger from the VFIO IRQ flags, dma-coherent, and every referenced
// fixed-clock copied with a new phandle (AMBA devices need apb_pclk; QEMU never copied it).
//
// Output: a complete, standalone DTB in the caller's (out, cap) buffer:
//   / { #address-cells = <2>; #size-cells = <2>;
//       <copied clock nodes, each with a new phandle>
//       platform-bus@<base> { compatible = "qemu,platform", "simple-bus"; #address-cells = <2>;
//                             #size-cells = <2>; ranges;              (when busSize != 0; with
//                             other guest cells, ranges = <0 base size> and reg is relative)
//         <name>@<guest address> { ... } } }
// The VMM grafts it into its tree (the FDT merge of assembly/fdt, when it lands) or loads it as is.
//
// Interim: assembly/fdt/reader.ts and writer.ts did not exist yet when this was written, so the
// host DTB is read by a small private, bounds-checked walker below and the output is emitted by a
// private sequential writer. Both are meant to be replaced by the fdt module's functions.
//
// Not responsible for: choosing the placement (assembly/placement), or merging the result into the
// VMM's tree.

import { ERR_BAD_ARG, ERR_NO_SPACE } from "../status";
import { inScratch, clearResults, setResult, ld32be, ld8, ld32le, ld64le, st32be, st8, copy, fill, cmp } from "../mem";
import { FDT_MAGIC, FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP, FDT_END, FDT_MAX_DEPTH, FDT_HEADER_SIZE } from "../fdt/format";
import {
  DTNODE_ERR_BAD_DTB, DTNODE_ERR_NO_NODE, DTNODE_ERR_REG_COUNT, DTNODE_ERR_IRQ_COUNT,
  DTNODE_ERR_CLOCK, DTNODE_ERR_TOO_BIG, DTNODE_ERR_CELLS, DTNODE_ERR_NO_COMPATIBLE,
  DTNODE_ERR_MISSING_PROP,
} from "./status";

// ---------------------------------------------------------------- device-specific builders
// Where the generic node is not enough, a builder keyed by a compatible string adjusts it (QEMU's
// hw/arm/sysbus-fdt.c bindings, as decisions in a table; the first entry of the table that the
// host node's compatible list holds wins):
//   calxeda,hb-xgmac:      dma-coherent always; every interrupt level-high; clocks not copied.
//   amd,xgbe-seattle-v1a:  the combined XGBE/PHY node: exactly XGBE_REGS reg entries and exactly two
//                          clocks (DMA and PTP, both copied as fixed-clocks), plus the host
//                          properties of XGBE_PROPS (mandatory ones refused with MISSING_PROP).
const BUILDER_GENERIC: i32 = 0;
const BUILDER_XGMAC: i32 = 1;
const BUILDER_XGBE: i32 = 2;
const BUILDER_COMPAT: StaticArray<string> = ["calxeda,hb-xgmac", "amd,xgbe-seattle-v1a"];
const BUILDER_KIND: StaticArray<i32> = [BUILDER_XGMAC, BUILDER_XGBE];
/** The Seattle XGBE node combines MAC, PCS and two SerDes ranges: five reg entries. */
const XGBE_REGS: i32 = 5;
const XGBE_CLOCKS: u32 = 2;
const XGBE_PROPS: StaticArray<string> = [
  "amd,per-channel-interrupt", "phy-mode", "mac-address", "amd,speed-set", "amd,serdes-blwc",
  "amd,serdes-cdr-rate", "amd,serdes-pq-skew", "amd,serdes-tx-amp", "amd,serdes-dfe-tap-config",
  "amd,serdes-dfe-tap-enable",
];
const XGBE_PROP_MANDATORY: StaticArray<bool> = [false, true, false, true, false, false, false, false, false, false];

/** The builder for a node: the first of its compatible strings found in BUILDER_COMPAT. */
function builderOf(node: u32): i32 {
  for (let i = 0; i < BUILDER_COMPAT.length; i++) if (compatibleHas(node, BUILDER_COMPAT[i])) return BUILDER_KIND[i];
  return BUILDER_GENERIC;
}

/** Interrupt lines of one device: vfio-platform devices have a handful (xgbe has 7). */
const MAX_IRQS: i32 = 64;
/** Register ranges of one device. */
const MAX_REGS: i32 = 32;
/** Distinct clocks one device references. */
const MAX_CLOCKS: i32 = 8;
/** Bytes of the generated structure and strings blocks (a node and its clocks are far smaller). */
const MAX_OUT_STRUCT: i32 = 16384;
const MAX_OUT_STRINGS: i32 = 2048;
/** Path components accepted (the same bound as the nesting depth). */
const MAX_PATH_PARTS: i32 = FDT_MAX_DEPTH;

const VFIO_IRQ_INFO_AUTOMASKED: u32 = 1 << 2;
const GIC_SPI: u32 = 0;
const IRQ_TYPE_EDGE_RISING: u32 = 1;
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;

// ---------------------------------------------------------------- host DTB walker (interim)
let D: usize = 0;        // dtb pointer
let S0: u32 = 0;         // struct block [S0, S1) relative to D
let S1: u32 = 0;
let T0: u32 = 0;         // strings block [T0, T1)
let T1: u32 = 0;
let badAt: u32 = 0;

/** Validates the header; returns 0 or DTNODE_ERR_BAD_DTB. */
function openDtb(p: usize, len: usize): i32 {
  D = p;
  if (len < <usize>FDT_HEADER_SIZE || ld32be(p) != FDT_MAGIC) return DTNODE_ERR_BAD_DTB;
  const total = <u64>ld32be(p + 4);
  if (total > <u64>len) return DTNODE_ERR_BAD_DTB;
  const os = <u64>ld32be(p + 8), ot = <u64>ld32be(p + 12);
  const ss = <u64>ld32be(p + 36), ts = <u64>ld32be(p + 32);
  if (os + ss > total || ot + ts > total || (os & 3) != 0) return DTNODE_ERR_BAD_DTB;
  S0 = <u32>os; S1 = <u32>(os + ss); T0 = <u32>ot; T1 = <u32>(ot + ts);
  return 0;
}

// Token decoding state: the token at `off`; next() moves on. Values of the last token:
let tok: u32 = 0;
let tokNext: u32 = 0;    // offset of the following token
let nameOff: u32 = 0;    // BEGIN_NODE: name offset; PROP: name offset in strings block (absolute)
let nameLen: u32 = 0;
let dataOff: u32 = 0;    // PROP data
let dataLen: u32 = 0;

/** Decodes the token at off; false (badAt set) when it leaves the struct block. */
function token(off: u32): bool {
  badAt = off;
  if (off < S0 || off > S1 || S1 - off < 4 || (off & 3) != 0) return false;
  tok = ld32be(D + off);
  let p = off + 4;
  if (tok == FDT_BEGIN_NODE) {
    nameOff = p;
    while (true) {
      if (p >= S1) return false;
      if (ld8(D + p) == 0) break;
      p++;
    }
    nameLen = p - nameOff;
    tokNext = (p + 1 + 3) & ~3;
    return tokNext <= S1;
  }
  if (tok == FDT_PROP) {
    if (S1 - p < 8) return false;
    dataLen = ld32be(D + p);
    const no = ld32be(D + p + 4);
    dataOff = p + 8;
    if (dataLen > S1 - dataOff) return false;
    if (no >= T1 - T0) return false;
    nameOff = T0 + no;
    let q = nameOff;
    while (true) {
      if (q >= T1) return false;
      if (ld8(D + q) == 0) break;
      q++;
    }
    nameLen = q - nameOff;
    tokNext = (dataOff + dataLen + 3) & ~3;
    return tokNext <= S1;
  }
  if (tok == FDT_END_NODE || tok == FDT_NOP || tok == FDT_END) { tokNext = p; return true; }
  return false;
}

/** Is the last token's name equal to the literal? */
function nameIs(lit: string): bool {
  if (<u32>lit.length != nameLen) return false;
  for (let i = 0; i < lit.length; i++) if (ld8(D + nameOff + <u32>i) != <u32>lit.charCodeAt(i)) return false;
  return true;
}

// Found-property state (findProp).
let propOff: u32 = 0;
let propLen: u32 = 0;

/** Looks for property `name` among the properties of the node whose BEGIN_NODE is at `node`.
 *  1 found, 0 absent, DTNODE_ERR_BAD_DTB. */
function findProp(node: u32, name: string): i32 {
  if (!token(node) || tok != FDT_BEGIN_NODE) return DTNODE_ERR_BAD_DTB;
  let off = tokNext;
  while (true) {
    if (!token(off)) return DTNODE_ERR_BAD_DTB;
    if (tok == FDT_PROP) {
      if (nameIs(name)) { propOff = dataOff; propLen = dataLen; return 1; }
    } else if (tok != FDT_NOP) return 0;
    off = tokNext;
  }
}

/** u32 property value or `dflt` when absent (or not 4 bytes). */
function propU32(node: u32, name: string, dflt: u32): u32 {
  const r = findProp(node, name);
  if (r != 1 || propLen != 4) return dflt;
  return ld32be(D + propOff);
}

/** Does the node's compatible list hold `lit`? */
function compatibleHas(node: u32, lit: string): bool {
  if (findProp(node, "compatible") != 1) return false;
  let s = propOff;
  const end = propOff + propLen;
  while (s < end) {
    let e = s;
    while (e < end && ld8(D + e) != 0) e++;
    if (e - s == <u32>lit.length) {
      let eq = true;
      for (let i = 0; i < lit.length; i++) if (ld8(D + s + <u32>i) != <u32>lit.charCodeAt(i)) { eq = false; break; }
      if (eq) return true;
    }
    s = e + 1;
  }
  return false;
}

// Path components: [PART_START[i], PART_END[i]) in the path buffer.
const PART_START = new StaticArray<usize>(MAX_PATH_PARTS);
const PART_END = new StaticArray<usize>(MAX_PATH_PARTS);
const CELLS_A = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const CELLS_S = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
let parentAc: u32 = 2;
let parentSc: u32 = 1;

/** Does the node name at nameOff match path part i (exactly, or up to '@' when the part has none)? */
function partMatches(path: usize, i: i32): bool {
  const ps = PART_START[i], pe = PART_END[i];
  const pl = <u32>(pe - ps);
  let hasAt = false;
  for (let k: usize = ps; k < pe; k++) if (ld8(path + k) == 0x40) hasAt = true;
  let cmpLen = nameLen;
  if (!hasAt) {
    for (let k: u32 = 0; k < nameLen; k++) if (ld8(D + nameOff + k) == 0x40) { cmpLen = k; break; }
  }
  if (cmpLen != pl) return false;
  return cmp(D + nameOff, path + ps, <usize>pl) == 0;
}

/** Offset of the node at `path` (absolute, "/a/b"), with parentAc/parentSc set to its parent's
 *  cells. DTNODE_ERR_NO_NODE, DTNODE_ERR_BAD_DTB, ERR_BAD_ARG (path not absolute or too deep). */
function findPath(path: usize, len: usize): i32 {
  if (len == 0 || ld8(path) != 0x2f) return ERR_BAD_ARG;
  let n = 0;
  let i: usize = 1;
  while (i < len) {
    let j = i;
    while (j < len && ld8(path + j) != 0x2f) j++;
    if (j > i) {
      if (n >= MAX_PATH_PARTS) return ERR_BAD_ARG;
      PART_START[n] = i; PART_END[n] = j; n++;
    }
    i = j + 1;
  }
  let off = S0;
  let depth = -1;      // depth of the current node (root = 0)
  let matched = 0;     // path parts matched by the current chain of ancestors
  while (true) {
    if (!token(off)) return DTNODE_ERR_BAD_DTB;
    if (tok == FDT_BEGIN_NODE) {
      depth++;
      if (depth > FDT_MAX_DEPTH) return DTNODE_ERR_BAD_DTB;
      CELLS_A[depth] = 2; CELLS_S[depth] = 1;
      if (depth == 0) {
        if (n == 0) { parentAc = 2; parentSc = 1; return <i32>off; }
      } else if (matched == depth - 1 && partMatches(path, depth - 1)) {
        matched = depth;
        if (matched == n) {
          parentAc = CELLS_A[depth - 1]; parentSc = CELLS_S[depth - 1];
          return <i32>off;
        }
      }
    } else if (tok == FDT_PROP) {
      if (depth < 0) return DTNODE_ERR_BAD_DTB;
      if (dataLen == 4 && nameIs("#address-cells")) CELLS_A[depth] = ld32be(D + dataOff);
      else if (dataLen == 4 && nameIs("#size-cells")) CELLS_S[depth] = ld32be(D + dataOff);
    } else if (tok == FDT_END_NODE) {
      if (depth < 0) return DTNODE_ERR_BAD_DTB;
      if (matched >= depth) matched = depth - 1;
      if (matched < 0) matched = 0;
      depth--;
      if (depth < 0) return DTNODE_ERR_NO_NODE;
    } else if (tok == FDT_END) {
      return DTNODE_ERR_NO_NODE;
    }
    off = tokNext;
  }
}

/** Offset of the node whose phandle (or linux,phandle) is ph; DTNODE_ERR_NO_NODE, BAD_DTB. */
function findPhandle(ph: u32): i32 {
  let off = S0;
  let node: u32 = 0;
  let depth = 0;
  while (true) {
    if (!token(off)) return DTNODE_ERR_BAD_DTB;
    if (tok == FDT_BEGIN_NODE) { node = off; depth++; if (depth > FDT_MAX_DEPTH + 1) return DTNODE_ERR_BAD_DTB; }
    else if (tok == FDT_PROP) {
      if (dataLen == 4 && (nameIs("phandle") || nameIs("linux,phandle")) && ld32be(D + dataOff) == ph) return <i32>node;
    } else if (tok == FDT_END_NODE) { depth--; if (depth < 0) return DTNODE_ERR_BAD_DTB; }
    else if (tok == FDT_END) return DTNODE_ERR_NO_NODE;
    off = tokNext;
  }
}

// ---------------------------------------------------------------- output writer (interim)
const OS: usize = memory.data(MAX_OUT_STRUCT, 8);
const OT: usize = memory.data(MAX_OUT_STRINGS, 8);
let os: i32 = 0;
let ot: i32 = 0;
let tooBig = false;

function room(n: i32): bool {
  if (tooBig || n > MAX_OUT_STRUCT - os) { tooBig = true; return false; }
  return true;
}
function w32(v: u32): void { if (room(4)) { st32be(OS + <usize>os, v); os += 4; } }
function wBytes(src: usize, n: i32): void {
  const padded = (n + 3) & ~3;
  if (!room(padded)) return;
  copy(OS + <usize>os, src, <usize>n);
  fill(OS + <usize>os + <usize>n, 0, <usize>(padded - n));
  os += padded;
}

/** Offset of the literal in the strings block (added once). */
function strOff(lit: string): u32 {
  const n = lit.length;
  let i = 0;
  while (i < ot) {
    let e = i;
    while (ld8(OT + <usize>e) != 0) e++;
    if (e - i == n) {
      let eq = true;
      for (let k = 0; k < n; k++) if (ld8(OT + <usize>(i + k)) != <u32>lit.charCodeAt(k)) { eq = false; break; }
      if (eq) return <u32>i;
    }
    i = e + 1;
  }
  if (n + 1 > MAX_OUT_STRINGS - ot) { tooBig = true; return 0; }
  const at = ot;
  for (let k = 0; k < n; k++) st8(OT + <usize>(ot + k), <u32>lit.charCodeAt(k));
  st8(OT + <usize>(ot + n), 0);
  ot += n + 1;
  return <u32>at;
}

/** Same, for a name in the host DTB. */
function strOffHost(p: usize, n: i32): u32 {
  let i = 0;
  while (i < ot) {
    let e = i;
    while (ld8(OT + <usize>e) != 0) e++;
    if (e - i == n && cmp(OT + <usize>i, p, <usize>n) == 0) return <u32>i;
    i = e + 1;
  }
  if (n + 1 > MAX_OUT_STRINGS - ot) { tooBig = true; return 0; }
  const at = ot;
  copy(OT + <usize>ot, p, <usize>n);
  st8(OT + <usize>(ot + n), 0);
  ot += n + 1;
  return <u32>at;
}

function propHead(name: string, len: i32): void { w32(FDT_PROP); w32(<u32>len); w32(strOff(name)); }
function propCopy(name: string, src: usize, len: i32): void { propHead(name, len); wBytes(src, len); }
function propWord(name: string, v: u32): void { propHead(name, 4); w32(v); }
function propEmpty(name: string): void { propHead(name, 0); }
function beginLit(name: string): void {
  w32(FDT_BEGIN_NODE);
  const n = name.length;
  const padded = (n + 1 + 3) & ~3;
  if (!room(padded)) return;
  for (let k = 0; k < n; k++) st8(OS + <usize>(os + k), <u32>name.charCodeAt(k));
  fill(OS + <usize>(os + n), 0, <usize>(padded - n));
  os += padded;
}
/** BEGIN_NODE with the host name's base (before '@') and a hex unit address. */
function beginUnit(base: usize, baseLen: i32, lit: string, unit: u64, withUnit: bool): void {
  w32(FDT_BEGIN_NODE);
  if (!room(baseLen + lit.length + 18 + 4)) return;
  let p = os;
  copy(OS + <usize>p, base, <usize>baseLen); p += baseLen;
  for (let k = 0; k < lit.length; k++) { st8(OS + <usize>p, <u32>lit.charCodeAt(k)); p++; }
  if (withUnit) {
    st8(OS + <usize>p, 0x40); p++;
    let digits = 1;
    let v = unit >> 4;
    while (v != 0) { digits++; v >>= 4; }
    for (let k = digits - 1; k >= 0; k--) {
      const d = <u32>((unit >> (<u64>k * 4)) & 0xf);
      st8(OS + <usize>p, d < 10 ? 0x30 + d : 0x57 + d); p++;
    }
  }
  st8(OS + <usize>p, 0); p++;
  while ((p & 3) != 0) { st8(OS + <usize>p, 0); p++; }
  os = p;
}
function endNode(): void { w32(FDT_END_NODE); }

/** Writes cells (1 or 2) of v; false when v does not fit. */
function wCells(v: u64, cells: u32): bool {
  if (cells == 1) { if (v > 0xffff_ffff) return false; w32(<u32>v); return true; }
  w32(<u32>(v >> 32)); w32(<u32>v);
  return true;
}

/** Reads `cells` (1 or 2) big-endian cells at D+off. */
function rCells(off: u32, cells: u32): u64 {
  if (cells == 1) return <u64>ld32be(D + off);
  return (<u64>ld32be(D + off) << 32) | <u64>ld32be(D + off + 4);
}

// Clock mapping: host phandle -> host node offset, new phandle.
const CLK_HOST = new StaticArray<u32>(MAX_CLOCKS);
const CLK_NODE = new StaticArray<u32>(MAX_CLOCKS);
let nClk = 0;

/** Copies a clock provider node: its name, every property but phandle, then the new phandle. */
function copyClockNode(node: u32, newPh: u32): i32 {
  if (!token(node)) return DTNODE_ERR_BAD_DTB;
  const nm = D + nameOff;
  const nl = <i32>nameLen;
  w32(FDT_BEGIN_NODE);
  wBytes(nm, nl);
  if ((nl & 3) == 0) w32(0);   // wBytes pads with NULs; a name filling its words needs one more
  let off = tokNext;
  while (true) {
    if (!token(off)) return DTNODE_ERR_BAD_DTB;
    if (tok == FDT_PROP) {
      if (!nameIs("phandle") && !nameIs("linux,phandle")) {
        const sOff = strOffHost(D + nameOff, <i32>nameLen);
        const dOff = dataOff, dLen = dataLen;
        w32(FDT_PROP); w32(dLen); w32(sOff); wBytes(D + dOff, <i32>dLen);
      }
    } else if (tok != FDT_NOP) break;
    off = tokNext;
  }
  propWord("phandle", newPh);
  endNode();
  return 0;
}

/** Generates the guest DTB for the host node at `path` (see the header for its shape).
 *  regs: nRegs u64 LE guest addresses, one per host reg entry; spis: nIrqs u32 LE SPI numbers
 *  (INTID - 32); flags: nIrqs u32 LE VFIO IRQ info flags (AUTOMASKED -> level-high, else
 *  edge-rising). busBase/busSize: the platform-bus node to emit (busSize 0: none, the device goes
 *  at the root). guestAc/guestSc (1 or 2): the cells of the device's guest parent; reg values are
 *  absolute for a generated 2/2 bus (empty ranges), relative to busBase for a generated bus with
 *  other cells (its ranges maps 0 to busBase), and relative to regBase when busSize is 0 (the
 *  VMM's own bus). intc: the guest GIC's phandle, written as interrupt-parent on the generated
 *  bus (or on the device when there is none); 0: none (inherited from the guest root). firstPhandle: the first phandle free in the guest tree.
 *  Returns the DTB size; result slots 0 = size, 1 = phandles used, 2 = reg entries, 3 = clocks
 *  copied, 4 = builder (0 generic, 1 calxeda,hb-xgmac, 2 amd,xgbe-seattle-v1a).
 *  ERR_BAD_ARG (buffers outside scratch), ERR_NO_SPACE (slot 0: size needed),
 *  DTNODE_ERR_BAD_DTB, DTNODE_ERR_NO_NODE, DTNODE_ERR_NO_COMPATIBLE, DTNODE_ERR_REG_COUNT,
 *  DTNODE_ERR_IRQ_COUNT, DTNODE_ERR_CLOCK, DTNODE_ERR_CELLS, DTNODE_ERR_TOO_BIG,
 *  DTNODE_ERR_MISSING_PROP (a builder's mandatory property). */
export function dtnode_generate(
  dtb: usize, dtbLen: usize, path: usize, pathLen: usize,
  regs: usize, nRegs: i32, spis: usize, flags: usize, nIrqs: i32,
  busBase: u64, busSize: u64, guestAc: u32, guestSc: u32, regBase: u64, intc: u32,
  firstPhandle: u32, out: usize, cap: usize,
): i32 {
  clearResults();
  if (nRegs < 0 || nRegs > MAX_REGS || nIrqs < 0) return ERR_BAD_ARG;
  if (nIrqs > MAX_IRQS) return DTNODE_ERR_IRQ_COUNT;
  if (!inScratch(dtb, dtbLen) || !inScratch(path, pathLen) || !inScratch(out, cap)) return ERR_BAD_ARG;
  if (!inScratch(regs, <usize>nRegs * 8) || !inScratch(spis, <usize>nIrqs * 4) || !inScratch(flags, <usize>nIrqs * 4)) return ERR_BAD_ARG;
  let st = openDtb(dtb, dtbLen);
  if (st < 0) return st;
  const node = findPath(path, pathLen);
  if (node < 0) return node;
  const hac = parentAc, hsc = parentSc;
  if (hac < 1 || hac > 2 || hsc > 2) return DTNODE_ERR_CELLS;
  if (guestAc < 1 || guestAc > 2 || guestSc < 1 || guestSc > 2) return ERR_BAD_ARG;
  const gac = guestAc, gsc = guestSc;
  // Guest reg values are relative to `rel`: 0 for a generated 2/2 bus (empty ranges), the bus base
  // for a generated bus with other cells (ranges maps 0 to it), regBase for the VMM's own bus.
  const identityBus = busSize != 0 && gac == 2 && gsc == 2;
  const rel: u64 = busSize == 0 ? regBase : identityBus ? 0 : busBase;

  // reg: host entries -> guest addresses, host sizes.
  let nReg = 0;
  let regOff: u32 = 0;
  const entry = (hac + hsc) * 4;
  if (findProp(<u32>node, "reg") == 1) {
    if (propLen % entry != 0) return DTNODE_ERR_BAD_DTB;
    nReg = <i32>(propLen / entry);
    regOff = propOff;
    if (nReg > MAX_REGS) return DTNODE_ERR_TOO_BIG;
    if (nReg > nRegs) return DTNODE_ERR_REG_COUNT;
  }

  // clocks: each phandle must name a fixed-clock (#clock-cells 0).
  nClk = 0;
  let clkOff: u32 = 0, clkLen: u32 = 0;
  if (findProp(<u32>node, "clocks") == 1) {
    clkOff = propOff; clkLen = propLen;
    if ((clkLen & 3) != 0) return DTNODE_ERR_BAD_DTB;
    for (let o: u32 = 0; o < clkLen; o += 4) {
      const ph = ld32be(D + clkOff + o);
      let known = false;
      for (let k = 0; k < nClk; k++) if (CLK_HOST[k] == ph) known = true;
      if (known) continue;
      const cn = findPhandle(ph);
      if (cn < 0) return cn == DTNODE_ERR_NO_NODE ? DTNODE_ERR_CLOCK : cn;
      if (!compatibleHas(<u32>cn, "fixed-clock") || propU32(<u32>cn, "#clock-cells", 0) != 0) return DTNODE_ERR_CLOCK;
      if (nClk >= MAX_CLOCKS) return DTNODE_ERR_TOO_BIG;
      CLK_HOST[nClk] = ph; CLK_NODE[nClk] = <u32>cn; nClk++;
    }
  }

  const builder = builderOf(<u32>node);
  if (builder == BUILDER_XGBE) {
    if (nReg != XGBE_REGS) return DTNODE_ERR_REG_COUNT;
    if (clkLen != XGBE_CLOCKS * 4) return DTNODE_ERR_CLOCK;
    for (let i = 0; i < XGBE_PROPS.length; i++) {
      if (XGBE_PROP_MANDATORY[i] && findProp(<u32>node, XGBE_PROPS[i]) != 1) return DTNODE_ERR_MISSING_PROP;
    }
    if (findProp(<u32>node, "clock-names") != 1) return DTNODE_ERR_MISSING_PROP;
  }
  if (builder == BUILDER_XGMAC) { nClk = 0; clkLen = 0; }

  // emit
  os = 0; ot = 0; tooBig = false;
  beginLit("");
  propWord("#address-cells", 2);
  propWord("#size-cells", 2);
  for (let k = 0; k < nClk; k++) {
    st = copyClockNode(CLK_NODE[k], firstPhandle + <u32>k);
    if (st < 0) return st;
  }
  if (busSize != 0) {
    beginUnit(0, 0, "platform-bus", busBase, true);
    propCopy("compatible", BUS_COMPAT, BUS_COMPAT_LEN);
    propWord("#address-cells", gac);
    propWord("#size-cells", gsc);
    if (identityBus) propEmpty("ranges");
    else {
      // ranges = <child 0 (gac cells), parent busBase (2 cells), length busSize (gsc cells)>
      propHead("ranges", <i32>(gac + 2 + gsc) * 4);
      wCells(0, gac); wCells(busBase, 2);
      if (!wCells(busSize, gsc)) return DTNODE_ERR_CELLS;
    }
  }
  if (intc != 0 && busSize != 0) propWord("interrupt-parent", intc);
  // device node: host name before '@', then the guest address of its first region
  if (!token(<u32>node)) return DTNODE_ERR_BAD_DTB;
  let baseLen = <i32>nameLen;
  for (let k: u32 = 0; k < nameLen; k++) if (ld8(D + nameOff + k) == 0x40) { baseLen = <i32>k; break; }
  const first: u64 = nReg > 0 ? ld64le(regs) : 0;
  if (nReg > 0 && first < rel) return DTNODE_ERR_CELLS;
  beginUnit(D + nameOff, baseLen, "", first - rel, nReg > 0);
  if (findProp(<u32>node, "compatible") != 1) return DTNODE_ERR_NO_COMPATIBLE;
  propCopy("compatible", D + propOff, <i32>propLen);
  if (intc != 0 && busSize == 0) propWord("interrupt-parent", intc);
  if (nReg > 0) {
    propHead("reg", nReg * <i32>(gac + gsc) * 4);
    for (let r = 0; r < nReg; r++) {
      const size = hsc == 0 ? <u64>0 : rCells(regOff + <u32>r * entry + hac * 4, hsc);
      const a = ld64le(regs + <usize>r * 8);
      if (a < rel || !wCells(a - rel, gac) || !wCells(size, gsc)) return DTNODE_ERR_CELLS;
    }
  }
  if (nIrqs > 0) {
    propHead("interrupts", nIrqs * 12);
    for (let q = 0; q < nIrqs; q++) {
      const f = ld32le(flags + <usize>q * 4);
      w32(GIC_SPI);
      w32(ld32le(spis + <usize>q * 4));
      const level = builder == BUILDER_XGMAC || (f & VFIO_IRQ_INFO_AUTOMASKED) != 0;
      w32(level ? IRQ_TYPE_LEVEL_HIGH : IRQ_TYPE_EDGE_RISING);
    }
  }
  if (builder == BUILDER_XGMAC || findProp(<u32>node, "dma-coherent") == 1) propEmpty("dma-coherent");
  if (builder == BUILDER_XGBE) {
    for (let i = 0; i < XGBE_PROPS.length; i++) {
      if (findProp(<u32>node, XGBE_PROPS[i]) == 1) propCopy(XGBE_PROPS[i], D + propOff, <i32>propLen);
    }
  }
  if (clkLen > 0) {
    propHead("clocks", <i32>clkLen);
    for (let o: u32 = 0; o < clkLen; o += 4) {
      const ph = ld32be(D + clkOff + o);
      let k = 0;
      while (k < nClk && CLK_HOST[k] != ph) k++;
      w32(firstPhandle + <u32>k);
    }
    if (findProp(<u32>node, "clock-names") == 1) propCopy("clock-names", D + propOff, <i32>propLen);
  }
  endNode();
  if (busSize != 0) endNode();
  endNode();
  w32(FDT_END);
  if (tooBig) return DTNODE_ERR_TOO_BIG;

  // assemble: header | reserve map (one empty entry) | struct | strings
  const offRsv: u32 = 40;
  const offStruct: u32 = offRsv + 16;
  const offStrings: u32 = offStruct + <u32>os;
  const total: u32 = offStrings + <u32>ot;
  if (<usize>total > cap) { setResult(0, <u64>total); return ERR_NO_SPACE; }
  st32be(out, FDT_MAGIC);
  st32be(out + 4, total);
  st32be(out + 8, offStruct);
  st32be(out + 12, offStrings);
  st32be(out + 16, offRsv);
  st32be(out + 20, 17);
  st32be(out + 24, 16);
  st32be(out + 28, 0);
  st32be(out + 32, <u32>ot);
  st32be(out + 36, <u32>os);
  fill(out + offRsv, 0, 16);
  copy(out + offStruct, OS, <usize>os);
  copy(out + offStrings, OT, <usize>ot);
  setResult(0, <u64>total);
  setResult(1, <u64>nClk);
  setResult(2, <u64>nReg);
  setResult(3, <u64>nClk);
  setResult(4, <u64>builder);
  return <i32>total;
}

const BUS_COMPAT_LEN: i32 = 25;   // "qemu,platform\0simple-bus\0"
const BUS_COMPAT: usize = memory.data<u8>([
  0x71, 0x65, 0x6d, 0x75, 0x2c, 0x70, 0x6c, 0x61, 0x74, 0x66, 0x6f, 0x72, 0x6d, 0x00,
  0x73, 0x69, 0x6d, 0x70, 0x6c, 0x65, 0x2d, 0x62, 0x75, 0x73, 0x00,
]);

const NAME_OFF = new StaticArray<u32>(FDT_MAX_DEPTH + 1);
const NAME_LEN = new StaticArray<u32>(FDT_MAX_DEPTH + 1);

/** Parses hex digits [p, p+n); false when empty, not hex, or beyond 64 bits. */
let hexVal: u64 = 0;
function parseHex(p: usize, n: usize): bool {
  if (n == 0 || n > 16) return false;
  let v: u64 = 0;
  for (let i: usize = 0; i < n; i++) {
    const c = ld8(p + i);
    let d: u32 = 0;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return false;
    v = (v << 4) | <u64>d;
  }
  hexVal = v;
  return true;
}

/** Finds the host node of a Linux platform/AMBA device name "<hex address>.<node name>" (as in
 *  /sys/bus/platform/devices, e.g. "9010000.pl031"): the node whose name before '@' is <node name>
 *  and whose first reg address (in its parent's cells) is <hex address>. Writes the node's path
 *  into (out, cap); returns its length. ERR_BAD_ARG (buffers, a name without '.' or with a bad hex
 *  address), DTNODE_ERR_NO_NODE, DTNODE_ERR_BAD_DTB, ERR_NO_SPACE (slot 0: bytes needed). */
export function dtnode_find_device(dtb: usize, dtbLen: usize, name: usize, nameLen_: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(dtb, dtbLen) || !inScratch(name, nameLen_) || !inScratch(out, cap)) return ERR_BAD_ARG;
  let dot: usize = 0;
  while (dot < nameLen_ && ld8(name + dot) != 0x2e) dot++;
  if (dot >= nameLen_ || !parseHex(name, dot)) return ERR_BAD_ARG;
  const want = hexVal;
  const bs = name + dot + 1;
  const bl = <u32>(nameLen_ - dot - 1);
  const st = openDtb(dtb, dtbLen);
  if (st < 0) return st;
  let off = S0;
  let depth = -1;
  while (true) {
    if (!token(off)) return DTNODE_ERR_BAD_DTB;
    if (tok == FDT_BEGIN_NODE) {
      depth++;
      if (depth > FDT_MAX_DEPTH) return DTNODE_ERR_BAD_DTB;
      CELLS_A[depth] = 2; CELLS_S[depth] = 1;
      NAME_OFF[depth] = nameOff; NAME_LEN[depth] = nameLen;
      let base = nameLen;
      for (let k: u32 = 0; k < nameLen; k++) if (ld8(D + nameOff + k) == 0x40) { base = k; break; }
      if (depth > 0 && base == bl && cmp(D + nameOff, bs, <usize>bl) == 0) {
        const node = off;
        const ac = CELLS_A[depth - 1];
        if ((ac == 1 || ac == 2) && findProp(node, "reg") == 1 && propLen >= ac * 4 && rCells(propOff, ac) == want) {
          let need: usize = 0;
          for (let d = 1; d <= depth; d++) need += 1 + <usize>NAME_LEN[d];
          if (need > cap) { setResult(0, <u64>need); return ERR_NO_SPACE; }
          let p = out;
          for (let d = 1; d <= depth; d++) {
            st8(p, 0x2f); p++;
            copy(p, D + NAME_OFF[d], <usize>NAME_LEN[d]); p += <usize>NAME_LEN[d];
          }
          setResult(0, <u64>need);
          return <i32>need;
        }
        if (!token(node)) return DTNODE_ERR_BAD_DTB;   // restore the walk's token state
      }
    } else if (tok == FDT_PROP) {
      if (depth < 0) return DTNODE_ERR_BAD_DTB;
      if (dataLen == 4 && nameIs("#address-cells")) CELLS_A[depth] = ld32be(D + dataOff);
      else if (dataLen == 4 && nameIs("#size-cells")) CELLS_S[depth] = ld32be(D + dataOff);
    } else if (tok == FDT_END_NODE) {
      depth--;
      if (depth < 0) return DTNODE_ERR_NO_NODE;
    } else if (tok == FDT_END) {
      return DTNODE_ERR_NO_NODE;
    }
    off = tokNext;
  }
}
