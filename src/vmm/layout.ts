// The guest's physical map: the one home of where the board puts things (the vGICv3, its ITS and
// redistributors, the PL011, the PCI host bridge's windows (32-bit and 64-bit), RAM) and of the platform bus the
// passed-through platform/AMBA devices are placed on. The board follows QEMU virt's low map, so a
// kernel built for virt feels at home; the platform bus is not virt's fixed 32 MiB but every
// guest address from just after the UART to the top of the VM's address space (KVM's IPA size)
// that the board does not use. Pure: unit-tested anywhere (test/unit/vmm/layout.test.ts).
// Not responsible for: creating anything (run.ts), the tree that describes it (board.ts).
import { VfioError } from '../index.js';
import { GICD_SIZE, GICR_SIZE_PER_CPU, GITS_SIZE } from './abi.js';
import { ecamSize } from './ecam.js';
import { PL011_SIZE } from './pl011.js';

/** The fixed part of the map (QEMU virt's addresses): the one home of the guest layout. */
export const BOARD = Object.freeze({
  /** GICv3 distributor, 64 KiB. */
  gicd: 0x0800_0000n,
  /** The ITS's two 64 KiB frames, between the distributor and the redistributors. */
  its: 0x0808_0000n,
  /** The redistributors, 128 KiB per vCPU, up to the UART. */
  gicr: 0x080a_0000n,
  /** The PL011 the earlycon writes to (4 KiB). */
  uart: 0x0900_0000n,
  /** The platform bus starts after the UART's page (so that a device at its host address, 1:1,
   *  may sit where QEMU virt puts its own devices, e.g. the pl031 at 0x0901_0000). */
  busBase: 0x0900_1000n,
  /** First fit starts here (QEMU virt's platform bus): the holes below are filled before first-fit
   *  placements, after the fixed and 1:1 ones took what they asked for. */
  firstFitFloor: 0x0c00_0000n,
  /** The host bridge's 32-bit non-prefetchable window (the guest assigns BARs in it). */
  pciMmio32: { base: 0x1000_0000n, size: 0x2eff_0000n },
  /** The host bridge's 64-bit window (QEMU virt's high PCIe MMIO: 512 GiB at 512 GiB), for the
   *  64-bit BARs (Linux puts them above 4 GiB when it can) and those the 32-bit window cannot hold.
   *  Only in an address space of at least PCI_MMIO64_MIN_IPA_BITS, and only while RAM ends below it. */
  pciMmio64: { base: 0x80_0000_0000n, size: 0x80_0000_0000n },
  /** The host bridge's ECAM window: bus 0 only (1 MiB). */
  ecam: { base: 0x3f00_0000n, buses: 1 },
  /** Guest RAM starts here (its size is the VM's). */
  ram: 0x4000_0000n,
  /** vGIC lines: 32 private + 224 SPIs. */
  nrIrqs: 256,
  /** The SPIs of INTA..INTD behind the host bridge (level-high). */
  intxSpis: [3, 4, 5, 6] as readonly number[],
  /** The platform bus's SPIs: from 112 (QEMU virt's first platform-bus SPI) to the vGIC's last. */
  busSpiFirst: 112,
  /** The device number of the first PCI function behind the bridge (00:01.0). */
  firstPciSlot: 1,
});

/** IPA bits from which the board has the 64-bit PCI window (2^40: the window's top). */
export const PCI_MMIO64_MIN_IPA_BITS = 40;

/** vCPUs the redistributor room (BOARD.gicr up to the UART) holds, bounded by the board tree's cpu
 *  numbering (board.ts MAX_BOARD_CPUS). */
export const MAX_VCPUS = 16;
/** The least guest RAM runVm accepts: a kernel needs more, but the image layout says by how much. */
export const MIN_RAM_BYTES = 0x20_0000n;
/** IPA bits of the smallest VM address space arm64 KVM creates (KVM_VM_TYPE_ARM_IPA_SIZE's floor). */
export const MIN_IPA_BITS = 32;
/** The most IPA bits any arm64 KVM gives (LPA, 52-bit PA). */
export const MAX_IPA_BITS = 52;

/** An inclusive-end-free range [base, base + size). */
export interface GuestRange { name: string; base: bigint; size: bigint }

export interface VmLayout {
  cpus: number;
  ipaBits: number;
  gicd: bigint;
  gicr: { base: bigint; size: bigint };
  its: bigint;
  uart: bigint;
  ecam: { base: bigint; size: bigint; buses: number };
  pciMmio32: { base: bigint; size: bigint };
  /** The 64-bit window; undefined in an address space under
   *  PCI_MMIO64_MIN_IPA_BITS or when RAM reaches BOARD.pciMmio64.base. */
  pciMmio64: { base: bigint; size: bigint } | undefined;
  ram: { gpa: bigint; size: bigint };
  nrIrqs: number;
  /** SPIs of INTA..INTD behind the host bridge. */
  intxSpis: readonly number[];
  /** The platform bus: [base, base + size) with SPIs spiFirst .. spiFirst + spiCount - 1. */
  bus: { base: bigint; size: bigint; spiFirst: number; spiCount: number };
  /** Ranges inside the bus's window the board uses (placed first, so no device lands there). */
  busReserved: readonly GuestRange[];
  /** First fit starts here (BOARD.firstFitFloor). */
  firstFitFloor: bigint;
  /** The device number of the first PCI function. */
  firstPciSlot: number;
  /** Every range of the map, sorted by base (for the overlap check and a report). */
  ranges: readonly GuestRange[];
}

const bad = (what: string, value: unknown, hint: string): never => {
  throw new VfioError({ kind: 'bad-argument', message: `${what}: ${String(value)}`, hint });
};

/** The map for a VM of `cpus` vCPUs, `memBytes` of RAM and an address space of `ipaBits` bits.
 *  @throws VfioError 'bad-argument' when the vCPUs or the RAM do not fit (names the argument). */
export function layoutFor(req: { cpus: number; memBytes: bigint; ipaBits: number }): VmLayout {
  const { cpus, memBytes, ipaBits } = req;
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_VCPUS) bad('cpus', cpus, `give 1 to ${MAX_VCPUS} vCPUs`);
  if (!Number.isInteger(ipaBits) || ipaBits < MIN_IPA_BITS || ipaBits > MAX_IPA_BITS) bad('ipaBits', ipaBits, `KVM's IPA sizes are ${MIN_IPA_BITS} to ${MAX_IPA_BITS} bits`);
  const top = 1n << BigInt(ipaBits);
  if (typeof memBytes !== 'bigint' || memBytes < MIN_RAM_BYTES || memBytes % 0x1000n !== 0n) bad('memBytes', memBytes, `give a multiple of 4 KiB, at least ${MIN_RAM_BYTES} bytes`);
  if (memBytes > top - BOARD.ram) bad('memBytes', memBytes, `RAM at 0x${BOARD.ram.toString(16)} must end inside the VM's ${ipaBits}-bit address space: at most ${top - BOARD.ram} bytes`);
  const gicr = { base: BOARD.gicr, size: GICR_SIZE_PER_CPU * BigInt(cpus) };
  const ecam = { base: BOARD.ecam.base, size: ecamSize(BOARD.ecam.buses), buses: BOARD.ecam.buses };
  const ram = { gpa: BOARD.ram, size: memBytes };
  const w64 = BOARD.pciMmio64;
  const pciMmio64 = ipaBits >= PCI_MMIO64_MIN_IPA_BITS && w64.base + w64.size <= top && ram.gpa + ram.size <= w64.base ? { ...w64 } : undefined;
  const busReserved: GuestRange[] = [
    { name: 'pci-mmio32', ...BOARD.pciMmio32 },
    { name: 'pci-ecam', base: ecam.base, size: ecam.size },
    { name: 'ram', base: ram.gpa, size: ram.size },
    ...(pciMmio64 ? [{ name: 'pci-mmio64', ...pciMmio64 }] : []),
  ];
  const ranges: GuestRange[] = [
    { name: 'gicd', base: BOARD.gicd, size: GICD_SIZE },
    { name: 'its', base: BOARD.its, size: GITS_SIZE },
    { name: 'gicr', ...gicr },
    { name: 'uart', base: BOARD.uart, size: PL011_SIZE },
    ...busReserved,
  ].sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const overlap = firstOverlap(ranges);
  if (overlap) bad('cpus', cpus, `${overlap[0].name} overlaps ${overlap[1].name}: fewer vCPUs`);
  return {
    cpus, ipaBits, gicd: BOARD.gicd, gicr, its: BOARD.its, uart: BOARD.uart, ecam, pciMmio32: { ...BOARD.pciMmio32 }, pciMmio64, ram, nrIrqs: BOARD.nrIrqs, intxSpis: BOARD.intxSpis,
    bus: { base: BOARD.busBase, size: top - BOARD.busBase, spiFirst: BOARD.busSpiFirst, spiCount: BOARD.nrIrqs - 32 - BOARD.busSpiFirst },
    busReserved, ranges, firstFitFloor: BOARD.firstFitFloor, firstPciSlot: BOARD.firstPciSlot,
  };
}

/** The first two ranges (sorted by base) that overlap, or undefined. Sizes are positive. */
export function firstOverlap(sorted: readonly GuestRange[]): [GuestRange, GuestRange] | undefined {
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!, b = sorted[i]!;
    if (b.base < a.base + a.size) return [a, b];
  }
  return undefined;
}
