// Status codes of the region module: -300 .. -399, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in regionStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function regionStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
