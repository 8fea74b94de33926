// Status codes of the dtnode module: -600 .. -699, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in dtnodeStatusRow(): "<error kind> <NAME>: <meaning>".

/** The host DTB fails the fdt reader's checks (when the reader found the fault: its offset in result
 *  slot 1, its FDT_ERR_* status in slot 2), a reg or clocks length is not whole entries, or a host
 *  node name cannot be written (the fdt writer refuses it). */
export const DTNODE_ERR_BAD_DTB: i32 = -600;
/** No node at the host path. */
export const DTNODE_ERR_NO_NODE: i32 = -601;
/** The guest placement has fewer regions than the host node has reg entries. */
export const DTNODE_ERR_REG_COUNT: i32 = -602;
/** The number of SPIs differs from the number of IRQ flags, or exceeds MAX_IRQS. */
export const DTNODE_ERR_IRQ_COUNT: i32 = -603;
/** A clock the device references is not a "fixed-clock" (it cannot be copied into the guest). */
export const DTNODE_ERR_CLOCK: i32 = -604;
/** The generated tree exceeds MAX_OUT_STRUCT or MAX_OUT_STRINGS, or a bound on clocks or regs. */
export const DTNODE_ERR_TOO_BIG: i32 = -605;
/** Cells outside 1..2, or a guest address or size that does not fit the guest cells. */
export const DTNODE_ERR_CELLS: i32 = -606;
/** The node has no compatible property. */
export const DTNODE_ERR_NO_COMPATIBLE: i32 = -607;
/** A device-specific builder requires a property the host node lacks (phy-mode, amd,speed-set...). */
export const DTNODE_ERR_MISSING_PROP: i32 = -608;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function dtnodeStatusRow(code: i32): string {
  switch (code) {
    case DTNODE_ERR_BAD_DTB: return "bad-fdt DTNODE_BAD_DTB: the host DTB fails its header or structure checks";
    case DTNODE_ERR_NO_NODE: return "not-found DTNODE_NO_NODE: no node at the host path";
    case DTNODE_ERR_REG_COUNT: return "bad-argument DTNODE_REG_COUNT: fewer guest regions than host reg entries";
    case DTNODE_ERR_IRQ_COUNT: return "bad-argument DTNODE_IRQ_COUNT: SPI count differs from IRQ flag count or exceeds MAX_IRQS";
    case DTNODE_ERR_CLOCK: return "not-supported DTNODE_CLOCK: a referenced clock is not a fixed-clock";
    case DTNODE_ERR_TOO_BIG: return "no-space DTNODE_TOO_BIG: the generated tree exceeds its bound";
    case DTNODE_ERR_CELLS: return "bad-argument DTNODE_CELLS: cells outside 1..2 or a value that does not fit them";
    case DTNODE_ERR_MISSING_PROP: return "bad-argument DTNODE_MISSING_PROP: the host node lacks a property its device builder requires";
    case DTNODE_ERR_NO_COMPATIBLE: return "bad-argument DTNODE_NO_COMPATIBLE: the host node has no compatible property";
  }
  return "";
}
