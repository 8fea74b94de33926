// Status codes of the region module: -300 .. -399, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in regionStatusRow(): "<error kind> <NAME>: <meaning>".
// Table bounds (MAX_TABLES, MAX_REGIONS, MAX_SPARSE_AREAS, MAX_HOLES) return the generic ERR_LIMIT;
// stale handles ERR_BAD_HANDLE; an index never added ERR_NOT_FOUND; an access width other than
// 1, 2, 4, 8 or a page size outside 4 KiB..64 KiB ERR_BAD_ARG; offset + size past 2^64 ERR_OVERFLOW.
// The first three are guest outcomes, not failures of the VMM: the read returns all-ones (result
// slot 0), the write is dropped, and the region's counters count it.

/** A guest access that is not entirely inside the region. */
export const REGION_OUT_OF_RANGE: i32 = -300;
/** A guest access whose offset is not a multiple of its width. */
export const REGION_MISALIGNED: i32 = -301;
/** A guest read of a region without VFIO_REGION_INFO_FLAG_READ, or a write without FLAG_WRITE. */
export const REGION_DENIED: i32 = -302;
/** The region's info query failed; the table keeps its index and the status (result slot 0). */
export const REGION_ERR_FAILED: i32 = -303;
/** A sparse mmap area given to region_add ends beyond the region. */
export const REGION_ERR_AREA_OUTSIDE: i32 = -304;
/** Sparse mmap areas given to region_add overlap or are not in increasing order. */
export const REGION_ERR_AREAS_OVERLAP: i32 = -305;
/** A carve-out hole given to region_split ends beyond the region. */
export const REGION_ERR_HOLE_OUTSIDE: i32 = -306;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function regionStatusRow(code: i32): string {
  switch (code) {
    case REGION_OUT_OF_RANGE: return "bad-argument REGION_OUT_OF_RANGE: guest access outside the region (read all-ones, write dropped, counted)";
    case REGION_MISALIGNED: return "bad-argument REGION_MISALIGNED: guest access not naturally aligned (read all-ones, write dropped, counted)";
    case REGION_DENIED: return "bad-argument REGION_DENIED: the region does not allow this direction (read all-ones, write dropped, counted)";
    case REGION_ERR_FAILED: return "not-found REGION_FAILED: the region's info query failed (result 0 holds its status)";
    case REGION_ERR_AREA_OUTSIDE: return "bad-argument REGION_AREA_OUTSIDE: a sparse mmap area ends beyond the region";
    case REGION_ERR_AREAS_OVERLAP: return "bad-argument REGION_AREAS_OVERLAP: sparse mmap areas overlap or are unsorted";
    case REGION_ERR_HOLE_OUTSIDE: return "bad-argument REGION_HOLE_OUTSIDE: a carve-out hole ends beyond the region";
  }
  return "";
}
