// Constants of the flattened device tree format (devicetree-specification v0.4, chapter 5),
// shared by the reader, the writer and merge. Names as in libfdt's fdt.h.

export const FDT_MAGIC: u32 = 0xd00dfeed;
/** The version we write; we read any blob whose last_comp_version is <= 16 and version >= 16. */
export const FDT_VERSION: u32 = 17;
export const FDT_LAST_COMP_VERSION: u32 = 16;
export const FDT_HEADER_SIZE: u32 = 40;   // 10 big-endian u32 fields (version 17)
export const FDT_RESERVE_ENTRY_SIZE: u32 = 16; // address u64, size u64

export const FDT_BEGIN_NODE: u32 = 0x1;
export const FDT_END_NODE: u32 = 0x2;
export const FDT_PROP: u32 = 0x3;
export const FDT_NOP: u32 = 0x4;
export const FDT_END: u32 = 0x9;

// Header field offsets.
export const HDR_MAGIC: u32 = 0;
export const HDR_TOTALSIZE: u32 = 4;
export const HDR_OFF_DT_STRUCT: u32 = 8;
export const HDR_OFF_DT_STRINGS: u32 = 12;
export const HDR_OFF_MEM_RSVMAP: u32 = 16;
export const HDR_VERSION: u32 = 20;
export const HDR_LAST_COMP_VERSION: u32 = 24;
export const HDR_BOOT_CPUID_PHYS: u32 = 28;
export const HDR_SIZE_DT_STRINGS: u32 = 32;
export const HDR_SIZE_DT_STRUCT: u32 = 36;

/** Deepest node nesting we accept: the Linux kernel's unflatten_dt_nodes() uses FDT_MAX_DEPTH 64. */
export const FDT_MAX_DEPTH: i32 = 64;
/** Longest node name or property name accepted, with its NUL (libfdt's FDT_MAX_NCELLS-style bound
 *  is 31 chars for property names per the spec; node names up to 31 chars + unit address; we
 *  allow 256 to read real-world trees and still bound the scan). */
export const FDT_MAX_NAME: u32 = 256;
