// Status codes of the vfio module: -200 .. -299, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in vfioStatusRow(): "<error kind> <NAME>: <meaning>".
// On every error below, result slot 0 holds the byte offset (in the reply) of the fault; for
// VFIO_NEED_ARGSZ it holds the argsz the kernel asked for. A (ptr, len) outside scratch is the
// generic ERR_BAD_ARG; a sum of 64-bit sizes and offsets that wraps is the generic ERR_OVERFLOW
// (slot 0: offset of the field whose sum wraps).

/** The kernel's argsz is larger than the buffer passed: query again with a buffer of slot-0 bytes. */
export const VFIO_NEED_ARGSZ: i32 = -200;
/** The reply's argsz is smaller than the fixed struct (the kernel never answers that). */
export const VFIO_ERR_ARGSZ_SMALL: i32 = -201;
/** The buffer passed is shorter than the fixed struct: the caller must pass at least that. */
export const VFIO_ERR_SHORT_BUFFER: i32 = -202;
/** A capability's `next` (or the first cap_offset) does not move strictly forward past the
 *  previous header, or points into the fixed struct: the chain could loop. */
export const VFIO_ERR_CHAIN_LOOP: i32 = -203;
/** A capability header starts or ends outside the argsz bytes of the reply. */
export const VFIO_ERR_CHAIN_OUT_OF_BUFFER: i32 = -204;
/** A capability is shorter (up to the next one, or to argsz) than its type's fixed part needs. */
export const VFIO_ERR_CAP_TRUNCATED: i32 = -205;
/** The same known capability appears twice in one chain. */
export const VFIO_ERR_CAP_DUPLICATE: i32 = -206;
/** A count (regions, IRQs, sparse areas, IOVA ranges) is beyond its named bound. */
export const VFIO_ERR_TOO_MANY: i32 = -207;
/** A sparse mmap area ends beyond the region's size. */
export const VFIO_ERR_AREA_OUT_OF_REGION: i32 = -208;
/** Two sparse areas (or IOVA ranges) overlap. */
export const VFIO_ERR_AREAS_OVERLAP: i32 = -209;
/** Sparse areas (or IOVA ranges) are not in increasing order of offset. */
export const VFIO_ERR_AREAS_UNSORTED: i32 = -210;
/** An IOVA range has start > end. */
export const VFIO_ERR_RANGE_INVERTED: i32 = -211;
/** The reply's index is not the index asked for. */
export const VFIO_ERR_INDEX_MISMATCH: i32 = -212;

/** iommufd's out_iova_alignment is not a power of two, or is above MAX_IOVA_ALIGNMENT. */
export const VFIO_ERR_BAD_ALIGNMENT: i32 = -213;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function vfioStatusRow(code: i32): string {
  switch (code) {
    case VFIO_NEED_ARGSZ: return "no-space VFIO_NEED_ARGSZ: the kernel needs a larger buffer (result 0 holds argsz); query again";
    case VFIO_ERR_ARGSZ_SMALL: return "kernel-reply VFIO_ARGSZ_SMALL: the reply's argsz is smaller than the fixed struct";
    case VFIO_ERR_SHORT_BUFFER: return "bad-argument VFIO_SHORT_BUFFER: the buffer is shorter than the fixed struct";
    case VFIO_ERR_CHAIN_LOOP: return "kernel-reply VFIO_CHAIN_LOOP: a capability offset does not move strictly forward (could loop)";
    case VFIO_ERR_CHAIN_OUT_OF_BUFFER: return "kernel-reply VFIO_CHAIN_OUT_OF_BUFFER: a capability header leaves the reply";
    case VFIO_ERR_CAP_TRUNCATED: return "kernel-reply VFIO_CAP_TRUNCATED: a capability is shorter than its type needs";
    case VFIO_ERR_CAP_DUPLICATE: return "kernel-reply VFIO_CAP_DUPLICATE: a known capability appears twice";
    case VFIO_ERR_TOO_MANY: return "kernel-reply VFIO_TOO_MANY: a count is beyond its named bound";
    case VFIO_ERR_AREA_OUT_OF_REGION: return "kernel-reply VFIO_AREA_OUT_OF_REGION: a sparse mmap area ends beyond the region";
    case VFIO_ERR_AREAS_OVERLAP: return "kernel-reply VFIO_AREAS_OVERLAP: two sparse areas or IOVA ranges overlap";
    case VFIO_ERR_AREAS_UNSORTED: return "kernel-reply VFIO_AREAS_UNSORTED: sparse areas or IOVA ranges are not in increasing order";
    case VFIO_ERR_RANGE_INVERTED: return "kernel-reply VFIO_RANGE_INVERTED: an IOVA range has start > end";
    case VFIO_ERR_INDEX_MISMATCH: return "kernel-reply VFIO_INDEX_MISMATCH: the reply's index is not the one asked for";
    case VFIO_ERR_BAD_ALIGNMENT: return "kernel-reply VFIO_BAD_ALIGNMENT: the IOVA alignment is not a power of two up to MAX_IOVA_ALIGNMENT";
  }
  return "";
}
