// The mini-vmm's second demonstration: QEMU's edu PCI device through vfio-pci behind the host's
// IOMMU (the lab's SMMUv3), with the guest programming DMA into its own RAM. What vfiokit does:
// openDevice (type1), mapDma of guest RAM at IOVA = guest physical address, BAR0's Mapping (its
// hostAddress is a memslot, so the guest drives edu with no exits), the config-space write that
// enables Memory + BusMaster (a bare-metal guest has no PCI host bridge to do it). A DMA the guest
// aims outside its RAM finds no translation in the IOMMU and writes nothing.
//
// Guest physical map (the vGIC and the console as in vmm.ts):
//   0x0400_0000 RAM 64 KiB, also IOVA 0x0400_0000 (edu masks DMA addresses to 28 bits)
//   0x0c00_0000 platform bus: edu's BAR0 (1 MiB) placed by PlatformBus
// Host memory: one allocDma of 128 KiB; the first half is guest RAM (memslot + mapDma), the second
// half is the VMM's own, filled with CANARY and never mapped for DMA: it is what a DMA to the
// IOVA right after guest RAM would hit if the mapping were larger than guest RAM.
// Close order: the VM (memslots over RAM and BAR0; FILE_DEL), the device (BAR mapping, the DMA
// mapping of RAM, fds), the host memory, the bus.
// Not responsible for: the guest (guest/edu.S), KVM (vfiokit/vmm's Vm), what an exit means (vmm.ts ExitLog).
import { allocDma, openDevice, PlatformBus, VFIO_PCI_CONFIG_REGION_INDEX, type DmaBuffer, type DmaMappingRecord, type VfioDevice } from '../../src/index';
import { REG_PC, setUpNisv, Vm, xreg } from '../../src/vmm-api';
import { ExitLog, LAYOUT, type ExitRecord } from './vmm';

export const EDU_LAYOUT = Object.freeze({
  ram: { gpa: 0x0400_0000n, size: 0x1_0000n },
  /** Where the guest writes its pattern and where the round trip lands (guest/edu.S SRC_OFF, DST_OFF). */
  src: 0xc000, dst: 0xd000, len: 16,
  /** The IOVA the guest aims its stray DMA at: the first byte after guest RAM. */
  outside: 0x0401_0000n,
});
/** QEMU's edu masks DMA addresses to 28 bits (its dma_mask): every IOVA the guest uses must be below. */
export const EDU_DMA_LIMIT = 1n << 28n;
/** What the VMM's own memory after guest RAM holds; any other byte there after the run was written by someone. */
export const CANARY = 0xee;
const PCI_COMMAND = 0x04;            // 16-bit command register
const PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4;

export interface EduRunOptions {
  /** The flat guest image (guest/edu.S assembled). */
  guest: Uint8Array;
  /** Default the lab's edu, "0000:00:02.0". */
  device?: string;
  /** The IOVA of the stray DMA (default EDU_LAYOUT.outside). */
  outside?: bigint;
  onLine?: (line: string, ms: number) => void;
}

export interface EduReport {
  console: string;
  exits: ExitRecord[];
  end: string;
  /** MMIO exits inside BAR0 (0 with the memslot) and elsewhere than the console. */
  deviceExits: number; strayExits: number;
  barGpa: bigint;
  /** The DMA mappings of the device during the run (guest RAM only). */
  dmaMappings: DmaMappingRecord[];
  /** PCI_COMMAND as read back after the VMM enabled Memory + BusMaster. */
  command: number;
  /** Guest RAM at the pattern and at the round trip's destination, read by the VMM after the run. */
  pattern: Uint8Array; copied: Uint8Array;
  /** Bytes of the VMM's memory after guest RAM that no longer hold CANARY (0: nothing was written). */
  canaryChanged: number;
}

/** Runs guest/edu.S with edu passed through and reports what the VMM saw and found in memory. */
export function runEduGuest(opts: EduRunOptions): EduReport {
  const ram = EDU_LAYOUT.ram;
  const outside = opts.outside ?? EDU_LAYOUT.outside;
  if (ram.gpa + ram.size > EDU_DMA_LIMIT || outside >= EDU_DMA_LIMIT) throw new Error(`IOVAs must stay below 0x${EDU_DMA_LIMIT.toString(16)} (edu's 28-bit DMA mask)`);
  if (outside >= ram.gpa && outside < ram.gpa + ram.size) throw new Error(`0x${outside.toString(16)} is inside guest RAM`);
  if (opts.guest.byteLength > EDU_LAYOUT.src) throw new Error(`guest image of ${opts.guest.byteLength} bytes overlaps its buffers at +0x${EDU_LAYOUT.src.toString(16)}`);
  const bus = new PlatformBus(LAYOUT.bus);
  let dev: VfioDevice | undefined;
  let vm: Vm | undefined;
  let mem: DmaBuffer | undefined;
  const close = (): void => {
    try { vm?.close(); } finally { try { dev?.close(); } finally { try { mem?.close(); } finally { bus.close(); } } }
  };
  try {
    dev = openDevice(opts.device ?? '0000:00:02.0');
    if (dev.iommu === 'noiommu') throw new Error(`${dev.name} has no IOMMU: its DMA cannot be confined to guest RAM`);
    mem = allocDma(Number(ram.size) * 2);
    const guestRam = mem.bytes.subarray(0, Number(ram.size));
    const vmmOwn = mem.bytes.subarray(Number(ram.size));
    vmmOwn.fill(CANARY);
    guestRam.set(opts.guest, 0);
    // Guest RAM, and nothing else, in the IOMMU: IOVA = guest physical address.
    dev.mapDma({ iova: ram.gpa, buffer: guestRam, size: ram.size });

    const bar = dev.regions[0]!.map();
    const cfg = dev.regions[VFIO_PCI_CONFIG_REGION_INDEX]!;
    const cmd = Number(cfg.read(PCI_COMMAND, 2));
    cfg.write(PCI_COMMAND, 2, BigInt(cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
    const command = Number(cfg.read(PCI_COMMAND, 2));
    const placed = bus.placeRegion(BigInt(bar.size));

    vm = Vm.create();
    const nisv = setUpNisv(vm);
    vm.addGicV3({ dist: LAYOUT.gicd, redist: LAYOUT.gicr, nrIrqs: LAYOUT.nrIrqs });
    vm.mapHost(ram.gpa, ram.size, mem.hostAddress);
    vm.mapHost(placed.address, BigInt(bar.size), bar.hostAddress);
    vm.addVfioFile(dev.kvmVfioFile);
    const vcpu = vm.addVcpu();
    vm.initGic();
    const regs: [bigint, bigint][] = [[xreg(1), placed.address], [xreg(2), outside], [xreg(3), LAYOUT.console], [REG_PC, ram.gpa]];
    for (const [id, v] of regs) vcpu.setReg(id, v);

    const log = new ExitLog({ base: placed.address, size: BigInt(bar.size), regs: undefined }, opts.onLine, { vcpu, policy: nisv });
    while (!log.done) { const t0 = process.hrtime.bigint(); const e = vcpu.step(); log.handle(e, process.hrtime.bigint() - t0, vcpu.run); }
    const r = log.report({ regionGpa: placed.address, spi: 0, intid: 0 });
    return {
      console: r.console, exits: r.exits, end: r.end, deviceExits: r.deviceExits, strayExits: r.strayExits,
      barGpa: placed.address, dmaMappings: dev.dmaMappings(), command,
      pattern: guestRam.slice(EDU_LAYOUT.src, EDU_LAYOUT.src + EDU_LAYOUT.len),
      copied: guestRam.slice(EDU_LAYOUT.dst, EDU_LAYOUT.dst + EDU_LAYOUT.len),
      canaryChanged: vmmOwn.reduce((n, b) => n + (b === CANARY ? 0 : 1), 0),
    };
  } finally { close(); }
}
