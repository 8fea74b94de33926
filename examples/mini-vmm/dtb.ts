// The mini-vmm's guest device tree, built with vfiokit's FDT module: the board (cpus, PSCI,
// memory, the GICv3, chosen) written with FdtBuilder, and the passed-through device (its
// platform bus, its node, the clocks it needs) from guestNodeFor, grafted under the root with
// mergeFdt. Read back with parseFdt (tests) or dtc.
// Phandles: the board's are allocated from 1 and must stay below FIRST_DEVICE_PHANDLE, where
// guestNodeFor's copied clocks start; mergeFdt refuses a clash instead of renumbering.
// Not responsible for: the device's node (guestNodeFor writes it); the FDT format (vfiokit).
import { FdtBuilder, guestNodeFor, mergeFdt } from '../../src/index';
import { GICD_SIZE, GICR_SIZE_PER_CPU } from './abi';

export interface BoardDtbRequest {
  ram: { gpa: bigint; size: bigint };
  gic: { dist: bigint; redist: bigint };
  bootargs?: string;
  /** The architected timer's node (a Linux guest needs it: it is how arm64 Linux finds the timer's
   *  PPIs; the bare-metal guests use no timer). */
  timer?: boolean;
  /** The initramfs in guest RAM: chosen's linux,initrd-start and linux,initrd-end (exclusive). */
  initrd?: { start: bigint; end: bigint };
}

export interface GuestDtbRequest extends BoardDtbRequest {
  /** The host's DTB (/sys/firmware/fdt), where guestNodeFor finds the device's node. */
  hostDtb: Uint8Array;
  deviceName: string;
  regionGpa: bigint; spi: number; irqFlags: number;
  bus: { base: bigint; size: bigint };
}

/** The first phandle guestNodeFor may hand out (its default); the board's are below it. */
export const FIRST_DEVICE_PHANDLE = 0x1_0000;

/** The board alone: / { psci; cpus { cpu@0 }; memory; intc (the GIC, phandle); [timer]; chosen }. Returns
 *  the blob and the GIC's phandle (the root's interrupt-parent). */
export function boardDtb(req: BoardDtbRequest): { dtb: Uint8Array; gicPhandle: number } {
  using b = new FdtBuilder();
  const gic = b.allocPhandle();
  if (gic >= FIRST_DEVICE_PHANDLE) throw new Error(`board phandle ${gic} is not below the device's ${FIRST_DEVICE_PHANDLE}`);
  b.beginNode('')
    .propString('compatible', 'linux,dummy-virt').propU32('#address-cells', 2).propU32('#size-cells', 2)
    .propU32('interrupt-parent', gic);
  b.beginNode('psci').propStrings('compatible', ['arm,psci-1.0', 'arm,psci-0.2']).propString('method', 'hvc').endNode();
  b.beginNode('cpus').propU32('#address-cells', 1).propU32('#size-cells', 0)
    .beginNode('cpu@0').propString('device_type', 'cpu').propString('compatible', 'arm,arm-v8').propU32('reg', 0).propString('enable-method', 'psci').endNode()
    .endNode();
  b.beginNode(`memory@${req.ram.gpa.toString(16)}`).propString('device_type', 'memory').propU64('reg', req.ram.gpa, req.ram.size).endNode();
  // #address-cells 0: an interrupt provider with no children (dtc's interrupt_provider check).
  b.beginNode(`intc@${req.gic.dist.toString(16)}`)
    .propString('compatible', 'arm,gic-v3').propU32('#interrupt-cells', 3).propU32('#address-cells', 0).propEmpty('interrupt-controller')
    .propU64('reg', req.gic.dist, GICD_SIZE, req.gic.redist, GICR_SIZE_PER_CPU).propU32('phandle', gic)
    .endNode();
  if (req.timer) {
    const GIC_PPI = 1, IRQ_TYPE_LEVEL_HIGH = 4;
    b.beginNode('timer').propStrings('compatible', ['arm,armv8-timer'])
      .propU32('interrupts', ...ARCH_TIMER_PPIS.flatMap((ppi) => [GIC_PPI, ppi, IRQ_TYPE_LEVEL_HIGH])).endNode();
  }
  b.beginNode('chosen');
  if (req.bootargs !== undefined) b.propString('bootargs', req.bootargs);
  if (req.initrd) b.propU64('linux,initrd-start', req.initrd.start).propU64('linux,initrd-end', req.initrd.end);
  b.endNode();
  b.endNode();
  return { dtb: b.finish(), gicPhandle: gic };
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

// ---- Demonstration 3: a Linux guest (linux.ts) ----

/** What a Linux guest's board adds is optional in BoardDtbRequest (timer, initrd). */
export type LinuxBoardDtbRequest = BoardDtbRequest;

/** The ARM architected timer's PPIs (secure phys, non-secure phys, virtual, hyp), as QEMU virt
 *  lists them; flags 4 = level-high. KVM's vtimer is PPI 11 (INTID 27), its ptimer PPI 14. */
export const ARCH_TIMER_PPIS = [13, 14, 11, 10] as const;

/** The board a Linux kernel needs to boot on the mini-vmm: boardDtb with the architected timer
 *  (and the initrd in chosen when given). No UART node: the console is the pl011 earlycon
 *  (bootargs), which needs none. */
export function linuxBoardDtb(req: LinuxBoardDtbRequest): { dtb: Uint8Array; gicPhandle: number } {
  return boardDtb({ ...req, timer: true });
}

/** The Linux guest's whole tree: guestDtb over linuxBoardDtb's board. */
export function linuxGuestDtb(req: GuestDtbRequest): Uint8Array {
  return guestDtb({ ...req, timer: true });
}
