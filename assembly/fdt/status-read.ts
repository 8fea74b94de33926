// Status codes of the FDT reader: -100 .. -149. Each: a constant with a doc comment and
// a line in the switch below (name, then one line of meaning).

export function fdtReadStatusName(code: i32): string {
  switch (code) {
  }
  return "";
}
