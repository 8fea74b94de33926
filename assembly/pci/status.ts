// Status codes of the pci module: -700 .. -799, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in pciStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function pciStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
