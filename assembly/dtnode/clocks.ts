// The clocks of a passed-through device: every phandle of the host node's `clocks` must name a
// fixed-clock (#clock-cells 0), which is copied into the guest tree with a new phandle (AMBA
// devices need apb_pclk to probe; QEMU never copied it). Guest phandles are firstPhandle + k for the
// k-th distinct host clock, in the order of first reference.
// Not responsible for: clocks with cells or parents (refused: DTNODE_ERR_CLOCK), or the clocks of
// the guest's other devices.

import { ERR_NOT_FOUND } from "../status";
import { ld32be, copy } from "../mem";
import { nodeByPhandle, hasCompatible, getPropS, token, firstProp, nextProp, nameIs, B, NAME, NAMELEN, DATA, DATALEN } from "../fdt/reader";
import { DTNODE_ERR_CLOCK, DTNODE_ERR_TOO_BIG, DTNODE_ERR_BAD_DTB } from "./status";
import { lit, beginBytes, end, propBytes, propWord } from "./emit";
import { hostFault } from "./host";

/** Distinct clocks one device references. */
const MAX_CLOCKS: i32 = 8;

const CLK_HOST = new StaticArray<u32>(MAX_CLOCKS);   // host phandle
const CLK_NODE = new StaticArray<u32>(MAX_CLOCKS);   // its node in the host blob
/** Distinct clocks found by collectClocks. */
export let nClocks: i32 = 0;

/** Collects the distinct fixed-clocks referenced by the clocks value at (B + off, len) of the open
 *  host blob. OK, DTNODE_ERR_BAD_DTB (len not whole cells), DTNODE_ERR_CLOCK (no such phandle, or
 *  not a fixed-clock with #clock-cells 0), DTNODE_ERR_TOO_BIG (more than MAX_CLOCKS). */
export function collectClocks(off: u32, len: u32): i32 {
  nClocks = 0;
  if ((len & 3) != 0) return DTNODE_ERR_BAD_DTB;
  for (let o: u32 = 0; o < len; o += 4) {
    const ph = ld32be(B + off + o);
    if (indexOf(ph) >= 0) continue;
    const cn = nodeByPhandle(ph);
    if (cn == ERR_NOT_FOUND) return DTNODE_ERR_CLOCK;
    if (cn < 0) return hostFault(cn);
    const fixed = hasCompatible(<u32>cn, lit("fixed-clock"), 11);
    if (fixed < 0) return hostFault(fixed);
    if (fixed == 0 || clockCells(<u32>cn) != 0) return DTNODE_ERR_CLOCK;
    if (nClocks >= MAX_CLOCKS) return DTNODE_ERR_TOO_BIG;
    CLK_HOST[nClocks] = ph; CLK_NODE[nClocks] = <u32>cn; nClocks++;
  }
  return 0;
}

/** #clock-cells of a clock node; 0 when absent or not one cell (as a fixed-clock's must be). */
function clockCells(node: u32): u32 {
  const st = getPropS(node, "#clock-cells");
  return st >= 0 && DATALEN == 4 ? ld32be(B + DATA) : 0;
}

/** k for a host phandle collected as the k-th clock; -1 when not collected. */
function indexOf(ph: u32): i32 {
  for (let k = 0; k < nClocks; k++) if (CLK_HOST[k] == ph) return k;
  return -1;
}

/** The guest phandle of a collected host clock phandle. */
export function guestPhandle(ph: u32, firstPhandle: u32): u32 { return firstPhandle + <u32>indexOf(ph); }

/** Writes every collected clock node: its host name, every property but phandle/linux,phandle,
 *  then phandle = firstPhandle + k. A reader fault mid-copy (the blob was validated, so only a
 *  blob changed since) is the status; emission faults stick in emit.ts. */
export function emitClocks(firstPhandle: u32): i32 {
  for (let k = 0; k < nClocks; k++) {
    const node = CLK_NODE[k];
    let st = token(node);
    if (st < 0) return hostFault(st);
    beginBytes(B + NAME, NAMELEN);
    st = firstProp(node);
    while (st >= 0) {
      if (!nameIs("phandle") && !nameIs("linux,phandle")) {
        const p = propBytes(B + NAME, NAMELEN, DATALEN);
        if (p != 0) copy(p, B + DATA, DATALEN);
      }
      st = nextProp(<u32>st);
    }
    if (st != ERR_NOT_FOUND) return hostFault(st);
    propWord("phandle", firstPhandle + <u32>k);
    end();
  }
  return 0;
}

/** Forgets the collected clocks (a builder that does not copy them). */
export function dropClocks(): void { nClocks = 0; }
