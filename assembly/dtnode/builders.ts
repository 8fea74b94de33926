// Device-specific builders: where the generic node is not enough, a builder keyed by a compatible
// string adjusts it (QEMU's hw/arm/sysbus-fdt.c bindings, as decisions in a table; the first entry
// of the table that the host node's compatible list holds wins):
//   calxeda,hb-xgmac:      dma-coherent always; every interrupt level-high; clocks not copied.
//   amd,xgbe-seattle-v1a:  the combined XGBE/PHY node: exactly XGBE_REGS reg entries and exactly
//                          XGBE_CLOCKS clocks (DMA and PTP, both copied as fixed-clocks), plus the
//                          host properties of XGBE_PROPS (mandatory ones refused with MISSING_PROP).
// Not responsible for: the generic node (index.ts) or the clocks' copies (clocks.ts).

import { ERR_NOT_FOUND } from "../status";
import { hasCompatible, getPropS, B, DATA, DATALEN } from "../fdt/reader";
import { DTNODE_ERR_REG_COUNT, DTNODE_ERR_CLOCK, DTNODE_ERR_MISSING_PROP } from "./status";
import { lit, propCopy } from "./emit";
import { hostFault } from "./host";

export const BUILDER_GENERIC: i32 = 0;
export const BUILDER_XGMAC: i32 = 1;
export const BUILDER_XGBE: i32 = 2;
const BUILDER_COMPAT: StaticArray<string> = ["calxeda,hb-xgmac", "amd,xgbe-seattle-v1a"];
const BUILDER_KIND: StaticArray<i32> = [BUILDER_XGMAC, BUILDER_XGBE];
/** The Seattle XGBE node combines MAC, PCS and two SerDes ranges: five reg entries. */
const XGBE_REGS: i32 = 5;
/** Its DMA and PTP clocks. */
const XGBE_CLOCKS: u32 = 2;
const XGBE_PROPS: StaticArray<string> = [
  "amd,per-channel-interrupt", "phy-mode", "mac-address", "amd,speed-set", "amd,serdes-blwc",
  "amd,serdes-cdr-rate", "amd,serdes-pq-skew", "amd,serdes-tx-amp", "amd,serdes-dfe-tap-config",
  "amd,serdes-dfe-tap-enable",
];
const XGBE_PROP_MANDATORY: StaticArray<bool> = [false, true, false, true, false, false, false, false, false, false];

/** The builder for a node: the first of BUILDER_COMPAT its compatible list holds; a reader fault
 *  (DTNODE_ERR_BAD_DTB) when its compatible cannot be read. */
export function builderOf(node: u32): i32 {
  for (let i = 0; i < BUILDER_COMPAT.length; i++) {
    const s = BUILDER_COMPAT[i];
    const st = hasCompatible(node, lit(s), <u32>s.length);
    if (st < 0) return hostFault(st);
    if (st == 1) return BUILDER_KIND[i];
  }
  return BUILDER_GENERIC;
}

/** 1 when node has property s, 0 when not, or DTNODE_ERR_BAD_DTB. */
function has(node: u32, s: string): i32 {
  const st = getPropS(node, s);
  if (st == ERR_NOT_FOUND) return 0;
  return st < 0 ? hostFault(st) : 1;
}

/** The xgbe builder's requirements: nReg reg entries and clkLen bytes of clocks. 0,
 *  DTNODE_ERR_REG_COUNT, DTNODE_ERR_CLOCK, DTNODE_ERR_MISSING_PROP, DTNODE_ERR_BAD_DTB. */
export function xgbeCheck(node: u32, nReg: i32, clkLen: u32): i32 {
  if (nReg != XGBE_REGS) return DTNODE_ERR_REG_COUNT;
  if (clkLen != XGBE_CLOCKS * 4) return DTNODE_ERR_CLOCK;
  for (let i = 0; i < XGBE_PROPS.length; i++) {
    if (!XGBE_PROP_MANDATORY[i]) continue;
    const st = has(node, XGBE_PROPS[i]);
    if (st <= 0) return st < 0 ? st : DTNODE_ERR_MISSING_PROP;
  }
  const st = has(node, "clock-names");
  return st <= 0 ? (st < 0 ? st : DTNODE_ERR_MISSING_PROP) : 0;
}

/** Copies the XGBE_PROPS the host node has into the open guest node. */
export function xgbeEmit(node: u32): i32 {
  for (let i = 0; i < XGBE_PROPS.length; i++) {
    const st = getPropS(node, XGBE_PROPS[i]);
    if (st == ERR_NOT_FOUND) continue;
    if (st < 0) return hostFault(st);
    propCopy(XGBE_PROPS[i], B + DATA, DATALEN);
  }
  return 0;
}
