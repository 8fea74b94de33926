// Status codes of the placement module: -400 .. -499, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in placementStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function placementStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
