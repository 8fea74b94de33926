// The mini-vmm's PCI host bridge, as the guest sees it: a generic ECAM window
// (`pci-host-ecam-generic`, PCIe's enhanced configuration access mechanism) over bus 0, a 32-bit
// MMIO window where the guest's Linux places the BARs itself, INTA..INTD on four SPIs, and MSIs to
// the vGICv3's ITS with the requester ID as the DeviceID. Pure: fed decoded MMIO exits.
//
// ECAM: offset = bus << 20 | device << 15 | function << 12 | register (0..4095). Each function the
// VMM attached at a device/function number gets its config reads and writes (a vfiokit
// PciPassthrough); an access to any other function reads all-ones, which a PCI enumerator takes as
// "no device", and a write there is dropped. An access that is not 1, 2 or 4 bytes naturally
// aligned reads all-ones and is dropped too. Every case is counted.
//
// Not responsible for: what a function's config space holds (vfiokit's PciPassthrough), its BARs'
// memory (memslots and trapped accesses: linux.ts), the guest's tree (dtb.ts).

import { VfioError } from '../index.js';
import { checkBigU64, checkBool, checkFn, checkInt, checkInts, checkObject, checkOneOf } from '../../shim/args.js';
import { MMIO_WIDTHS } from './abi.js';

/** Where things are, beside vmm.ts's LAYOUT (the same map as QEMU virt's, so a kernel feels at home). */
export const PCI_LAYOUT = Object.freeze({
  /** The vGICv3's ITS, between the distributor (0x0800_0000) and the redistributors (0x080a_0000). */
  its: 0x0808_0000n,
  /** 32-bit, non-prefetchable memory window: the guest assigns BARs in it (CPU address = PCI address). */
  mmio32: { base: 0x1000_0000n, size: 0x2eff_0000n },
  /** The ECAM window: one bus, 1 MiB (32 devices x 8 functions x 4 KiB). */
  ecam: { base: 0x3f00_0000n, buses: 1 },
  /** The SPIs of INTA..INTD (GSI = SPI, INTID = SPI + 32), level-high. */
  intxSpis: [3, 4, 5, 6] as const,
  /** The device number of the first passed-through function (00:01.0); the next ones follow. */
  firstSlot: 1,
});

/** Bytes of config space per function (PCIe: 4 KiB, the ECAM stride). */
export const PCI_CONFIG_SPACE = 4096;
/** ECAM address bits (PCIe base spec, "Enhanced Configuration Access Mechanism"). */
export const ECAM_BUS_SHIFT = 20, ECAM_DEV_SHIFT = 15, ECAM_FN_SHIFT = 12;
/** Buses per segment, devices per bus and functions per device. */
export const PCI_BUSES = 256, PCI_DEVICES = 32, PCI_FUNCTIONS = 8;
/** PCI_INTERRUPT_PIN: 0 none, 1..4 INTA..INTD. */
export const PCI_INTERRUPT_PIN = 0x3d;

/** The bytes of ECAM window that `buses` buses take. */
export const ecamSize = (buses: number): bigint => BigInt(buses) << BigInt(ECAM_BUS_SHIFT);

export interface EcamAddress { bus: number; dev: number; fn: number; reg: number }
/** Splits an offset into the ECAM window into bus, device, function and register. */
export function decodeEcam(offset: bigint): EcamAddress {
  if (offset < 0n) throw new RangeError(`ECAM offset ${offset} is negative`);
  const o = Number(offset & 0xfff_ffffn);   // 28 bits: 256 buses
  return { bus: Number(offset >> BigInt(ECAM_BUS_SHIFT)), dev: (o >> ECAM_DEV_SHIFT) & 0x1f, fn: (o >> ECAM_FN_SHIFT) & 0x7, reg: o & 0xfff };
}
/** The ECAM offset of a function's register (the inverse of decodeEcam). */
export const ecamOffset = (a: EcamAddress): bigint =>
  (BigInt(a.bus) << BigInt(ECAM_BUS_SHIFT)) | BigInt((a.dev << ECAM_DEV_SHIFT) | (a.fn << ECAM_FN_SHIFT) | a.reg);

/** The requester ID (bus << 8 | device << 3 | function): what the function's MSIs carry, and the
 *  ITS's DeviceID for it (the tree's msi-map is the identity). */
export function requesterId(bus: number, dev: number, fn: number): number {
  return (checkInt('bus', bus, 0, PCI_BUSES - 1) << 8) | (checkInt('dev', dev, 0, PCI_DEVICES - 1) << 3) | checkInt('fn', fn, 0, PCI_FUNCTIONS - 1);
}

/** The SPI a function's INTx pin (1..4 = INTA..INTD) arrives on: the tree's interrupt-map sends pin
 *  p of every device to intxSpis[p - 1] (no swizzle: the map's mask ignores the device number). */
export function intxSpi(pin: number, spis: readonly number[] = PCI_LAYOUT.intxSpis): number | undefined {
  checkInt('pin', pin, 0, 0xff);
  checkInts('spis', spis);
  return pin >= 1 && pin <= 4 ? spis[pin - 1] : undefined;
}

/** What a function's config space answers (vfiokit's PciPassthrough has these two). */
export interface ConfigSpace {
  /** A config read of `width` bytes at `offset`: the value the guest sees. */
  configRead(offset: number, width: number): number;
  /** A config write of `width` bytes at `offset`. */
  configWrite(offset: number, width: number, value: number): void;
}

/** What the ECAM window saw (EcamHost.counts). */
export interface EcamCounts {
  /** Reads that reached an attached function. */
  reads: number;
  /** Writes that reached an attached function. */
  writes: number;
  /** Accesses to a function nobody attached (reads all-ones, writes dropped): the enumerator's probes. */
  absent: number;
  /** Accesses of a width or alignment config space does not take (all-ones / dropped). */
  bad: number;
}

/** The ECAM window of one PCI segment: routes each access to the function attached at its address. */
export class EcamHost {
  /** Bytes of the window (1 MiB per bus). */
  readonly size: bigint;
  /** What the window saw so far. */
  readonly counts: EcamCounts = { reads: 0, writes: 0, absent: 0, bad: 0 };
  readonly #fns = new Map<number, ConfigSpace>();
  /** The window at guest address `base` over buses 0 .. `buses` - 1. */
  readonly base: bigint;
  /** Buses behind the window (1 .. 256). */
  readonly buses: number;
  /** A window at `base` over `buses` buses.
   *  @throws VfioError 'bad-argument' when base is not a u64 or buses is not 1 .. 256. */
  constructor(base: bigint, buses: number) {
    this.base = checkBigU64('base', base);
    this.buses = checkInt('buses', buses, 1, PCI_BUSES);
    this.size = ecamSize(buses);
  }
  /** Places a function at bus:dev.fn. */
  attach(at: { bus: number; dev: number; fn: number }, cfg: ConfigSpace): void {
    checkObject('at', at);
    const bus = checkInt('at.bus', at.bus, 0, this.buses - 1), dev = checkInt('at.dev', at.dev, 0, PCI_DEVICES - 1), fn = checkInt('at.fn', at.fn, 0, PCI_FUNCTIONS - 1);
    checkObject('cfg', cfg);
    checkFn('cfg.configRead', cfg.configRead);
    checkFn('cfg.configWrite', cfg.configWrite);
    const key = requesterId(bus, dev, fn);
    if (this.#fns.has(key)) throw new VfioError({ kind: 'bad-state', message: `a function is attached at ${bus}:${dev}.${fn} already`, hint: 'attach each function at its own address' });
    this.#fns.set(key, cfg);
  }
  /** True when gpa lies in the window. */
  contains(gpa: bigint): boolean { checkBigU64('gpa', gpa); return gpa >= this.base && gpa - this.base < this.size; }
  /** One MMIO exit: not the window's -> handled false; a read -> the value (all-ones for nothing there). */
  handle(gpa: bigint, len: number, isWrite: boolean, data: bigint): { handled: boolean; reply?: bigint } {
    checkOneOf('len', len, MMIO_WIDTHS);
    checkBool('isWrite', isWrite);
    checkBigU64('data', data);
    if (!this.contains(gpa)) return { handled: false };
    const ones = (1n << BigInt(8 * len)) - 1n;
    const a = decodeEcam(gpa - this.base);
    if (!(len === 1 || len === 2 || len === 4) || a.reg % len !== 0) { this.counts.bad++; return { handled: true, ...(isWrite ? {} : { reply: ones }) }; }
    const f = this.#fns.get(requesterId(a.bus, a.dev, a.fn));
    if (!f) { this.counts.absent++; return { handled: true, ...(isWrite ? {} : { reply: ones }) }; }
    if (isWrite) { this.counts.writes++; f.configWrite(a.reg, len, Number(data & ones)); return { handled: true }; }
    this.counts.reads++;
    return { handled: true, reply: BigInt(f.configRead(a.reg, len) >>> 0) & ones };
  }
}
