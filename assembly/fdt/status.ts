// Status codes of the fdt module: -100 .. -199, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in fdtStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function fdtStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
