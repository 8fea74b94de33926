// PCI config space for passthrough: the TypeScript face of the core's pci module
// (assembly/pci/; shadow.ts holds the state and THE RULE of BAR mappings; docs/pci.md the ABI).
//   decodeBars / findCapabilities / msixHoles   pure decoders of the device's config bytes
//   PciConfig                                   the shadow config space a guest reads and writes
// Not responsible for: reading the device's config (the device layer reads VFIO region 7 and
// passes the bytes), mapping BARs or programming MSI (the caller carries out the actions),
// subtracting the MSI-X holes from the mmap ranges (the region module does that).
//
// Errors: malformed config bytes or region sizes from the device/kernel are 'kernel-reply' with
// status, statusName and the config offset of the fault; bad caller input is 'bad-argument';
// a closed PciConfig is 'closed'; MAX_CONFIGS in use is 'no-space'. Guest accesses never throw.

import { bindExports, core, type Core, type CoreFn } from './loader.js';
import { VfioError } from '../errors.js';
import { statusError, statusKind } from './status.js';
import { badArgument, checkBigU64s, checkBytes, checkInt, checkInts, checkObject, checkOptObject, checkPageSize, checkString } from '../../shim/args.js';

/** PCI_CAP_ID_* of the capabilities this module interprets (include/uapi/linux/pci_regs.h). */
export const PCI_CAP_ID_MSI = 0x05;
/** PCI_CAP_ID_MSIX: the MSI-X capability's ID. */
export const PCI_CAP_ID_MSIX = 0x11;
/** VFIO region index of the expansion ROM (VFIO_PCI_ROM_REGION_INDEX); BARs are 0..5. */
export const ROM_INDEX = 6;

/** What an implemented BAR is: 32-bit or 64-bit memory, I/O space, or the expansion ROM. */
export type BarKind = 'memory32' | 'memory64' | 'io' | 'rom';
const KINDS = ['none', 'memory32', 'memory64', 'io', 'memory64-upper', 'rom'] as const;
/** What a BAR slot of a {@link PciConfig} holds: a {@link BarKind}, 'none' (unimplemented) or 'memory64-upper' (the upper half of the 64-bit BAR in the slot before). */
export type BarSlotKind = (typeof KINDS)[number];

/** An implemented BAR as the device's config shows it. */
export interface Bar {
  /** 0..5, or ROM_INDEX (6) for the expansion ROM: the VFIO region index. */
  readonly index: number;
  /** What the BAR is. */
  readonly kind: BarKind;
  /** Memory BARs: the prefetchable bit. */
  readonly prefetchable: boolean;
  /** The VFIO region size. */
  readonly size: bigint;
  /** The address in the device's config (the host's view; both halves for a 64-bit BAR). */
  readonly address: bigint;
  /** Config offset of the BAR register (the low dword for a 64-bit BAR). */
  readonly register: number;
  /** ROM only: the enable bit as the device has it. */
  readonly romEnabled: boolean;
}

/** One entry of the standard capability list. */
export interface Capability {
  /** PCI_CAP_ID_* (0x05 MSI, 0x10 PCI Express, 0x11 MSI-X, ...). */
  readonly id: number;
  /** Its offset in config space. */
  readonly offset: number;
}
/** The MSI capability as the device's config shows it. */
export interface MsiCapability {
  /** The capability's offset in config space. */
  readonly offset: number;
  /** Its Message Control register. */
  readonly control: number;
  /** 64-bit message addresses (Message Control bit 7). */
  readonly is64Bit: boolean;
  /** Per-vector masking (Message Control bit 8). */
  readonly perVectorMask: boolean;
  /** Vectors the function is capable of: 2^MMC (1..32). */
  readonly vectors: number;
}
/** The MSI-X capability as the device's config shows it. */
export interface MsixCapability {
  /** The capability's offset in config space. */
  readonly offset: number;
  /** Its Message Control register. */
  readonly control: number;
  /** Table entries (Table Size + 1). */
  readonly tableSize: number;
  /** The BAR (0..5) that holds the vector table (BIR). */
  readonly tableBar: number;
  /** The table's offset in that BAR. */
  readonly tableOffset: number;
  /** The BAR that holds the Pending Bit Array. */
  readonly pbaBar: number;
  /** The PBA's offset in that BAR. */
  readonly pbaOffset: number;
}
/** The capability list, from {@link findCapabilities}. */
export interface Capabilities {
  /** Every capability, in list order. */
  readonly list: readonly Capability[];
  /** The MSI capability, if the function has one. */
  readonly msi?: MsiCapability;
  /** The MSI-X capability, if the function has one. */
  readonly msix?: MsixCapability;
}

/** A page-rounded range of a BAR that must stay trapped (not mmapped). */
export interface MsixHole {
  /** The BAR (0..5) the hole is in. */
  readonly bar: number;
  /** Offset of the hole in the BAR (page-aligned). */
  readonly offset: bigint;
  /** Bytes in the hole (whole pages). */
  readonly size: bigint;
  /** What it keeps trapped: the vector table, the PBA, or both (they share a page). */
  readonly covers: 'table' | 'pba' | 'table+pba';
}

/** What the caller must do after a guest config write, in the order given. */
export type PciAction =
  /** Remove the guest mapping of BAR `bar`: `size` bytes at guest address `address`. */
  | { readonly kind: 'unmap'; readonly bar: number; readonly address: bigint; readonly size: bigint }
  /** Map BAR `bar` (`size` bytes) at guest address `address` (KVM memory slot or trap range). */
  | { readonly kind: 'map'; readonly bar: number; readonly address: bigint; readonly size: bigint }
  /** Write `value` (`width` bytes) to the device's config at `offset` (through VFIO region 7). */
  | { readonly kind: 'forward-write'; readonly offset: number; readonly width: number; readonly value: number }
  /** The guest changed the MSI (or MSI-X) capability; `control` is its Message Control now. */
  | { readonly kind: 'msi-update'; readonly offset: number; readonly control: number }
  /** The guest changed the MSI-X capability; `control` is its Message Control now. */
  | { readonly kind: 'msix-update'; readonly offset: number; readonly control: number }
  /** MSI-X vector `vector` (src/core/msix.ts): its route is now `address`/`data` (update the KVM
   *  route or the userspace table; keep its irqfd). */
  | { readonly kind: 'msix-route'; readonly vector: number; readonly address: bigint; readonly data: number }
  /** The vector stopped being live: its fires must come to the host (fire() makes them pending). */
  | { readonly kind: 'msix-mask'; readonly vector: number }
  /** The vector is live again with its current route: let the kernel deliver it directly. */
  | { readonly kind: 'msix-unmask'; readonly vector: number }
  /** Inject the vector now with this address/data (a fire while live, or pending at unmask). */
  | { readonly kind: 'msix-deliver'; readonly vector: number; readonly address: bigint; readonly data: number };

/** A BAR slot of a {@link PciConfig} as the guest programmed it ({@link PciConfig.bar}). */
export interface BarState {
  /** The slot: 0..5, or 6 for the ROM. */
  readonly index: number;
  /** What the slot holds. */
  readonly kind: BarSlotKind;
  /** The guest address programmed in the shadow register (0: unassigned). */
  readonly address: bigint;
  /** The BAR's size in bytes (0 for an unimplemented slot). */
  readonly size: bigint;
  /** Mapped into the guest: memory (or I/O) decoding is on in COMMAND and the address is assigned. */
  readonly mapped: boolean;
  /** Where the BAR is mapped (after the actions returned so far were carried out). */
  readonly mappedAt: bigint | undefined;
  /** An all-ones sizing write is in its register. */
  readonly sizing: boolean;
  /** 64-bit: the low half was written, the upper not yet. */
  readonly pending: boolean;
  /** Memory BARs: the prefetchable bit. */
  readonly prefetchable: boolean;
}

/** Counters of a {@link PciConfig}, from {@link PciConfig.stats}. */
export interface PciConfigStats {
  /** Guest writes dropped: bad width, misaligned, or past the config space. */
  readonly badWrites: bigint;
  /** Guest reads answered with all-ones for the same reasons. */
  readonly badReads: bigint;
  /** Writes that tried to change read-only bits (those bits were left alone). */
  readonly readOnlyWrites: bigint;
  /** The guest's COMMAND register. */
  readonly command: number;
}

/** Config ranges a {@link PciConfig} passes through to the device for guest reads (vendor capabilities, for instance); guest writes there come back as 'forward-write' actions. */
export interface ForwardOptions {
  /** Dword-aligned ranges of config space passed through to the device (not the header, MSI or
   *  MSI-X capability). */
  readonly ranges: readonly { readonly offset: number; readonly length: number }[];
  /** Reads the device's config (VFIO region 7) for a guest read inside a range. */
  read(offset: number, width: 1 | 2 | 4): number;
}

/** Options of {@link PciConfig}. */
export interface PciConfigOptions {
  /** Device name for error messages (0000:00:02.0). */
  readonly device?: string;
  /** Config ranges read from the device instead of the shadow (default: none). */
  readonly forward?: ForwardOptions;
}

// --- core plumbing ---

const CFG_AT = 0;
const SIZES_AT = 4096;
const OUT_AT = 8192;
const OUT_CAP = 1024;
const ACTION_SIZE = 32;
/** Bytes a config write's actions may need: pci_limits result 9 (MAX_ACTIONS_PER_CONFIG_WRITE:
 *  8 of the shadow's + 3 per MSI-X vector, 2048 vectors) x 32. Inside the transient scratch. */
const WRITE_CAP = (8 + 3 * 2048) * ACTION_SIZE;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

const PCI_EXPORTS = ['config_bar', 'config_create', 'config_forward', 'config_free', 'config_info', 'config_read', 'config_reset', 'config_write', 'decode_bars', 'find_caps', 'msix_holes',
  'msix_relocation', 'msix_guest_view', 'msix_read', 'msix_write', 'msix_fire', 'msix_vector', 'msix_info'] as const;

let bound: { c: Core; f: Readonly<Record<(typeof PCI_EXPORTS)[number], CoreFn>>; u32: Uint32Array; u64: BigUint64Array } | undefined;
/** The pci module's exports and views (shared with src/core/msix.ts). @internal */
export function coreOf(): NonNullable<typeof bound> {
  if (bound) return bound;
  const c = core();
  bound = { c, f: bindExports(c, 'pci_', PCI_EXPORTS), u32: new Uint32Array(c.u8.buffer), u64: new BigUint64Array(c.u8.buffer) };
  return bound;
}

/** Throws the VfioError for a pci_* status (shared with src/core/msix.ts). @internal */
export function fail(status: number, what: string, device?: string): never {
  throw statusError(coreOf().c, status, {
    what: `cannot ${what}`, device, at: (offset) => ` (config offset 0x${offset.toString(16)})`,
    hint: statusKind(coreOf().c, status) === 'kernel-reply' ? 'the config space or region sizes the device reported are malformed; this device cannot be passed through as is' : undefined,
  });
}

/** Puts the config bytes and the 7 region sizes in scratch; returns [cfgPtr, len, sizesPtr]. @internal */
export function stage(config: Uint8Array, sizes: readonly bigint[], device?: string): [number, number, number] {
  if (!(config instanceof Uint8Array) || (config.length !== 256 && config.length !== 4096)) {
    throw new VfioError({ kind: 'bad-argument', device, message: `config space must be a Uint8Array of 256 or 4096 bytes, got ${config instanceof Uint8Array ? config.length : typeof config}`, hint: 'pass the bytes read from VFIO region 7 (VFIO_PCI_CONFIG_REGION_INDEX)' });
  }
  if (!Array.isArray(sizes) || sizes.length < 6 || sizes.length > 7 || !sizes.every((s) => typeof s === 'bigint' && s >= 0n && s <= U64_MAX)) {
    throw new VfioError({ kind: 'bad-argument', device, message: 'sizes must be 6 or 7 bigints in [0, 2^64): the VFIO region sizes of BAR0..BAR5 and optionally the ROM', hint: '0n for an unimplemented BAR and for the upper slot of a 64-bit BAR' });
  }
  const { c } = coreOf();
  const cfg = c.put(config, CFG_AT);
  const raw = new BigUint64Array(7);
  sizes.forEach((s, i) => { raw[i] = s; });
  const sp = c.put(new Uint8Array(raw.buffer), SIZES_AT);
  return [cfg, config.length, sp];
}

/** Where a call's output records go in the transient scratch (shared with src/core/msix.ts). @internal */
export function outPtr(): number { return coreOf().c.transientPtr + OUT_AT; }

/** Decodes the implemented BARs (and the ROM, index 6) of a type 0 config space. `sizes`: the
 *  VFIO region sizes of regions 0..5 and optionally 6 (ROM); 0n = unimplemented. Throws
 *  'kernel-reply' for a malformed config (64-bit BAR in slot 5, size not a power of two, too
 *  small or too large, reserved type, upper slot of a 64-bit BAR with a size, not type 0).
 * Also 'bad-argument' for a config that is not 256 or 4096 bytes, or sizes that are not 6 or 7
 * bigints in [0, 2^64). Pure: the Wasm core decodes, no syscall.
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 * import { decodeBars, findCapabilities } from 'vfiokit/core';
 *
 * const dev = openDevice('0000:00:03.0');
 * const cfgRegion = dev.region(7); // VFIO_PCI_CONFIG_REGION_INDEX
 * const config = Uint8Array.from({ length: 256 }, (_, off) => Number(cfgRegion.read(off, 1))); // byte by byte, trapped
 * const sizes = dev.regions.slice(0, 7).map((r) => (r.ok ? r.size : 0n));
 * for (const bar of decodeBars(config, sizes)) console.log(bar.index, bar.kind, bar.size);
 * console.log(findCapabilities(config).msix?.tableSize);
 * dev.close();
 * ```
 */
export function decodeBars(config: Uint8Array, sizes: readonly bigint[]): Bar[] {
  checkBytes('config', config); checkBigU64s('sizes', sizes);
  const [cfg, len, sp] = stage(config, sizes);
  const { f, u32, u64 } = coreOf();
  const out = outPtr();
  const n = f.decode_bars(cfg, len, sp, out, OUT_CAP);
  if (n < 0) fail(n, 'decode the BARs');
  const bars: Bar[] = [];
  for (let i = 0; i < n; i++) {
    const p = out + i * 32;
    const k = KINDS[u32[(p + 4) >>> 2]!]!;
    if (k === 'none' || k === 'memory64-upper') continue;
    const flags = u32[(p + 8) >>> 2]!;
    bars.push({
      index: u32[p >>> 2]!, kind: k, prefetchable: (flags & 1) !== 0, romEnabled: (flags & 2) !== 0,
      register: u32[(p + 12) >>> 2]!, address: u64[(p + 16) >>> 3]!, size: u64[(p + 24) >>> 3]!,
    });
  }
  return bars;
}

/** Walks the capability list (the first 256 bytes; extended capabilities are not walked).
 * Throws 'kernel-reply' for a malformed list (a loop, an offset out of range), 'bad-argument' for a config that is not 256 or 4096 bytes.
 */
export function findCapabilities(config: Uint8Array): Capabilities {
  checkBytes('config', config);
  const [cfg, len] = stage(config, [0n, 0n, 0n, 0n, 0n, 0n]);
  const { c, f } = coreOf();
  const u8 = c.u8;
  const out = outPtr();
  const n = f.find_caps(cfg, len, out, OUT_CAP);
  if (n < 0) fail(n, 'walk the capability list');
  const list: Capability[] = [];
  for (let i = 0; i < n; i++) list.push({ id: u8[out + i * 4]!, offset: u8[out + i * 4 + 2]! | (u8[out + i * 4 + 3]! << 8) });
  const r = (i: number) => Number(c.result(i));
  const msiOff = r(0), msixOff = r(2);
  const msi = msiOff === 0 ? undefined : {
    offset: msiOff, control: r(1), is64Bit: (r(1) & 0x80) !== 0, perVectorMask: (r(1) & 0x100) !== 0, vectors: 1 << ((r(1) >> 1) & 7),
  };
  const msix = msixOff === 0 ? undefined : {
    offset: msixOff, control: r(3), tableBar: r(4), tableOffset: r(5), pbaBar: r(6), pbaOffset: r(7), tableSize: r(8),
  };
  return { list, msi, msix };
}

/** The `mappable` BARs as a bit mask and the page size, checked (msixHoles, msixRelocation). @internal */
export function pageArgs(opts: { pageSize: number; mappable?: readonly number[] }): [number, bigint] {
  let mask = 0;
  if (opts.mappable !== undefined) for (const b of checkInts('opts.mappable', opts.mappable, 0, 5)) mask |= 1 << b;
  return [mask, BigInt(checkPageSize('opts.pageSize', opts.pageSize))];
}

/** The page-rounded MSI-X table/PBA ranges that must stay trapped, per BAR. `pageSize`: the
 *  host's mmap page (4096 or 65536; any power of two between). `mappable`: BAR indexes whose
 *  region has VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (no hole there).
 * `config` and `sizes` as for {@link decodeBars}. Throws 'bad-argument' (page size, mappable indexes), 'kernel-reply' (a table or PBA outside its BAR).
 */
export function msixHoles(config: Uint8Array, sizes: readonly bigint[], opts: { pageSize: number; mappable?: readonly number[] }): MsixHole[] {
  checkBytes('config', config); checkBigU64s('sizes', sizes); checkObject('opts', opts);
  const [cfg, len, sp] = stage(config, sizes);
  const [mask, ps] = pageArgs(opts);
  const { f, u32, u64 } = coreOf();
  const out = outPtr();
  const n = f.msix_holes(cfg, len, sp, mask, ps, out, OUT_CAP);
  if (n < 0) fail(n, 'compute the MSI-X holes');
  const holes: MsixHole[] = [];
  for (let i = 0; i < n; i++) {
    const p = out + i * 24;
    const w = u32[(p + 4) >>> 2]!;
    holes.push({ bar: u32[p >>> 2]!, covers: w === 3 ? 'table+pba' : w === 1 ? 'table' : 'pba', offset: u64[(p + 8) >>> 3]!, size: u64[(p + 16) >>> 3]! });
  }
  return holes;
}

/** Decodes n action records at out (shared with src/core/msix.ts). @internal */
export function readActions(out: number, n: number): PciAction[] {
  const { u32, u64 } = coreOf();
  const acts: PciAction[] = [];
  for (let i = 0; i < n; i++) {
    const p = out + i * ACTION_SIZE;
    const kind = u32[p >>> 2]!;
    const bar = u32[(p + 4) >>> 2]!;
    const from = u64[(p + 8) >>> 3]!, to = u64[(p + 16) >>> 3]!, size = u64[(p + 24) >>> 3]!;
    switch (kind) {
      case 1: acts.push({ kind: 'map', bar, address: to, size }); break;
      case 2: acts.push({ kind: 'unmap', bar, address: from, size }); break;
      case 3: acts.push({ kind: 'forward-write', offset: Number(from), width: Number(size), value: Number(to) }); break;
      case 5: acts.push({ kind: 'msi-update', offset: Number(from), control: Number(to) }); break;
      case 6: acts.push({ kind: 'msix-update', offset: Number(from), control: Number(to) }); break;
      case 7: acts.push({ kind: 'msix-route', vector: bar, address: from, data: Number(to) }); break;
      case 8: acts.push({ kind: 'msix-mask', vector: bar }); break;
      case 9: acts.push({ kind: 'msix-unmask', vector: bar }); break;
      case 10: acts.push({ kind: 'msix-deliver', vector: bar, address: from, data: Number(to) }); break;
      default: throw new VfioError({ kind: 'core-bug', message: `the pci core returned unknown action ${kind}`, hint: 'this is a bug in vfiokit; please report it' });
    }
  }
  return acts;
}

/** The shadow config space of one passed-through function. Guest config reads and writes go
 *  through read()/write(); write() returns what the caller must do (map/unmap BARs, forward
 *  COMMAND to the device, reprogram MSI). close() frees its slot in the core.
 * Guest accesses never throw; a caller's mistake (an offset that is not a u32) is 'bad-argument',
 * a closed config 'closed'.
 *
 * @example
 * ```ts
 * import { PciConfig } from 'vfiokit';
 *
 * declare const config: Uint8Array;      // the device's config space (VFIO region 7)
 * declare const sizes: readonly bigint[]; // region sizes of BAR0..BAR5 and the ROM
 * using shadow = new PciConfig(config, sizes, { device: '0000:00:03.0' });
 * shadow.write(0x10, 4, 0xffff_ffff);          // the guest sizes BAR0
 * console.log(shadow.read(0x10, 4).toString(16));
 * shadow.write(0x10, 4, 0x1000_0000);          // and places it
 * for (const a of shadow.write(0x04, 2, 0x2)) { // memory decoding on
 *   if (a.kind === 'map') console.log(`map BAR${a.bar} at 0x${a.address.toString(16)}, ${a.size} bytes`);
 * }
 * ```
 */
export class PciConfig implements Disposable {
  /** The device name used in error messages, if given. */
  readonly device: string | undefined;
  private handle = 0;
  private readonly forward: ForwardOptions | undefined;

  /**
   * Makes the shadow from the device's config bytes and region sizes (as {@link decodeBars} takes
   * them); the guest sees the BARs unassigned and decoding off.
   * @throws VfioError 'bad-argument' (config or sizes, forward ranges), 'kernel-reply' (a
   *   malformed config), 'no-space' (64 shadows are open: the core's limit).
   */
  constructor(config: Uint8Array, sizes: readonly bigint[], opts: PciConfigOptions = {}) {
    opts = checkOptObject('opts', opts);
    if (opts.device !== undefined) checkString('opts.device', opts.device);
    if (opts.forward !== undefined) {
      checkObject('opts.forward', opts.forward);
      if (!Array.isArray(opts.forward.ranges)) badArgument('opts.forward.ranges', opts.forward.ranges, 'an array of { offset, length }');
      opts.forward.ranges.forEach((r, i) => checkObject(`opts.forward.ranges[${i}]`, r));
      if (typeof opts.forward.read !== 'function') {
        throw new VfioError({ kind: 'bad-argument', device: opts.device, message: 'opts.forward.read: forward ranges need a forward.read function', hint: 'pass read(offset, width) that reads VFIO region 7' });
      }
    }
    this.device = opts.device;
    this.forward = opts.forward;
    const [cfg, len, sp] = stage(config, sizes, opts.device);
    const h = coreOf().f.config_create(cfg, len, sp);
    if (h < 0) fail(h, 'create the shadow config space', this.device);
    this.handle = h;
    for (const r of opts.forward?.ranges ?? []) {
      const ok = Number.isInteger(r.offset) && Number.isInteger(r.length) && r.offset >= 0 && r.length >= 0 && r.offset <= 0xffffffff && r.length <= 0xffffffff;
      const st = ok ? coreOf().f.config_forward(h, r.offset, r.length) : -1;
      if (st < 0) { this.close(); fail(st, `forward config range [0x${r.offset.toString(16)}, +0x${r.length.toString(16)})`, this.device); }
    }
  }

  /** True once close() has run. */
  get closed(): boolean { return this.handle === 0; }

  /** The core's handle, for src/core/msix.ts (the MSI-X emulation lives in the same slot).
   *  Throws 'closed' once closed. Not part of the public API.
   *  @internal */
  coreHandle(): number { return this.live(); }

  /** A guest read of `width` (1, 2, 4) bytes at `offset`. Never throws for what a guest can do:
   *  a bad width, misaligned or out-of-range access reads all-ones and is counted. */
  read(offset: number, width: number): number {
    const h = this.live();
    checkInt('offset', offset, 0, U32_MAX); checkInt('width', width, 0, U32_MAX);
    const { c, f, u64 } = coreOf();
    const out = outPtr();
    const n = f.config_read(h, offset, width, out, OUT_CAP);
    if (n < 0) fail(n, `read config offset 0x${offset.toString(16)}`, this.device);
    if (n === 0) return Number(c.result(0));
    // One FORWARD_READ record (+8 offset, +24 width); ranges exist only with forward.read set.
    const w = Number(u64[(out + 24) >>> 3]!) as 1 | 2 | 4;
    const v = this.forward!.read(Number(u64[(out + 8) >>> 3]!), w);
    return w === 4 ? v >>> 0 : (v >>> 0) & ((1 << (w * 8)) - 1);
  }

  /** A guest write; returns the actions to carry out, in order (with MSI-X: the 'msix-mask's of
   *  vectors a Message Control write stops before its 'msix-update', the 'msix-route' /
   *  'msix-unmask' / 'msix-deliver's of vectors it starts after it; src/core/msix.ts). Never throws
   *  for what a guest can do: bad writes are dropped and counted, read-only bits are left alone. */
  write(offset: number, width: number, value: number): PciAction[] {
    const h = this.live();
    checkInt('offset', offset, 0, U32_MAX); checkInt('width', width, 0, U32_MAX); checkInt('value', value, 0, U32_MAX);
    const out = outPtr();
    const n = coreOf().f.config_write(h, offset, width, value, out, WRITE_CAP);
    if (n < 0) fail(n, `write config offset 0x${offset.toString(16)}`, this.device);
    return readActions(out, n);
  }

  /**
   * The device was reset (VFIO_DEVICE_RESET, e.g. between guest runs): puts the guest's view back
   * to a function out of reset, from the device's config space read after the reset. BARs are
   * unassigned and unmapped, COMMAND decoding off, MSI and MSI-X disabled, and (through the same
   * core slot) every MSI-X vector of a {@link PciMsix} masked with address and data 0 and nothing
   * pending. Forward ranges stay; the counters of stats() restart at 0. Returns what the caller
   * must undo, in order: 'msix-mask' per vector the host had live, 'unmap' per BAR it had mapped
   * for the guest, 'msi-update' / 'msix-update' (control now disabled) for a capability the guest
   * had enabled: tear down the VFIO triggers and memory slots they name.
   * @param config - The device's config space after the reset (VFIO region 7), 256 or 4096 bytes.
   * @param sizes - The region sizes of BAR0..BAR5 and the ROM, as the constructor took them.
   * @throws VfioError 'closed', 'bad-argument' (config or sizes), 'kernel-reply' (a malformed
   *   config), 'bad-state' (another layout than the shadow's: not the same function; nothing changed).
   *
   * @example
   * ```ts
   * import { PciConfig, type VfioDevice } from 'vfiokit';
   *
   * declare const dev: VfioDevice;          // the passed-through function
   * declare const shadow: PciConfig;        // its guest view, made at start
   * declare const readConfig: () => Uint8Array; // region 7, read again
   * declare const sizes: readonly bigint[];
   * dev.reset();                            // VFIO_DEVICE_RESET
   * for (const a of shadow.reset(readConfig(), sizes)) {
   *   if (a.kind === 'unmap') console.log(`remove the memslot of BAR${a.bar} at 0x${a.address.toString(16)}`);
   *   if (a.kind === 'msix-update' || a.kind === 'msi-update') console.log('disable the VFIO MSI/MSI-X index');
   * }
   * ```
   */
  reset(config: Uint8Array, sizes: readonly bigint[]): PciAction[] {
    const h = this.live();
    const [cfg, len, sp] = stage(config, sizes, this.device);
    const out = outPtr();
    const n = coreOf().f.config_reset(h, cfg, len, sp, out, WRITE_CAP);
    if (n < 0) fail(n, 'reset the shadow config space', this.device);
    return readActions(out, n);
  }

  /** The state of BAR slot `index` (0..5, 6 = ROM). */
  bar(index: number): BarState {
    const h = this.live();
    if (!Number.isInteger(index) || index < 0 || index > 6) throw new VfioError({ kind: 'bad-argument', device: this.device, message: `BAR index ${index} is not 0..6` });
    const { c, f } = coreOf();
    const k = f.config_bar(h, index);
    if (k < 0) fail(k, `read BAR ${index}`, this.device);
    const mapped = c.result(2) === 1n;
    return {
      index, kind: KINDS[k]!, address: c.result(0), size: c.result(1), mapped, mappedAt: mapped ? c.result(3) : undefined,
      sizing: c.result(4) !== 0n, pending: c.result(5) === 1n, prefetchable: (c.result(6) & 1n) !== 0n,
    };
  }

  /** All seven slots.
   * Throws 'closed' after close().
   */
  bars(): BarState[] { return [0, 1, 2, 3, 4, 5, 6].map((i) => this.bar(i)); }

  /** The counters of refused guest accesses and the guest's COMMAND register. Throws 'closed' after close(). */
  stats(): PciConfigStats {
    const h = this.live();
    const { c, f } = coreOf();
    const st = f.config_info(h);
    if (st < 0) fail(st, 'read the config counters', this.device);
    return { badWrites: c.result(0), badReads: c.result(1), readOnlyWrites: c.result(2), command: Number(c.result(3)) };
  }

  /** Frees the shadow's slot in the core. Closing twice is harmless. Mappings the caller made
   *  from map actions are the caller's to undo (bars() says which are mapped). */
  close(): void {
    if (this.handle === 0) return;
    coreOf().f.config_free(this.handle);
    this.handle = 0;
  }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  private live(): number {
    if (this.handle === 0) throw new VfioError({ kind: 'closed', device: this.device, message: 'the PCI config space is closed', hint: 'create a new PciConfig' });
    return this.handle;
  }
}

/** Offsets, widths and values cross as u32 (a guest's odd width or offset is refused and counted
 *  by the core); anything else is a bug of the caller, not the guest. */
const U32_MAX = 0xffff_ffff;
