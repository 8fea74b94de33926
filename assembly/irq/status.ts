// Status codes of the irq module: -500 .. -599, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in irqStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function irqStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
