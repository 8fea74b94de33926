// The dtnode module: the guest node generator. Its exports (prefixed "dtnode_") are listed by ./index.ts.
// docs/placement-dtnode.md describes the ABI.
//
// Generates the guest's device-tree description of a passed-through platform/AMBA device from the
// host's own node: compatible strings, reg translated to the guest placement, interrupts as GIC
// SPI triples with the trigger from the VFIO IRQ flags, dma-coherent, and every referenced
// fixed-clock copied with a new phandle (clocks.ts), adjusted by a device-specific builder
// (builders.ts).
//
// Output: a complete, standalone DTB in the caller's (out, cap) buffer:
//   / { #address-cells = <2>; #size-cells = <2>;
//       <copied clock nodes, each with a new phandle>
//       platform-bus@<base> { compatible = "qemu,platform", "simple-bus"; #address-cells = <2>;
//                             #size-cells = <2>; ranges;              (when busSize != 0; with
//                             other guest cells, ranges = <0 base size> and reg is relative)
//         <name>@<guest address> { ... } } }
// The VMM grafts it into its tree (fdt_merge) or loads it as is.
//
// How: the host DTB is validated once with the fdt reader's rules and read with its queries
// (host.ts); every decision that can refuse the request is taken before anything is written; then
// the tree is written by the fdt writer on a handle opened on (out, cap) (emit.ts), closed before
// return on every path. When (out, cap) is too small, the same tree is written once more into a
// static measuring buffer the size of the output bounds, to report the exact size needed (or
// DTNODE_ERR_TOO_BIG past the bounds).
//
// Not responsible for: choosing the placement (assembly/placement), or merging the result into the
// VMM's tree.

import { ERR_BAD_ARG, ERR_NO_SPACE, ERR_NOT_FOUND, ERR_INTERNAL } from "../status";
import { inScratch, clearResults, setResult, ld8, ld32be, ld32le, ld64le, st32be } from "../mem";
import { FDT_HEADER_SIZE, FDT_RESERVE_ENTRY_SIZE, HDR_SIZE_DT_STRUCT, HDR_SIZE_DT_STRINGS } from "../fdt/format";
import { pathOffset, getPropS, token, B, NAME, NAMELEN, DATA, DATALEN } from "../fdt/reader";
import { create, createIn, close, finish } from "../fdt/writer";
import {
  DTNODE_ERR_BAD_DTB, DTNODE_ERR_NO_NODE, DTNODE_ERR_REG_COUNT, DTNODE_ERR_IRQ_COUNT,
  DTNODE_ERR_TOO_BIG, DTNODE_ERR_CELLS, DTNODE_ERR_NO_COMPATIBLE,
} from "./status";
import { openHost, hostFault, parentCells, parentAc, parentSc, baseLength, findDevice } from "./host";
import { collectClocks, dropClocks, emitClocks, guestPhandle, nClocks } from "./clocks";
import { BUILDER_XGMAC, BUILDER_XGBE, builderOf, xgbeCheck, xgbeEmit } from "./builders";
import {
  emitTo, emitStatus, beginBytes, beginUnit, end, prop, propCopy, propWord, propEmpty, putCells, fitsCells,
} from "./emit";
import { VFIO_IRQ_INFO_AUTOMASKED } from "../vfio/uapi";

/** Interrupt lines of one device: vfio-platform devices have a handful (xgbe has 7). */
const MAX_IRQS: i32 = 64;
/** Register ranges of one device. */
const MAX_REGS: i32 = 32;
/** Bytes of the generated structure and strings blocks (a node and its clocks are far smaller). */
const MAX_OUT_STRUCT: u32 = 16384;
const MAX_OUT_STRINGS: u32 = 2048;
/** The measuring buffer: the largest output within the bounds (the writer's header, reservation
 *  terminator, structure and strings). */
const MEASURE_CAP: u32 = FDT_HEADER_SIZE + FDT_RESERVE_ENTRY_SIZE + MAX_OUT_STRUCT + MAX_OUT_STRINGS;
const MEASURE = memory.data(<i32>MEASURE_CAP, 8);

const GIC_SPI: u32 = 0;
const IRQ_TYPE_EDGE_RISING: u32 = 1;
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;

const BUS_COMPAT_LEN: u32 = 25;   // "qemu,platform\0simple-bus\0"
const BUS_COMPAT: usize = memory.data<u8>([
  0x71, 0x65, 0x6d, 0x75, 0x2c, 0x70, 0x6c, 0x61, 0x74, 0x66, 0x6f, 0x72, 0x6d, 0x00,
  0x73, 0x69, 0x6d, 0x70, 0x6c, 0x65, 0x2d, 0x62, 0x75, 0x73, 0x00,
]);

// ---------------------------------------------------------------- the plan
// What dtnode_generate decided before writing: the host node and its properties (offsets in the
// open host blob), the cells, and the caller's placement.
let node: u32 = 0;
let hac: u32 = 2, hsc: u32 = 1;       // host parent cells
let gac: u32 = 2, gsc: u32 = 2;       // guest parent cells
let rel: u64 = 0;                     // guest reg values are relative to it
let identityBus = false;              // a generated 2/2 bus: `ranges;`, absolute reg
let nReg: i32 = 0;
let regsGiven: i32 = 0;               // guest addresses the caller gave (nRegs)
let regOff: u32 = 0;                  // host reg value
let clkOff: u32 = 0, clkLen: u32 = 0; // host clocks value (clkLen 0: none written)
let builder: i32 = 0;
let regs: usize = 0, spis: usize = 0, flags: usize = 0, nIrqs: i32 = 0;
/** Largest usable phandle + 1: 0xffffffff is reserved. */
const PHANDLE_MAX: u64 = 0xffffffff;
let busBase: u64 = 0, busSize: u64 = 0, intc: u32 = 0, firstPhandle: u32 = 0;

function overlaps(a: usize, al: usize, b: usize, bl: usize): bool { return al != 0 && bl != 0 && a < b + bl && b < a + al; }

/** 1 when the host node has property s (decoded), 0 when not, or DTNODE_ERR_BAD_DTB. */
function hostProp(s: string): i32 {
  const st = getPropS(node, s);
  if (st == ERR_NOT_FOUND) return 0;
  return st < 0 ? hostFault(st) : 1;
}

/** The size of host reg entry r (its hsc cells after hac address cells). */
function hostRegSize(r: i32): u64 {
  const p = B + regOff + <u32>r * (hac + hsc) * 4 + hac * 4;
  if (hsc == 0) return 0;
  if (hsc == 1) return <u64>ld32be(p);
  return (<u64>ld32be(p) << 32) | <u64>ld32be(p + 4);
}

/** Every refusal that depends on values rather than on space, in the order the generator has
 *  always checked them. 0 or a status. */
function decide(): i32 {
  let st = parentCells(node);
  if (st < 0) return st;
  hac = parentAc; hsc = parentSc;
  if (hac < 1 || hac > 2 || hsc > 2) return DTNODE_ERR_CELLS;
  if (gac < 1 || gac > 2 || gsc < 1 || gsc > 2) return ERR_BAD_ARG;
  // Guest reg values are relative to `rel`: 0 for a generated 2/2 bus (empty ranges), the bus base
  // for a generated bus with other cells (ranges maps 0 to it), regBase for the VMM's own bus.
  identityBus = busSize != 0 && gac == 2 && gsc == 2;
  if (busSize != 0) rel = identityBus ? 0 : busBase;

  // reg: host entries -> guest addresses, host sizes.
  nReg = 0; regOff = 0;
  st = hostProp("reg");
  if (st < 0) return st;
  if (st == 1) {
    const entry = (hac + hsc) * 4;
    if (DATALEN % entry != 0) return DTNODE_ERR_BAD_DTB;
    if (DATALEN / entry > <u32>MAX_REGS) return DTNODE_ERR_TOO_BIG;
    nReg = <i32>(DATALEN / entry);
    regOff = DATA;
    if (nReg > regsGiven) return DTNODE_ERR_REG_COUNT;
  }

  // clocks: each phandle must name a fixed-clock (#clock-cells 0).
  clkOff = 0; clkLen = 0; dropClocks();
  st = hostProp("clocks");
  if (st < 0) return st;
  if (st == 1) {
    clkOff = DATA; clkLen = DATALEN;
    st = collectClocks(clkOff, clkLen);
    if (st < 0) return st;
  }

  builder = builderOf(node);
  if (builder < 0) return builder;
  if (builder == BUILDER_XGBE) {
    st = xgbeCheck(node, nReg, clkLen);
    if (st < 0) return st;
  }
  if (builder == BUILDER_XGMAC) { dropClocks(); clkLen = 0; }

  if (busSize != 0 && !identityBus && !fitsCells(busSize, gsc)) return DTNODE_ERR_CELLS;
  if (nReg > 0 && ld64le(regs) < rel) return DTNODE_ERR_CELLS;
  st = hostProp("compatible");
  if (st < 0) return st;
  if (st == 0) return DTNODE_ERR_NO_COMPATIBLE;
  for (let r = 0; r < nReg; r++) {
    const a = ld64le(regs + <usize>r * 8);
    if (a < rel || !fitsCells(a - rel, gac) || !fitsCells(hostRegSize(r), gsc)) return DTNODE_ERR_CELLS;
  }
  return 0;
}

/** Writes the planned tree to the open writer h and finishes it: its totalsize, ERR_NO_SPACE,
 *  DTNODE_ERR_BAD_DTB (a host name the writer refuses), or ERR_INTERNAL. Closes h. */
function build(h: i32): i32 {
  if (h < 0) return h;   // ERR_NO_SPACE (cap below the writer's MIN_BUFFER), ERR_LIMIT
  emitTo(h);
  let st = emitTree();
  if (st >= 0) st = emitStatus();
  if (st >= 0) {
    st = finish(h);
    if (st < 0) st = ERR_INTERNAL;   // FDT_ERR_W_CORRUPT: dtnode wrote outside a property value
  }
  close(h);
  return st;
}

function emitTree(): i32 {
  beginBytes(0, 0);
  propWord("#address-cells", 2);
  propWord("#size-cells", 2);
  let st = emitClocks(firstPhandle);
  if (st < 0) return st;
  if (busSize != 0) {
    beginUnit(0, 0, "platform-bus", busBase, true);
    propCopy("compatible", BUS_COMPAT, BUS_COMPAT_LEN);
    propWord("#address-cells", gac);
    propWord("#size-cells", gsc);
    if (identityBus) propEmpty("ranges");
    else {
      // ranges = <child 0 (gac cells), parent busBase (2 cells), length busSize (gsc cells)>
      let p = prop("ranges", (gac + 2 + gsc) * 4);
      if (p != 0) { p += putCells(p, 0, gac); p += putCells(p, busBase, 2); putCells(p, busSize, gsc); }
    }
    if (intc != 0) propWord("interrupt-parent", intc);
  }
  // device node: host name before '@', then the guest address of its first region
  st = token(node);
  if (st < 0) return hostFault(st);
  const first: u64 = nReg > 0 ? ld64le(regs) : 0;
  beginUnit(B + NAME, <i32>baseLength(B + NAME, NAMELEN), "", first - rel, nReg > 0);
  st = hostProp("compatible");
  if (st <= 0) return st < 0 ? st : DTNODE_ERR_NO_COMPATIBLE;
  propCopy("compatible", B + DATA, DATALEN);
  if (intc != 0 && busSize == 0) propWord("interrupt-parent", intc);
  if (nReg > 0) {
    let p = prop("reg", <u32>nReg * (gac + gsc) * 4);
    for (let r = 0; p != 0 && r < nReg; r++) {
      p += putCells(p, ld64le(regs + <usize>r * 8) - rel, gac);
      p += putCells(p, hostRegSize(r), gsc);
    }
  }
  if (nIrqs > 0) {
    const p = prop("interrupts", <u32>nIrqs * 12);
    for (let q = 0; p != 0 && q < nIrqs; q++) {
      const f = ld32le(flags + <usize>q * 4);
      const level = builder == BUILDER_XGMAC || (f & VFIO_IRQ_INFO_AUTOMASKED) != 0;
      const o = p + <usize>q * 12;
      st32be(o, GIC_SPI);
      st32be(o + 4, ld32le(spis + <usize>q * 4));
      st32be(o + 8, level ? IRQ_TYPE_LEVEL_HIGH : IRQ_TYPE_EDGE_RISING);
    }
  }
  st = builder == BUILDER_XGMAC ? 1 : hostProp("dma-coherent");
  if (st < 0) return st;
  if (st == 1) propEmpty("dma-coherent");
  if (builder == BUILDER_XGBE) {
    st = xgbeEmit(node);
    if (st < 0) return st;
  }
  if (clkLen > 0) {
    const p = prop("clocks", clkLen);
    for (let o: u32 = 0; p != 0 && o < clkLen; o += 4) st32be(p + o, guestPhandle(ld32be(B + clkOff + o), firstPhandle));
    st = hostProp("clock-names");
    if (st < 0) return st;
    if (st == 1) propCopy("clock-names", B + DATA, DATALEN);
  }
  end();
  if (busSize != 0) end();
  end();
  return 0;
}

/** The finished blob at p exceeds MAX_OUT_STRUCT or MAX_OUT_STRINGS. */
function tooBig(p: usize): bool {
  return ld32be(p + HDR_SIZE_DT_STRUCT) > MAX_OUT_STRUCT || ld32be(p + HDR_SIZE_DT_STRINGS) > MAX_OUT_STRINGS;
}

/** Generates the guest DTB for the host node at `path` (see the header for its shape).
 *  regs: nRegs u64 LE guest addresses, one per host reg entry; spis: nIrqs u32 LE SPI numbers
 *  (INTID - 32); flags: nIrqs u32 LE VFIO IRQ info flags (AUTOMASKED -> level-high, else
 *  edge-rising). busBase/busSize: the platform-bus node to emit (busSize 0: none, the device goes
 *  at the root). guestAc/guestSc (1 or 2): the cells of the device's guest parent; reg values are
 *  absolute for a generated 2/2 bus (empty ranges), relative to busBase for a generated bus with
 *  other cells (its ranges maps 0 to busBase), and relative to regBase when busSize is 0 (the
 *  VMM's own bus). intc: the guest GIC's phandle, written as interrupt-parent on the generated
 *  bus (or on the device when there is none); 0: none (inherited from the guest root).
 *  firstPhandle: the first phandle free in the guest tree (ERR_BAD_ARG when clocks are copied and
 *  firstPhandle is 0 or the range would reach the reserved 0xffffffff).
 *  Returns the DTB size; result slots 0 = size, 1 = phandles used, 2 = reg entries, 3 = clocks
 *  copied, 4 = builder (0 generic, 1 calxeda,hb-xgmac, 2 amd,xgbe-seattle-v1a).
 *  ERR_BAD_ARG (buffers outside scratch, out overlapping an input), ERR_NO_SPACE (slot 0: size
 *  needed), ERR_LIMIT (no fdt writer free: MAX_WRITERS are open), DTNODE_ERR_BAD_DTB (slot 1 =
 *  fault offset and slot 2 = the reader's FDT_ERR_* status when the fdt reader found it),
 *  DTNODE_ERR_NO_NODE, DTNODE_ERR_NO_COMPATIBLE, DTNODE_ERR_REG_COUNT, DTNODE_ERR_IRQ_COUNT,
 *  DTNODE_ERR_CLOCK, DTNODE_ERR_CELLS, DTNODE_ERR_TOO_BIG, DTNODE_ERR_MISSING_PROP (a builder's
 *  mandatory property). */
export function dtnode_generate(
  dtb: usize, dtbLen: usize, path: usize, pathLen: usize,
  regs_: usize, nRegs: i32, spis_: usize, flags_: usize, nIrqs_: i32,
  busBase_: u64, busSize_: u64, guestAc: u32, guestSc: u32, regBase: u64, intc_: u32,
  firstPhandle_: u32, out: usize, cap: usize,
): i32 {
  clearResults();
  if (nRegs < 0 || nRegs > MAX_REGS || nIrqs_ < 0) return ERR_BAD_ARG;
  if (nIrqs_ > MAX_IRQS) return DTNODE_ERR_IRQ_COUNT;
  if (!inScratch(dtb, dtbLen) || !inScratch(path, pathLen) || !inScratch(out, cap)) return ERR_BAD_ARG;
  const rl = <usize>nRegs * 8, il = <usize>nIrqs_ * 4;
  if (!inScratch(regs_, rl) || !inScratch(spis_, il) || !inScratch(flags_, il)) return ERR_BAD_ARG;
  // The writer writes to out while the inputs are still being read.
  if (overlaps(out, cap, dtb, dtbLen) || overlaps(out, cap, path, pathLen) || overlaps(out, cap, regs_, rl)
    || overlaps(out, cap, spis_, il) || overlaps(out, cap, flags_, il)) return ERR_BAD_ARG;
  regs = regs_; regsGiven = nRegs; spis = spis_; flags = flags_; nIrqs = nIrqs_;
  busBase = busBase_; busSize = busSize_; gac = guestAc; gsc = guestSc; rel = regBase;
  intc = intc_; firstPhandle = firstPhandle_;

  let st = openHost(dtb, dtbLen);
  if (st < 0) return st;
  st = pathOffset(path, <u32>pathLen);
  if (st == ERR_BAD_ARG) return ERR_BAD_ARG;
  if (st == ERR_NOT_FOUND) return DTNODE_ERR_NO_NODE;
  if (st < 0) return hostFault(st);
  node = <u32>st;
  st = decide();
  if (st < 0) return st;
  // Copied clocks get firstPhandle .. firstPhandle + nClocks - 1: 0 and 0xffffffff are reserved
  // phandles (devicetree specification 2.3.3), so that range must avoid both.
  if (nClocks > 0 && (firstPhandle == 0 || <u64>firstPhandle + <u64>nClocks > PHANDLE_MAX)) return ERR_BAD_ARG;

  st = build(create(out, cap, firstPhandle));
  if (st == ERR_NO_SPACE) {
    // Measure: the same tree into the static buffer (the writer above is closed, so one is free).
    st = build(createIn(MEASURE, MEASURE_CAP, firstPhandle));
    if (st == ERR_NO_SPACE || (st >= 0 && tooBig(MEASURE))) return DTNODE_ERR_TOO_BIG;
    if (st < 0) return st;
    clearResults();
    setResult(0, <u64>st);
    return ERR_NO_SPACE;
  }
  if (st < 0) return st;
  if (tooBig(out)) return DTNODE_ERR_TOO_BIG;
  clearResults();
  setResult(0, <u64>st);
  setResult(1, <u64>nClocks);
  setResult(2, <u64>nReg);
  setResult(3, <u64>nClocks);
  setResult(4, <u64>builder);
  return st;
}

/** Parses hex digits [p, p+n) into hexVal; false when empty, not hex, or beyond 64 bits. */
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
 *  address), DTNODE_ERR_NO_NODE, DTNODE_ERR_BAD_DTB (slots 1/2 as dtnode_generate), ERR_NO_SPACE
 *  (slot 0: bytes needed). */
export function dtnode_find_device(dtb: usize, dtbLen: usize, name: usize, nameLen: usize, out: usize, cap: usize): i32 {
  clearResults();
  if (!inScratch(dtb, dtbLen) || !inScratch(name, nameLen) || !inScratch(out, cap)) return ERR_BAD_ARG;
  let dot: usize = 0;
  while (dot < nameLen && ld8(name + dot) != 0x2e) dot++;
  if (dot >= nameLen || !parseHex(name, dot)) return ERR_BAD_ARG;
  const st = openHost(dtb, dtbLen);
  if (st < 0) return st;
  return findDevice(name + dot + 1, <u32>(nameLen - dot - 1), hexVal, out, cap);
}
