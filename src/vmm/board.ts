// The mini-vmm's guest device tree, built with vfiokit's FDT module: the board (cpus, PSCI,
// memory, the GICv3 [with its ITS], [the timer], [a PCI host bridge], chosen) written with FdtBuilder, and the passed-through device (its
// platform bus, its node, the clocks it needs) from guestNodeFor, grafted under the root with
// mergeFdt. Read back with parseFdt (tests) or dtc.
// Phandles: the board's are allocated from 1 and must stay below FIRST_DEVICE_PHANDLE, where
// guestNodeFor's copied clocks start; mergeFdt refuses a clash instead of renumbering.
// Not responsible for: the device's node (guestNodeFor writes it); the FDT format (vfiokit).
import { FdtBuilder } from '../index.js';
import { badArgument, checkBigU64, checkBool, checkInt, checkInts, checkObject, checkString } from '../../shim/args.js';
import { GICD_SIZE, GICR_SIZE_PER_CPU, GITS_SIZE } from './abi.js';
import { PCI_BUSES } from './ecam.js';

/** What the board's tree describes (boardDtb). */
export interface BoardDtbRequest {
  /** Guest RAM: the memory node. */
  ram: { gpa: bigint; size: bigint };
  /** The vGICv3's distributor and redistributors. */
  gic: { dist: bigint; redist: bigint };
  /** vCPUs (cpu@0 .. cpu@N-1, MPIDR Aff0 = index, as KVM gives vCPU n; and N redistributors). Default 1. */
  cpus?: number;
  /** The kernel command line (chosen's bootargs). */
  bootargs?: string;
  /** The architected timer's node (a Linux guest needs it: it is how arm64 Linux finds the timer's
   *  PPIs; the bare-metal guests use no timer). */
  timer?: boolean;
  /** The initramfs in guest RAM: chosen's linux,initrd-start and linux,initrd-end (exclusive). */
  initrd?: { start: bigint; end: bigint };
  /** A PCI host bridge with generic ECAM, and the GIC's ITS for its MSIs. */
  pci?: PciHostDt;
}

/** The PCI host bridge's node (`pci-host-ecam-generic`) and the ITS it sends MSIs to. */
export interface PciHostDt {
  /** The ITS's 128 KiB frame (a child of the GIC node). */
  its: bigint;
  /** The ECAM window: bus-range is 0 .. buses - 1, 1 MiB per bus. */
  ecam: { base: bigint; buses: number };
  /** The 32-bit non-prefetchable memory window for BARs (CPU address = PCI address). */
  mmio32: { base: bigint; size: bigint };
  /** The 64-bit memory window (CPU address = PCI address), for 64-bit BARs; none when undefined. */
  mmio64?: { base: bigint; size: bigint };
  /** SPIs of INTA..INTD, level-high (pci.ts's intxSpi gives a function's). */
  intxSpis: readonly number[];
}

/** The PCI bus's cell encodings (IEEE 1275 PCI binding): phys.hi = npt000ss bbbbbbbb dddddfff
 *  rrrrrrrr, ss = 10 for 32-bit memory space. */
export const PCI_SPACE_MEM32 = 0x0200_0000;
/** phys.hi of 64-bit memory space (ss = 11), not prefetchable: what QEMU virt gives its high
 *  window, so that any 64-bit BAR may go there (a prefetchable one may sit in a non-prefetchable
 *  window, not the other way round). */
export const PCI_SPACE_MEM64 = 0x0300_0000;
/** GIC interrupt specifier: type SPI, and level-high (the INTx lines are level). */
const GIC_SPI = 0, IRQ_TYPE_LEVEL_HIGH = 4;
/** The ITS's DeviceIDs for the host bridge's requester IDs: all 16 bits, mapped one to one. */
const RID_COUNT = 0x1_0000;

/** cpu@N's reg is MPIDR Aff0 (KVM gives vCPU n the MPIDR Aff0 = n for n < 16, then Aff1): the
 *  board writes Aff0 alone, so at most 16 cpus. */
export const MAX_BOARD_CPUS = 16;

/** The first phandle guestNodeFor may hand out (its default); the board's are below it. */
export const FIRST_DEVICE_PHANDLE = 0x1_0000;

/** Each field of a board request, before any node is written. */
function checkBoardRequest(req: BoardDtbRequest): void {
  checkObject('req', req);
  checkObject('req.ram', req.ram); checkBigU64('req.ram.gpa', req.ram.gpa); checkBigU64('req.ram.size', req.ram.size);
  checkObject('req.gic', req.gic); checkBigU64('req.gic.dist', req.gic.dist); checkBigU64('req.gic.redist', req.gic.redist);
  if (req.cpus !== undefined && (!Number.isInteger(req.cpus) || req.cpus < 1 || req.cpus > MAX_BOARD_CPUS)) badArgument('req.cpus', req.cpus, `an integer in 1..${MAX_BOARD_CPUS}`, `give 1 to ${MAX_BOARD_CPUS} (cpu@N's reg is MPIDR Aff0 alone)`);
  if (req.bootargs !== undefined) checkString('req.bootargs', req.bootargs);
  if (req.timer !== undefined) checkBool('req.timer', req.timer);
  if (req.initrd !== undefined) { checkObject('req.initrd', req.initrd); checkBigU64('req.initrd.start', req.initrd.start); checkBigU64('req.initrd.end', req.initrd.end); }
  if (req.pci !== undefined) {
    const p = checkObject<PciHostDt>('req.pci', req.pci);
    checkBigU64('req.pci.its', p.its);
    checkObject('req.pci.ecam', p.ecam); checkBigU64('req.pci.ecam.base', p.ecam.base); checkInt('req.pci.ecam.buses', p.ecam.buses, 1, PCI_BUSES);
    checkObject('req.pci.mmio32', p.mmio32); checkBigU64('req.pci.mmio32.base', p.mmio32.base); checkBigU64('req.pci.mmio32.size', p.mmio32.size);
    if (p.mmio64 !== undefined) { checkObject('req.pci.mmio64', p.mmio64); checkBigU64('req.pci.mmio64.base', p.mmio64.base); checkBigU64('req.pci.mmio64.size', p.mmio64.size); }
    if (checkInts('req.pci.intxSpis', p.intxSpis).length !== 4) badArgument('req.pci.intxSpis', p.intxSpis, 'four SPIs (INTA..INTD)');
  }
}

/** The board alone: / { psci; cpus { cpu@0 }; memory; intc (the GIC, phandle); [timer]; chosen }. Returns
 *  the blob and the GIC's phandle (the root's interrupt-parent). */
export function boardDtb(req: BoardDtbRequest): { dtb: Uint8Array; gicPhandle: number; itsPhandle?: number } {
  checkBoardRequest(req);
  using b = new FdtBuilder();
  const gic = b.allocPhandle();
  const its = req.pci ? b.allocPhandle() : undefined;
  if (Math.max(gic, its ?? 0) >= FIRST_DEVICE_PHANDLE) throw new Error(`board phandles ${gic}, ${its} are not below the device's ${FIRST_DEVICE_PHANDLE}`);
  b.beginNode('')
    .propString('compatible', 'linux,dummy-virt').propU32('#address-cells', 2).propU32('#size-cells', 2)
    .propU32('interrupt-parent', gic);
  b.beginNode('psci').propStrings('compatible', ['arm,psci-1.0', 'arm,psci-0.2']).propString('method', 'hvc').endNode();
  b.beginNode('cpus').propU32('#address-cells', 1).propU32('#size-cells', 0)
  const cpus = req.cpus ?? 1;
  for (let i = 0; i < cpus; i++) {
    b.beginNode(`cpu@${i.toString(16)}`).propString('device_type', 'cpu').propString('compatible', 'arm,arm-v8').propU32('reg', i).propString('enable-method', 'psci').endNode();
  }
  b.endNode();
  b.beginNode(`memory@${req.ram.gpa.toString(16)}`).propString('device_type', 'memory').propU64('reg', req.ram.gpa, req.ram.size).endNode();
  // #address-cells 0: an interrupt provider with no children (dtc's interrupt_provider check).
  // With an ITS child the GIC node is a bus too: 2 + 2 cells and an identity `ranges`, as QEMU
  // virt writes it; an interrupt-map entry then carries two cells of parent unit address.
  b.beginNode(`intc@${req.gic.dist.toString(16)}`)
    .propString('compatible', 'arm,gic-v3').propU32('#interrupt-cells', 3).propU32('#address-cells', req.pci ? 2 : 0).propEmpty('interrupt-controller')
    .propU64('reg', req.gic.dist, GICD_SIZE, req.gic.redist, GICR_SIZE_PER_CPU * BigInt(cpus)).propU32('phandle', gic);
  if (req.pci) {
    b.propU32('#size-cells', 2).propEmpty('ranges');
    b.beginNode(`its@${req.pci.its.toString(16)}`)
      .propString('compatible', 'arm,gic-v3-its').propEmpty('msi-controller').propU32('#msi-cells', 1)
      .propU64('reg', req.pci.its, GITS_SIZE).propU32('phandle', its!)
      .endNode();
  }
  b.endNode();
  if (req.timer) {
    const GIC_PPI = 1;
    b.beginNode('timer').propStrings('compatible', ['arm,armv8-timer'])
      .propU32('interrupts', ...ARCH_TIMER_PPIS.flatMap((ppi) => [GIC_PPI, ppi, IRQ_TYPE_LEVEL_HIGH])).endNode();
  }
  if (req.pci) pciHostNode(b, req.pci, gic, its!);
  b.beginNode('chosen');
  if (req.bootargs !== undefined) b.propString('bootargs', req.bootargs);
  if (req.initrd) b.propU64('linux,initrd-start', req.initrd.start).propU64('linux,initrd-end', req.initrd.end);
  b.endNode();
  b.endNode();
  return { dtb: b.finish(), gicPhandle: gic, ...(its === undefined ? {} : { itsPhandle: its }) };
}

/** The host bridge: `pci-host-ecam-generic` over the ECAM window, the 32-bit memory window and
 *  the 64-bit one as `ranges` (no I/O window: the VMM emulates no I/O space), INTA..INTD through interrupt-map, MSIs
 *  to the ITS. For MSIs, `msi-map` (RID -> ITS DeviceID, identity over all 16 bits, as QEMU virt
 *  writes it) rather than a bare `msi-parent`: the ITS binding's #msi-cells is 1 (the DeviceID),
 *  so `msi-parent = <&its>` would lack that cell, and Linux's of_msi_get_domain() would reject it;
 *  msi-map names the ITS and says the DeviceID is the requester ID, which is what the VMM gives
 *  KVM as devid. dma-coherent: the VMM maps guest RAM for the device's DMA cache-coherently. */
function pciHostNode(b: FdtBuilder, pci: PciHostDt, gic: number, its: number): void {
  const ecamBytes = BigInt(pci.ecam.buses) << 20n;
  const hi = (v: bigint): number => Number(v >> 32n), lo = (v: bigint): number => Number(v & 0xffff_ffffn);
  const m = pci.mmio32;
  b.beginNode(`pcie@${pci.ecam.base.toString(16)}`)
    .propString('compatible', 'pci-host-ecam-generic').propString('device_type', 'pci')
    .propU32('#address-cells', 3).propU32('#size-cells', 2).propU32('#interrupt-cells', 1)
    .propU32('bus-range', 0, pci.ecam.buses - 1)
    .propU64('reg', pci.ecam.base, ecamBytes)
    // <phys.hi phys.mid phys.lo> <cpu address (2)> <size (2)>
    .propU32('ranges', ...[[PCI_SPACE_MEM32, m] as const, ...(pci.mmio64 ? [[PCI_SPACE_MEM64, pci.mmio64] as const] : [])]
      .flatMap(([space, w]) => [space, hi(w.base), lo(w.base), hi(w.base), lo(w.base), hi(w.size), lo(w.size)]))
    // <child unit address (3) pin (1)> <&gic> <parent unit address (2)> <SPI n level-high>
    .propU32('interrupt-map-mask', 0, 0, 0, 7)
    .propU32('interrupt-map', ...pci.intxSpis.flatMap((spi, i) => [0, 0, 0, i + 1, gic, 0, 0, GIC_SPI, spi, IRQ_TYPE_LEVEL_HIGH]))
    .propU32('msi-map', 0, its, 0, RID_COUNT)
    .propEmpty('dma-coherent')
    .endNode();
}

/** The ARM architected timer's PPIs (secure phys, non-secure phys, virtual, hyp), as QEMU virt
 *  lists them; flags 4 = level-high. KVM's vtimer is PPI 11 (INTID 27), its ptimer PPI 14. */
export const ARCH_TIMER_PPIS = [13, 14, 11, 10] as const;
