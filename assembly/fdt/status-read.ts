// Status codes of the FDT reader: -100 .. -149. Each: a constant with a doc comment and
// one row in the switch below: "<error kind> <NAME>: <meaning>" (assembly/status.ts).
// Every validation fault puts the byte offset of the fault (from the blob's first byte) in result
// slot 0; merge adds slot 1 = which input (0 base, 1 subtree). Generic codes used by the reader:
// ERR_BAD_ARG (a (ptr, len) outside scratch, a node offset that is not a node), ERR_NOT_FOUND,
// ERR_NO_SPACE (fdt_index output; slot 0 = bytes needed).

/** The input is shorter than the header, or than the header's totalsize. */
export const FDT_ERR_TRUNCATED: i32 = -100;
/** The first word is not 0xd00dfeed. */
export const FDT_ERR_BAD_MAGIC: i32 = -101;
/** version < 16 or last_comp_version > 16: a format this reader does not know. */
export const FDT_ERR_BAD_VERSION: i32 = -102;
/** A block offset or size leaves totalsize, overlaps the header or another block, or is misaligned. */
export const FDT_ERR_BAD_LAYOUT: i32 = -103;
/** The memory reservation map has no terminating (0, 0) entry before the next block or totalsize. */
export const FDT_ERR_BAD_RSVMAP: i32 = -104;
/** A structure token that is none of BEGIN_NODE, END_NODE, PROP, NOP, END. */
export const FDT_ERR_BAD_TOKEN: i32 = -105;
/** Tokens are not well nested: END_NODE or PROP outside a node, a second root, END inside a node. */
export const FDT_ERR_BAD_NESTING: i32 = -106;
/** A node name is not NUL-terminated inside the structure block within FDT_MAX_NAME bytes. */
export const FDT_ERR_BAD_NAME: i32 = -107;
/** A property header or value leaves the structure block. */
export const FDT_ERR_BAD_PROP: i32 = -108;
/** A property name offset is outside the strings block, or its name is not NUL-terminated there. */
export const FDT_ERR_BAD_STRING: i32 = -109;
/** Nodes nest deeper than FDT_MAX_DEPTH (64, the kernel's bound). */
export const FDT_ERR_TOO_DEEP: i32 = -110;
/** The structure block ends (or a token is cut) before FDT_END. */
export const FDT_ERR_NO_END: i32 = -111;
/** #address-cells or #size-cells is not one 4-byte cell, or more than 2 (a reg entry wider than u64). */
export const FDT_ERR_BAD_CELLS: i32 = -112;
/** reg's length is not a multiple of (#address-cells + #size-cells) * 4. */
export const FDT_ERR_BAD_REG: i32 = -113;

export function fdtReadStatusRow(code: i32): string {
  switch (code) {
    case FDT_ERR_TRUNCATED: return "bad-fdt FDT_TRUNCATED: input shorter than the header or than its totalsize";
    case FDT_ERR_BAD_MAGIC: return "bad-fdt FDT_BAD_MAGIC: the first word is not 0xd00dfeed";
    case FDT_ERR_BAD_VERSION: return "bad-fdt FDT_BAD_VERSION: version < 16 or last_comp_version > 16";
    case FDT_ERR_BAD_LAYOUT: return "bad-fdt FDT_BAD_LAYOUT: a block leaves totalsize, overlaps the header or a block, or is misaligned";
    case FDT_ERR_BAD_RSVMAP: return "bad-fdt FDT_BAD_RSVMAP: the reservation map is not terminated before the next block";
    case FDT_ERR_BAD_TOKEN: return "bad-fdt FDT_BAD_TOKEN: an unknown structure token";
    case FDT_ERR_BAD_NESTING: return "bad-fdt FDT_BAD_NESTING: structure tokens are not well nested";
    case FDT_ERR_BAD_NAME: return "bad-fdt FDT_BAD_NAME: a node name is not NUL-terminated within FDT_MAX_NAME bytes";
    case FDT_ERR_BAD_PROP: return "bad-fdt FDT_BAD_PROP: a property header or value leaves the structure block";
    case FDT_ERR_BAD_STRING: return "bad-fdt FDT_BAD_STRING: a property name offset or name leaves the strings block";
    case FDT_ERR_TOO_DEEP: return "bad-fdt FDT_TOO_DEEP: nodes nest deeper than FDT_MAX_DEPTH (64)";
    case FDT_ERR_NO_END: return "bad-fdt FDT_NO_END: the structure block ends before FDT_END";
    case FDT_ERR_BAD_CELLS: return "bad-fdt FDT_BAD_CELLS: #address-cells/#size-cells not one cell or above 2";
    case FDT_ERR_BAD_REG: return "bad-fdt FDT_BAD_REG: reg length not a multiple of the entry size";
  }
  return "";
}
