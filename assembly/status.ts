// Status codes of the core. Every export that can fail returns an i32: >= 0 is success (often a
// value), < 0 is one of the codes below. Nothing the input can reach traps; abort() is kept for
// the impossible (a bug in vfiokit itself), which the host reports as STATUS_INTERNAL.
//
// Codes are grouped by module in reserved ranges so that modules can add codes independently:
//   -1 .. -99      generic (this file)
//   -100 .. -199   FDT reader, writer, merge        (assembly/fdt/status.ts)
//   -200 .. -299   VFIO kernel-reply decoders       (assembly/vfio/status.ts)
//   -300 .. -399   regions: table, mmap/trap split, guest access checks (assembly/region/status.ts)
//   -400 .. -499   platform-bus placement           (assembly/placement/status.ts)
//   -500 .. -599   IRQ state machine                (assembly/irq/status.ts)
//   -600 .. -699   guest device-tree nodes          (assembly/dtnode/status.ts)
//   -700 .. -799   PCI BARs and shadow config space (assembly/pci/status.ts)
//   -1000          a bug in vfiokit itself
// Each code has one row: "<error kind> <NAME>: <meaning>" (the switch of its module's status.ts),
// so that a new code is one edit. status_name() gives "NAME: meaning" and status_kind() the kind,
// for hosts in any language. The kinds are the host's error kinds (docs/ABI.md): bad-argument,
// bad-fdt, bad-state, busy, closed, core-bug, kernel-reply, no-space, not-found, not-supported;
// "input" (OVERFLOW) blames the input of the call, whoever gave it: the host knows whether that was
// its caller (bad-argument) or the kernel (kernel-reply); "-" is OK, not an error.

import { fdtStatusRow } from "./fdt/status";
import { vfioStatusRow } from "./vfio/status";
import { regionStatusRow } from "./region/status";
import { placementStatusRow } from "./placement/status";
import { irqStatusRow } from "./irq/status";
import { dtnodeStatusRow } from "./dtnode/status";
import { pciStatusRow } from "./pci/status";

export const OK: i32 = 0;
/** A (ptr, len) outside the scratch area, or an argument outside its documented domain. */
export const ERR_BAD_ARG: i32 = -1;
/** The call is not allowed in the object's current state (state tables above each machine). */
export const ERR_BAD_STATE: i32 = -2;
/** The caller's output buffer is too small; result slot 0 holds the size needed. */
export const ERR_NO_SPACE: i32 = -3;
/** The thing asked for does not exist (node, property, region, handle). */
export const ERR_NOT_FOUND: i32 = -4;
/** A handle that was never issued or was already freed. */
export const ERR_BAD_HANDLE: i32 = -5;
/** A named bound was exceeded (see the constant named in the module). */
export const ERR_LIMIT: i32 = -6;
/** 64-bit arithmetic on the input would overflow. */
export const ERR_OVERFLOW: i32 = -7;
/** A bug in vfiokit itself: please report it. */
export const ERR_INTERNAL: i32 = -1000;

function genericStatusRow(code: i32): string {
  switch (code) {
    case OK: return "- OK: success";
    case ERR_BAD_ARG: return "bad-argument BAD_ARG: a buffer outside the scratch area or an argument out of range";
    case ERR_BAD_STATE: return "bad-state BAD_STATE: call not allowed in the current state";
    case ERR_NO_SPACE: return "no-space NO_SPACE: output buffer too small (result 0 holds the size needed)";
    case ERR_NOT_FOUND: return "not-found NOT_FOUND: no such item";
    case ERR_BAD_HANDLE: return "closed BAD_HANDLE: unknown or freed handle";
    case ERR_LIMIT: return "no-space LIMIT: a named bound was exceeded";
    case ERR_OVERFLOW: return "input OVERFLOW: 64-bit arithmetic would overflow";
    case ERR_INTERNAL: return "core-bug INTERNAL: a bug in vfiokit itself";
  }
  return "";
}

/** The row of a status code ("<error kind> <NAME>: <meaning>"); "" when the code is unknown. */
export function statusRow(code: i32): string {
  if (code > -100) return genericStatusRow(code);
  if (code > -200) return fdtStatusRow(code);
  if (code > -300) return vfioStatusRow(code);
  if (code > -400) return regionStatusRow(code);
  if (code > -500) return placementStatusRow(code);
  if (code > -600) return irqStatusRow(code);
  if (code > -700) return dtnodeStatusRow(code);
  if (code > -800) return pciStatusRow(code);
  return genericStatusRow(code);
}
