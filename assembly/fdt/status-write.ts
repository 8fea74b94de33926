// Status codes of the FDT writeer: -150 .. -199. Each: a constant with a doc comment and
// a line in the switch below (name, then one line of meaning).

export function fdtWriteStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
