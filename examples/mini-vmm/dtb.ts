// The bare-metal guests' tree: vfiokit/vmm's board (boardDtb: cpus, PSCI, memory, the GICv3, chosen)
// with the passed-through device's own nodes (its platform bus, its node, the clocks it needs)
// from guestNodeFor, grafted under the root with mergeFdt. Read back with parseFdt (tests) or dtc.
// The board's phandles start at 1 and stay below FIRST_DEVICE_PHANDLE, where guestNodeFor's start.
// Not responsible for: the board (vfiokit/vmm's board.ts), the device's node (guestNodeFor).
import { guestNodeFor, mergeFdt } from '../../src/index';
import { boardDtb, FIRST_DEVICE_PHANDLE, type BoardDtbRequest } from '../../src/vmm-api';

export { boardDtb, FIRST_DEVICE_PHANDLE };
export type { BoardDtbRequest };

export interface GuestDtbRequest extends BoardDtbRequest {
  /** The host's DTB (/sys/firmware/fdt), where guestNodeFor finds the device's node. */
  hostDtb: Uint8Array;
  deviceName: string;
  regionGpa: bigint; spi: number; irqFlags: number;
  bus: { base: bigint; size: bigint };
}

/** The whole guest tree: the board, then the device's root children (copied clocks, the platform
 *  bus with the device) merged under "/". */
export function guestDtb(req: GuestDtbRequest): Uint8Array {
  const board = boardDtb(req);
  const dev = guestNodeFor({
    hostDtb: req.hostDtb, deviceName: req.deviceName,
    placement: { regions: [req.regionGpa], spis: [req.spi] }, irqFlags: [req.irqFlags],
    bus: req.bus, interruptParent: board.gicPhandle, firstPhandle: FIRST_DEVICE_PHANDLE,
  });
  return mergeFdt(board.dtb, dev.dtb, '/');
}

/** The same with the architected timer's node, as a Linux guest needs it. */
export function linuxGuestDtb(req: GuestDtbRequest): Uint8Array {
  return guestDtb({ ...req, timer: true });
}
