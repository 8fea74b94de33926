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
// status_name() gives each code's name and one line of meaning, for hosts in any language.

import { fdtStatusName } from "./fdt/status";
import { vfioStatusName } from "./vfio/status";
import { regionStatusName } from "./region/status";
import { placementStatusName } from "./placement/status";
import { irqStatusName } from "./irq/status";
import { dtnodeStatusName } from "./dtnode/status";
import { pciStatusName } from "./pci/status";

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

function genericStatusName(code: i32): string {
  switch (code) {
    case OK: return "OK: success";
    case ERR_BAD_ARG: return "BAD_ARG: a buffer outside the scratch area or an argument out of range";
    case ERR_BAD_STATE: return "BAD_STATE: call not allowed in the current state";
    case ERR_NO_SPACE: return "NO_SPACE: output buffer too small (result 0 holds the size needed)";
    case ERR_NOT_FOUND: return "NOT_FOUND: no such item";
    case ERR_BAD_HANDLE: return "BAD_HANDLE: unknown or freed handle";
    case ERR_LIMIT: return "LIMIT: a named bound was exceeded";
    case ERR_OVERFLOW: return "OVERFLOW: 64-bit arithmetic would overflow";
    case ERR_INTERNAL: return "INTERNAL: a bug in vfiokit itself";
  }
  return "";
}

/** Name and meaning of a status code; "" when the code is unknown. */
export function statusName(code: i32): string {
  if (code > -100) return genericStatusName(code);
  if (code > -200) return fdtStatusName(code);
  if (code > -300) return vfioStatusName(code);
  if (code > -400) return regionStatusName(code);
  if (code > -500) return placementStatusName(code);
  if (code > -600) return irqStatusName(code);
  if (code > -700) return dtnodeStatusName(code);
  if (code > -800) return pciStatusName(code);
  return genericStatusName(code);
}
