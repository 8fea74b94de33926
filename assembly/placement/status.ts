// Status codes of the placement module: -400 .. -499, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and one row in placementStatusRow(): "<error kind> <NAME>: <meaning>".
// Table bounds (MAX_BUSES, MAX_DEVICES_PER_BUS, MAX_PLACED_REGIONS) return the generic ERR_LIMIT;
// stale handles the generic ERR_BAD_HANDLE; a size, alignment or page size outside its domain
// the generic ERR_BAD_ARG.

/** No naturally aligned free range of the asked size is left in the bus's MMIO window. */
export const PLACE_ERR_WINDOW_FULL: i32 = -400;
/** Every SPI of the bus's range is taken. */
export const PLACE_ERR_NO_SPI: i32 = -401;
/** A fixed or identity range overlaps a range already placed on the bus. */
export const PLACE_ERR_TAKEN: i32 = -402;
/** A fixed or identity range is not entirely inside the bus's MMIO window (or wraps past 2^64). */
export const PLACE_ERR_OUTSIDE_WINDOW: i32 = -403;
/** A fixed SPI is already given to a device. */
export const PLACE_ERR_SPI_TAKEN: i32 = -404;
/** A fixed SPI is outside the bus's SPI range. */
export const PLACE_ERR_SPI_OUTSIDE: i32 = -405;
/** A fixed or identity address is not a multiple of the page size (or of the asked alignment). */
export const PLACE_ERR_MISALIGNED: i32 = -406;
/** The window is empty, not page aligned, or its end would pass 2^64-1. */
export const PLACE_ERR_BAD_WINDOW: i32 = -407;
/** The SPI range is empty or leaves the GIC's SPIs 0..MAX_SPIS-1 (INTIDs 32..1019). */
export const PLACE_ERR_BAD_SPI_RANGE: i32 = -408;

/** Error kind, name and meaning of a code in this module's range (the row format is in assembly/status.ts); "" when unknown. */
export function placementStatusRow(code: i32): string {
  switch (code) {
    case PLACE_ERR_WINDOW_FULL: return "no-space PLACE_WINDOW_FULL: no aligned free range of that size left in the MMIO window";
    case PLACE_ERR_NO_SPI: return "no-space PLACE_NO_SPI: every SPI of the bus's range is taken";
    case PLACE_ERR_TAKEN: return "busy PLACE_TAKEN: the fixed or identity range overlaps a placed range";
    case PLACE_ERR_OUTSIDE_WINDOW: return "bad-argument PLACE_OUTSIDE_WINDOW: the fixed or identity range leaves the MMIO window";
    case PLACE_ERR_SPI_TAKEN: return "busy PLACE_SPI_TAKEN: the fixed SPI is already given to a device";
    case PLACE_ERR_SPI_OUTSIDE: return "bad-argument PLACE_SPI_OUTSIDE: the fixed SPI is outside the bus's SPI range";
    case PLACE_ERR_MISALIGNED: return "bad-argument PLACE_MISALIGNED: fixed address not a multiple of the page size or alignment";
    case PLACE_ERR_BAD_WINDOW: return "bad-argument PLACE_BAD_WINDOW: window empty, not page aligned, or ending past 2^64-1";
    case PLACE_ERR_BAD_SPI_RANGE: return "bad-argument PLACE_BAD_SPI_RANGE: SPI range empty or beyond the GIC's 988 SPIs";
  }
  return "";
}
