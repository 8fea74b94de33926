// Status codes of the vfio module: -200 .. -299, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in vfioStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function vfioStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
