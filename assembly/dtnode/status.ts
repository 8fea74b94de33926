// Status codes of the dtnode module: -600 .. -699, see assembly/status.ts for the scheme.
// Each code: a constant with a doc comment, and a line in dtnodeStatusName().

/** Name and meaning of a code in this module's range; "" when unknown. */
export function dtnodeStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
