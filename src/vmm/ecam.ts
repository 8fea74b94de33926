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
/** Devices per bus and functions per device. */
export const PCI_DEVICES = 32, PCI_FUNCTIONS = 8;
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
export const requesterId = (bus: number, dev: number, fn: number): number => (bus << 8) | (dev << 3) | fn;

/** The SPI a function's INTx pin (1..4 = INTA..INTD) arrives on: the tree's interrupt-map sends pin
 *  p of every device to intxSpis[p - 1] (no swizzle: the map's mask ignores the device number). */
export function intxSpi(pin: number, spis: readonly number[] = PCI_LAYOUT.intxSpis): number | undefined {
  return pin >= 1 && pin <= 4 ? spis[pin - 1] : undefined;
}

/** What a function's config space answers (vfiokit's PciPassthrough has these two). */
export interface ConfigSpace {
  configRead(offset: number, width: number): number;
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
  readonly size: bigint;
  readonly counts: EcamCounts = { reads: 0, writes: 0, absent: 0, bad: 0 };
  readonly #fns = new Map<number, ConfigSpace>();
  constructor(readonly base: bigint, readonly buses: number) {
    if (!Number.isInteger(buses) || buses < 1 || buses > 256) throw new RangeError(`an ECAM window has 1..256 buses, not ${buses}`);
    this.size = ecamSize(buses);
  }
  /** Places a function at bus:dev.fn. */
  attach(at: { bus: number; dev: number; fn: number }, cfg: ConfigSpace): void {
    const { bus, dev, fn } = at;
    if (!(bus >= 0 && bus < this.buses && dev >= 0 && dev < PCI_DEVICES && fn >= 0 && fn < PCI_FUNCTIONS)) throw new RangeError(`no function ${bus}:${dev}.${fn} on a ${this.buses}-bus window`);
    const key = requesterId(bus, dev, fn);
    if (this.#fns.has(key)) throw new Error(`a function is attached at ${bus}:${dev}.${fn} already`);
    this.#fns.set(key, cfg);
  }
  /** True when gpa lies in the window. */
  contains(gpa: bigint): boolean { return gpa >= this.base && gpa - this.base < this.size; }
  /** One MMIO exit: not the window's -> handled false; a read -> the value (all-ones for nothing there). */
  handle(gpa: bigint, len: number, isWrite: boolean, data: bigint): { handled: boolean; reply?: bigint } {
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
