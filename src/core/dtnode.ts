// guestNodeFor: the TypeScript face of the core's guest device-tree node generator
// (assembly/dtnode/; index.ts's header shows the generated tree). It copies the host DTB and the
// placement into the core's transient scratch, calls dtnode_generate and returns a standalone DTB:
// the copied fixed-clocks, the platform-bus node (unless the VMM has its own) and the device node.
// Not responsible for: placing the device (src/core/placement.ts) or merging the result into the VMM's
// tree (the FDT module).

import { bindExports, core, TRANSIENT_BYTES } from './loader.js';
import { VfioError } from '../errors.js';
import { statusError, statusParts } from './status.js';
import { checkBigU64, checkBigU64s, checkBytes, checkInts, checkObject, checkOneOf, checkOptInt, checkString } from '../../shim/args.js';

/** What {@link guestNodeFor} needs: the host's DTB and which node of it, where the device was placed in the guest, and how the guest's tree around it looks. Give `hostNodePath` or `deviceName`. */
export interface GuestNodeRequest {
  /** The host's flattened device tree (/sys/firmware/fdt). */
  hostDtb: Uint8Array;
  /** The host node's path ("/pl031@9010000"), or */
  hostNodePath?: string;
  /** the device's name in /sys/bus/platform/devices ("9010000.pl031"). */
  deviceName?: string;
  /** Where the device sits in the guest, from a {@link PlatformBus} (placeRegion, placeIrq). */
  placement: {
    /** Guest address of each region, in the order of the host node's reg entries. */
    regions: bigint[];
    /** SPI number (INTID - 32) of each IRQ line, in the order of the VFIO IRQ indexes. */
    spis: number[];
  };
  /** VFIO IRQ info flags per line: AUTOMASKED (4) gives level-high, anything else edge-rising. */
  irqFlags: number[];
  /** The platform-bus node to emit around the device (simple-bus at `base`, `size` bytes); false
   *  or left out when the VMM supplies one. */
  bus?: { base: bigint; size: bigint } | false;
  /** Cells of the device's guest parent (default 2/2). With a generated bus and other cells, reg
   *  is relative to bus.base (ranges = <0 base size>). */
  cells?: { address: 1 | 2; size: 1 | 2 };
  /** When the VMM supplies the bus (bus false): the guest address its reg values are relative to. */
  regBase?: bigint;
  /** The guest GIC's phandle, written as interrupt-parent (default: none, inherited from the root). */
  interruptParent?: number;
  /** First phandle free in the guest tree (for copied clocks); default 0x10000. */
  firstPhandle?: number;
}

/** What {@link guestNodeFor} made: a standalone DTB to merge into the guest's tree ({@link mergeFdt}). */
export interface GuestNode {
  /** A standalone DTB: / { clocks...; platform-bus@base { device@addr } }. */
  dtb: Uint8Array;
  /** The host node that was used. */
  hostNodePath: string;
  /** Phandles used, from firstPhandle on. */
  phandlesUsed: number;
}

const DTNODE_EXPORTS = ['find_device', 'generate'] as const;
const OUT_CAP = 64 * 1024;

function fail(st: number, what: string): never {
  const c = core();
  // LIMIT: every FDT writer is taken (generate needs one for the call; open FdtBuilders hold them).
  const hint = statusParts(c, st).name === 'LIMIT' ? 'close FdtBuilders you no longer need' : undefined;
  // DTNODE_BAD_DTB puts the reader's fault offset in slot 1 only when the reader found it: none here.
  throw statusError(c, st, { what, hint, faultSlot: null });
}

/** Finds the host node path of a platform/AMBA device name ("9010000.pl031").
 * The name is the kernel's platform device name "<hex address>.<node name>": the node whose name
 * before '@' is <node name> and whose first reg address (in its parent's cells) is <hex address>
 * ("9010000.pl031" is /pl031@9010000). Pure: the Wasm core reads the blob, no syscall.
 * @param hostDtb - The host's flattened device tree (/sys/firmware/fdt).
 * @throws VfioError 'not-found' (no node for that name), 'bad-fdt' (a blob that fails
 *   validation), 'bad-argument' (a name without '.' or a bad hex address; a tree too big for the
 *   core's scratch: pass it without padding).
 */
export function hostNodeOfDevice(hostDtb: Uint8Array, deviceName: string): string {
  checkBytes('hostDtb', hostDtb); checkString('deviceName', deviceName);
  const c = core();
  const name = new TextEncoder().encode(deviceName);
  const PATH_CAP = 4096;
  fits(0, align8(hostDtb.length) + align8(name.length) + PATH_CAP);
  const dtbPtr = c.put(hostDtb, 0);
  const namePtr = c.put(name, align8(hostDtb.length));
  const outPtr = namePtr + align8(name.length);
  const st = bindExports(c, 'dtnode_', DTNODE_EXPORTS).find_device(dtbPtr, hostDtb.length, namePtr, name.length, outPtr, PATH_CAP);
  if (st < 0) fail(st, `no host node for device ${deviceName}`);
  return new TextDecoder().decode(c.take(outPtr, st));
}

/** Generates the guest DTB for a passed-through device (see GuestNodeRequest).
 * From the host node: its compatible strings, `reg` translated to the placed guest addresses,
 * `interrupts` as GIC SPI triples (level-high for an AUTOMASKED line, edge-rising otherwise),
 * dma-coherent, and every fixed-clock it references copied as a root node with a new phandle
 * (from `firstPhandle` on), adjusted for devices that need more (xgmac, xgbe). Pure: the Wasm
 * core does the work, no syscall.
 *
 * @throws VfioError 'bad-argument' (SPIs and IRQ flags of different lengths, neither
 *   hostNodePath nor deviceName, inputs too big for the core's scratch, fewer regions than
 *   the host node's reg entries, more than 64 IRQs, a placement that does not fit the cells, a
 *   host node without compatible or without a property its device needs), 'not-found' (no such host node), 'bad-fdt' (a host blob that fails
 *   validation), 'not-supported' (a clock that cannot be copied: not a fixed-clock), 'no-space'
 *   (the node does not fit the output, or every FDT writer is taken by open FdtBuilders).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { guestNodeFor, openDevice, PlatformBus } from 'vfiokit';
 *
 * const dev = openDevice('9010000.pl031');
 * const bus = new PlatformBus({ base: 0x0c00_0000n, size: 32n << 20n, spiFirst: 112, spiCount: 16 });
 * const device = bus.newDevice();
 * const node = guestNodeFor({
 *   hostDtb: readFileSync('/sys/firmware/fdt'),
 *   deviceName: dev.name,
 *   placement: {
 *     regions: [bus.placeRegion(dev.region(0).size, { device }).address],
 *     spis: [bus.placeIrq(undefined, { device }).spi],
 *   },
 *   irqFlags: [dev.irqs[0]!.flags],
 *   bus: { base: 0x0c00_0000n, size: 32n << 20n },
 * });
 * console.log(node.hostNodePath, node.dtb.length, node.phandlesUsed);
 * bus.close();
 * dev.close();
 * ```
 */
export function guestNodeFor(req: GuestNodeRequest): GuestNode {
  checkNodeRequest(req);
  const c = core();
  if (req.placement.spis.length !== req.irqFlags.length) {
    throw new VfioError({ kind: 'bad-argument', message: `${req.placement.spis.length} SPIs for ${req.irqFlags.length} IRQ flags`, hint: 'give one SPI and one flags word per IRQ line' });
  }
  const path = req.hostNodePath ?? (req.deviceName !== undefined ? hostNodeOfDevice(req.hostDtb, req.deviceName) : undefined);
  if (path === undefined) throw new VfioError({ kind: 'bad-argument', message: 'guestNodeFor needs hostNodePath or deviceName' });
  const pathBytes = new TextEncoder().encode(path);
  const regs = new Uint8Array(new BigUint64Array(req.placement.regions.map((r) => BigInt.asUintN(64, r))).buffer);
  const spis = new Uint8Array(new Uint32Array(req.placement.spis).buffer);
  const flags = new Uint8Array(new Uint32Array(req.irqFlags).buffer);
  // Inputs and the output share the transient half of scratch; nothing may spill into the
  // persistent half (open FdtBuilders live there).
  let off = 0;
  const put = (b: Uint8Array) => { fits(off, b.length); const p = c.put(b, off); off += align8(b.length); return p; };
  const dtbPtr = put(req.hostDtb);
  const pathPtr = put(pathBytes);
  const regsPtr = put(regs);
  const spisPtr = put(spis);
  const flagsPtr = put(flags);
  const cap = Math.min(OUT_CAP, TRANSIENT_BYTES - off);
  fits(off, Math.max(cap, 1));
  const outPtr = c.scratchPtr + off;
  const bus = req.bus === undefined ? { base: 0n, size: 0n } : req.bus === false ? { base: 0n, size: 0n } : req.bus;
  const st = bindExports(c, 'dtnode_', DTNODE_EXPORTS).generate(
    dtbPtr, req.hostDtb.length, pathPtr, pathBytes.length, regsPtr, req.placement.regions.length,
    spisPtr, flagsPtr, req.irqFlags.length, BigInt.asUintN(64, bus.base), BigInt.asUintN(64, bus.size),
    req.cells?.address ?? 2, req.cells?.size ?? 2, BigInt.asUintN(64, req.regBase ?? 0n), req.interruptParent ?? 0, req.firstPhandle ?? 0x10000, outPtr, cap,
  );
  if (st < 0) fail(st, `cannot generate the guest node of ${path}`);
  const phandlesUsed = Number(c.result(1));
  return { dtb: c.take(outPtr, st), hostNodePath: path, phandlesUsed };
}

/** Every field of a request, checked before the core sees any (guestOverlayFor's too). */
function checkNodeRequest(req: GuestNodeRequest): void {
  checkObject('req', req); checkBytes('req.hostDtb', req.hostDtb);
  if (req.hostNodePath !== undefined) checkString('req.hostNodePath', req.hostNodePath);
  if (req.deviceName !== undefined) checkString('req.deviceName', req.deviceName);
  checkObject('req.placement', req.placement);
  checkBigU64s('req.placement.regions', req.placement.regions);
  checkInts('req.placement.spis', req.placement.spis, 0, U32_MAX);
  checkInts('req.irqFlags', req.irqFlags, 0, U32_MAX);
  if (req.bus !== undefined && req.bus !== false) { checkObject('req.bus', req.bus); checkBigU64('req.bus.base', req.bus.base); checkBigU64('req.bus.size', req.bus.size); }
  if (req.cells !== undefined) {
    checkObject('req.cells', req.cells);
    if (req.cells.address !== undefined) checkOneOf('req.cells.address', req.cells.address, CELLS);
    if (req.cells.size !== undefined) checkOneOf('req.cells.size', req.cells.size, CELLS);
  }
  if (req.regBase !== undefined) checkBigU64('req.regBase', req.regBase);
  checkOptInt('req.interruptParent', req.interruptParent, 0, U32_MAX);
  // 0 and 0xffffffff are the core's to refuse (DTNODE's own rule, with its status).
  checkOptInt('req.firstPhandle', req.firstPhandle, 0, U32_MAX);
}
/** A device-tree cell count of an address or a size: one or two 32-bit cells. */
const CELLS = [1, 2] as const;
const U32_MAX = 0xffff_ffff;

const align8 = (n: number) => (n + 7) & ~7;

function fits(off: number, len: number): void {
  if (len < 0 || off + len > TRANSIENT_BYTES) {
    throw new VfioError({ kind: 'bad-argument', message: `the host DTB and placement need more than the core's ${TRANSIENT_BYTES}-byte transient scratch`, hint: 'pass the host DTB without padding (fdtput/dtc -p 0), or a smaller tree' });
  }
}
