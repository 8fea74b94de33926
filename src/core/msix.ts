// MSI-X for passthrough: the TypeScript face of the core's MSI-X emulation (assembly/pci/msix.ts
// holds the state and THE RULE; docs/pci.md the ABI) and of its relocation decision
// (assembly/pci/relocate.ts).
//   PciMsix          the table and PBA a guest reads and writes, and the host's "vector fired"
//   msixRelocation   whether and where to move the table and PBA in the guest's view
// The emulation lives in the same core slot as its PciConfig: the guest's MSI-X Enable and
// Function Mask are written through PciConfig.write(), whose actions then include the per-vector
// ones ('msix-mask' before the 'msix-update', 'msix-route' / 'msix-unmask' / 'msix-deliver'
// after it). Closing the PciConfig ends the emulation too.
// Not responsible for: deciding which BAR offsets are the table or the PBA (the BAR trap path
// passes offsets relative to each), programming VFIO or KVM (the caller carries out the actions).
//
// Errors: a closed PciConfig is 'closed'; a function without MSI-X, a vector out of range or a
// bad argument from the caller is 'bad-argument'. Guest accesses never throw.

import { VfioError } from '../errors.js';
import { coreOf, fail, outPtr, pageArgs, readActions, stage, PciConfig, type PciAction } from './pci.js';
import { badArgument, checkBigU64, checkBigU64s, checkBytes, checkInt, checkObject, checkOneOf } from '../../shim/args.js';

/** Which structure a trapped access is relative to. */
export type MsixPart = 'table' | 'pba';

/** One of the MSI-X actions among PciAction. */
export type MsixAction = Extract<PciAction, { kind: 'msix-route' | 'msix-mask' | 'msix-unmask' | 'msix-deliver' }>;

/** One vector's entry and state, as PciMsix.vector() reads them. */
export interface MsixVectorState {
  /** The vector's index in the table. */
  readonly vector: number;
  /** Message Address (64 bits) and Message Data as the guest wrote them. */
  readonly address: bigint;
  /** Message Data (32 bits). */
  readonly data: number;
  /** The entry's Vector Control mask bit. */
  readonly masked: boolean;
  /** Its PBA bit: it fired while masked and has not been delivered yet. */
  readonly pending: boolean;
  /** The host has it unmasked (MSI-X enabled, no Function Mask, not masked). */
  readonly live: boolean;
  /** The host's route for it is absent or older than the table (a route action comes at unmask). */
  readonly stale: boolean;
}

/** The emulation's counters and state, as PciMsix.stats() reads them. */
export interface MsixStats {
  /** Table entries (Table Size + 1). */
  readonly entries: number;
  /** MSI-X Enable, as the guest last wrote it through the config space. */
  readonly enabled: boolean;
  /** Function Mask, as the guest last wrote it. */
  readonly functionMasked: boolean;
  /** Guest accesses the spec leaves undefined (not an aligned DWORD/QWORD) or past the structure:
   *  reads answered with all-ones, writes dropped. */
  readonly badAccesses: bigint;
  /** Guest writes to the read-only PBA (dropped). */
  readonly pbaWrites: bigint;
  /** Fires while MSI-X was disabled (dropped: no message can be sent then). */
  readonly firesDropped: bigint;
  /** Vectors the host has unmasked now. */
  readonly liveVectors: number;
  /** Vectors whose PBA bit is set. */
  readonly pendingVectors: number;
}

/** Bytes one table access's actions may need: pci_limits result 10 (3) x 32. */
const ACCESS_CAP = 3 * 32;
const PARTS: Record<MsixPart, number> = { table: 0, pba: 1 };

/** The MSI-X table and PBA of one passed-through function, emulated in the core. */
export class PciMsix {
  /** Table entries (Table Size + 1, 1..2048). */
  readonly entries: number;
  private readonly config: PciConfig;

  /** Throws 'bad-argument' when the function has no MSI-X capability, 'closed' when `config` is. */
  constructor(config: PciConfig) {
    if (!(config instanceof PciConfig)) badArgument('config', config, 'a PciConfig');
    this.config = config;
    const n = coreOf().f.msix_info(config.coreHandle());
    if (n < 0) fail(n, 'emulate the MSI-X table', config.device);
    this.entries = n;
  }

  /** A guest read of `width` bytes at `offset` from the start of the table or the PBA. Only
   *  aligned 4- and 8-byte reads are defined (PCI spec); anything else, or past the structure,
   *  reads all-ones of the width and is counted. Never throws for what a guest can do. */
  read(part: MsixPart, offset: number, width: number): bigint {
    const h = this.config.coreHandle();
    checkAccess(part, offset, width);
    const { c, f } = coreOf();
    const st = f.msix_read(h, PARTS[part], offset, width);
    if (st < 0) fail(st, `read the MSI-X ${part} at 0x${offset.toString(16)}`, this.config.device);
    const v = c.result(0);
    return width >= 1 && width < 8 ? v & ((1n << BigInt(width * 8)) - 1n) : v;
  }

  /** A guest write; returns the actions to carry out, in order ('msix-route', 'msix-mask',
   *  'msix-unmask', 'msix-deliver'). Writes to the PBA, to reserved Vector Control bits, of
   *  undefined widths or past the structure change nothing. Never throws for what a guest can do. */
  write(part: MsixPart, offset: number, width: number, value: bigint | number): MsixAction[] {
    const h = this.config.coreHandle();
    checkAccess(part, offset, width);
    const v = typeof value === 'number' ? BigInt(checkInt('value', value)) : checkBigU64('value', value);
    const out = outPtr();
    const n = coreOf().f.msix_write(h, PARTS[part], offset, width, v, out, ACCESS_CAP);
    if (n < 0) fail(n, `write the MSI-X ${part} at 0x${offset.toString(16)}`, this.config.device);
    return readActions(out, n) as MsixAction[];
  }

  /** Vector `vector` fired on the host (its eventfd, when the kernel did not deliver it itself).
   *  Returns [deliver] when the vector is live; [] when it was made pending (masked: delivered at
   *  unmask) or dropped (MSI-X disabled). */
  fire(vector: number): MsixAction[] {
    const h = this.config.coreHandle();
    this.checkVector(vector);
    const out = outPtr();
    const n = coreOf().f.msix_fire(h, vector, out, ACCESS_CAP);
    if (n < 0) fail(n, `fire MSI-X vector ${vector}`, this.config.device);
    return readActions(out, n) as MsixAction[];
  }

  /** Vector `vector`'s entry and state (throws 'bad-argument' outside 0..entries-1). */
  vector(vector: number): MsixVectorState {
    const h = this.config.coreHandle();
    this.checkVector(vector);
    const { c, f } = coreOf();
    const st = f.msix_vector(h, vector);
    if (st < 0) fail(st, `read MSI-X vector ${vector}`, this.config.device);
    return {
      vector, address: c.result(0), data: Number(c.result(1)), masked: c.result(2) === 1n,
      pending: c.result(3) === 1n, live: c.result(4) === 1n, stale: c.result(5) === 1n,
    };
  }

  /** The counters of undefined accesses, PBA writes and dropped fires, and the live and pending vectors. */
  stats(): MsixStats {
    const h = this.config.coreHandle();
    const { c, f } = coreOf();
    const st = f.msix_info(h);
    if (st < 0) fail(st, 'read the MSI-X counters', this.config.device);
    return {
      entries: Number(c.result(0)), enabled: c.result(1) === 1n, functionMasked: c.result(2) === 1n,
      badAccesses: c.result(3), pbaWrites: c.result(4), firesDropped: c.result(5),
      liveVectors: Number(c.result(6)), pendingVectors: Number(c.result(7)),
    };
  }

  private checkVector(vector: number): void {
    checkInt('vector', vector, 0, this.entries - 1);
  }
}

/** Offsets and widths cross as u32; anything else is a bug of the caller, not the guest. */
/** The parts of an MSI-X BAR a guest reaches. */
const MSIX_PARTS: readonly MsixPart[] = ['table', 'pba'];

function checkAccess(part: MsixPart, offset: number, width: number): void {
  checkOneOf('part', part, MSIX_PARTS); checkInt('offset', offset, 0, 0xffff_ffff); checkInt('width', width, 0, 0xffff_ffff);
}

// --- relocation ---

/** Where the guest should see the MSI-X table and PBA (THE RULE in assembly/pci/relocate.ts). */
export type MsixRelocation =
  /** Nothing to move: no MSI-X, or trapping the structures where they are traps no device register
   *  the host could otherwise map. */
  | { readonly kind: 'none'; readonly need: bigint }
  /** Double BAR `bar` to `size`; the table at `tableOffset` and the PBA at `pbaOffset` in its
   *  upper half, which the emulation alone occupies. */
  | { readonly kind: 'extend'; readonly bar: number; readonly size: bigint; readonly tableOffset: bigint; readonly pbaOffset: bigint; readonly need: bigint; readonly shared: MsixShared }
  /** A BAR of the emulation's own in unused slot `bar`, `size` bytes, 64-bit when is64Bit (it
   *  takes slot bar+1 too), prefetchable. */
  | { readonly kind: 'new-bar'; readonly bar: number; readonly size: bigint; readonly is64Bit: boolean; readonly prefetchable: boolean; readonly tableOffset: bigint; readonly pbaOffset: bigint; readonly need: bigint; readonly shared: MsixShared }
  /** Shared, but no BAR can take the structures: trap them where they are (correct, slower). */
  | { readonly kind: 'impossible'; readonly need: bigint; readonly shared: MsixShared };

/** Which of the structures share pages with device bytes the host could map. */
export interface MsixShared {
  /** The table's pages hold device bytes. */
  readonly table: boolean;
  /** The PBA's pages hold device bytes. */
  readonly pba: boolean;
}

/** Decides whether to relocate the MSI-X table and PBA for a host page size (4096..65536) and the
 *  BARs whose region has VFIO_REGION_INFO_CAP_MSIX_MAPPABLE. Throws as msixHoles does. */
export function msixRelocation(config: Uint8Array, sizes: readonly bigint[], opts: { pageSize: number; mappable?: readonly number[] }): MsixRelocation {
  checkBytes('config', config); checkBigU64s('sizes', sizes); checkObject('opts', opts);
  const [cfg, len, sp] = stage(config, sizes);
  const [mask, ps] = pageArgs(opts);
  const k = coreOf().f.msix_relocation(cfg, len, sp, mask, ps);
  if (k < 0) fail(k, 'decide the MSI-X relocation');
  return relocationOf(k);
}

/** The function as the guest sees it once the MSI-X relocation is applied ({@link msixGuestView}). */
export interface MsixGuestView {
  /** The config space to make the guest's shadow from: the device's, with the MSI-X Table and PBA
   *  Offset/BIR moved, and for a 'new-bar' the new BAR's type bits in its slot. */
  readonly config: Uint8Array;
  /** The BAR (and ROM) sizes the guest sees: the extended BAR's doubled, the new BAR's. */
  readonly sizes: bigint[];
  /** The decision applied (as msixRelocation returns it). */
  readonly relocation: MsixRelocation;
}

/** The core's relocation decision applied to a copy of the function's config and sizes (the
 *  core's pci_msix_guest_view): 'extend' doubles the table's BAR and puts the table and PBA in
 *  its upper half; 'new-bar' gives them a BAR of their own; 'none' and 'impossible' return the
 *  config and sizes unchanged. Make the guest's PciConfig from the result; the device keeps its
 *  own layout (its region sizes, its table where it is). Inputs and errors as msixRelocation.
 *
 * @example
 * ```ts
 * import { PciConfig } from 'vfiokit';
 * import { msixGuestView } from 'vfiokit/core';
 *
 * declare const config: Uint8Array;       // the device's config space (VFIO region 7)
 * declare const sizes: readonly bigint[]; // BAR0..BAR5 and ROM region sizes
 * const view = msixGuestView(config, sizes, { pageSize: 65536, mappable: [0] });
 * if (view.relocation.kind === 'extend') console.log(`BAR${view.relocation.bar} grows to ${view.relocation.size} bytes`);
 * using shadow = new PciConfig(view.config, view.sizes);
 * ```
 */
export function msixGuestView(config: Uint8Array, sizes: readonly bigint[], opts: { pageSize: number; mappable?: readonly number[] }): MsixGuestView {
  checkBytes('config', config); checkBigU64s('sizes', sizes); checkObject('opts', opts);
  const [cfg, len, sp] = stage(config, sizes);
  const [mask, ps] = pageArgs(opts);
  const { c, f, u64 } = coreOf();
  const outCfg = outPtr(), outSizes = outCfg + GUEST_CONFIG_MAX;
  const k = f.msix_guest_view(cfg, len, sp, mask, ps, outCfg, outSizes);
  if (k < 0) fail(k, 'make the guest\'s view of the MSI-X relocation');
  const view = c.u8.slice(outCfg, outCfg + len);
  const viewSizes = Array.from({ length: 7 }, (_, i) => u64[(outSizes >>> 3) + i]!);
  return { config: view, sizes: viewSizes, relocation: relocationOf(k) };
}

/** Bytes of the largest config space (PCI_CFG_SPACE_EXP_SIZE): the view's sizes follow it in scratch. */
const GUEST_CONFIG_MAX = 4096;

/** The decision in the core's results after pci_msix_relocation / pci_msix_guest_view returned `k`. */
function relocationOf(k: number): MsixRelocation {
  const { c } = coreOf();
  const need = c.result(5);
  const sharedBits = Number(c.result(6));
  const shared = { table: (sharedBits & 1) !== 0, pba: (sharedBits & 2) !== 0 };
  const bar = Number(c.result(0)), size = c.result(1), tableOffset = c.result(2), pbaOffset = c.result(3);
  const flags = Number(c.result(4));
  switch (k) {
    case 0: return { kind: 'none', need };
    case 1: return { kind: 'extend', bar, size, tableOffset, pbaOffset, need, shared };
    case 2: return { kind: 'new-bar', bar, size, is64Bit: (flags & 1) !== 0, prefetchable: (flags & 2) !== 0, tableOffset, pbaOffset, need, shared };
    case 3: return { kind: 'impossible', need, shared };
    default: throw new VfioError({ kind: 'core-bug', message: `the pci core returned unknown relocation ${k}`, hint: 'this is a bug in vfiokit; please report it' });
  }
}
