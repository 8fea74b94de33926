// How each kind of device joins the machine, as a table: one row per room (platform/AMBA, PCI),
// with the kinds it takes, the per-device options it accepts, and its attach function. runVm looks
// a device's kind up here; a new kind is a new row, not a new branch in run.ts.
// Every row does the same four things in its own way: the device file to KVM's VFIO device, guest
// RAM mapped for the device's DMA (skipped with an event for a noiommu group, which cannot), the
// passthrough (placement or enumeration, memslots, IRQ delivery: irqfd or vfiokit's userspace
// machine), and the MMIO exits that reach it.
// Guest RAM is mapped once per IOMMU space: vfiokit puts devices of one process in one container
// (or IOAS) where it can, so a second device finds the RAM already there (EEXIST) and shares it.
// Close order of an attached device: closePassthrough() while the VM is open (irqfds deassigned,
// memslots removed), closeDevice() after the VM is closed (DMA mapping, regions, fds).
// Not responsible for: opening the device (run.ts opens every device before anything else),
// the VM (kvm.ts), the layout (layout.ts), the tree's board (board.ts).
import { ReportThinner, VfioError, reportNote, type KvmIrqRoutes, type PlatformBus, type PlatformPassthrough, type PlatformPassthroughOptions, type VfioDevice, type VfioDeviceKind } from '../index.js';
import type { ResolvedDeviceSpec, VmDeviceReport, VmEvent, VmExitCounts } from './config.js';
import type { BarSlots } from './bar-slots.js';
import type { EcamHost } from './ecam.js';
import type { GuestRam, Vm } from './kvm.js';
import type { VmLayout } from './layout.js';
import { PciFunction } from './pci-function.js';

/** What an attach function gets: the machine as built so far. */
export interface AttachContext {
  vm: Vm;
  ram: GuestRam;
  layout: VmLayout;
  bus: PlatformBus;
  hostDtb: Uint8Array;
  gicPhandle: number;
  /** The VM's GSI routing table (present when the machine has a PCI function). */
  routes: KvmIrqRoutes | undefined;
  ecam: EcamHost;
  /** The VM's BAR memslots, shared by every PCI function (guest-placed BARs checked there). */
  barSlots: BarSlots;
  /** Devices that mapped guest RAM for DMA so far, in attach order. */
  ramMappedBy: VfioDevice[];
  /** The next free phandle of the guest tree (a platform node's copied clocks take some). */
  phandle: number;
  /** The next PCI device number behind the bridge. */
  pciSlot: number;
  emit(ev: VmEvent): void;
}

/** A device in the machine. */
export interface AttachedDevice {
  readonly name: string;
  readonly kind: VfioDeviceKind;
  /** One MMIO exit: undefined when not this device's; else the count it goes to and a read's value. */
  mmio(gpa: bigint, len: number, isWrite: boolean, data: bigint): { cause: keyof VmExitCounts; reply?: bigint } | undefined;
  /** The device's own nodes for the guest tree (a platform node), merged under "/". */
  readonly dtNode: Uint8Array | undefined;
  report(): VmDeviceReport;
  /** Its passthrough: irqfds deassigned, memslots removed. The VM must be open. */
  closePassthrough(): void;
}

/** A room: the kinds it takes, the options that mean something to it, and how it attaches. */
export interface AttachRow {
  kinds: readonly VfioDeviceKind[];
  /** Options of VmDeviceSpec this room reads; any other one set is refused with its name. */
  options: readonly (keyof ResolvedDeviceSpec)[];
  attach(dev: VfioDevice, spec: ResolvedDeviceSpec, ctx: AttachContext): AttachedDevice;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** Guest RAM for the device's DMA at IOVA = GPA, or the event that says why not (noiommu) or why
 *  nothing more was needed (an IOMMU space shared with an earlier device). */
function mapGuestRam(dev: VfioDevice, ctx: AttachContext): void {
  if (dev.iommu === 'noiommu') {
    ctx.emit({ kind: 'dma-skipped', device: dev.name, message: `${dev.name}: noiommu group: guest RAM is not mapped for its DMA (no IOMMU to confine it)` });
    return;
  }
  try {
    dev.mapDma({ iova: ctx.ram.gpa, hostAddress: ctx.ram.hva, size: ctx.ram.size });
  } catch (e) {
    // Only guest RAM is ever mapped in the VM's IOMMU spaces, so EEXIST after an earlier device
    // mapped it means this device's space is that device's.
    const earlier = ctx.ramMappedBy.filter((d) => d.iommu === dev.iommu);
    if (!(e instanceof VfioError && e.errnoName === 'EEXIST' && earlier.length > 0)) throw e;
    ctx.emit({ kind: 'dma-shared', device: dev.name, message: `${dev.name}: guest RAM already mapped for DMA in the IOMMU space it shares with ${earlier.map((d) => d.name).join(', ')} (${dev.iommu})` });
    return;
  }
  ctx.ramMappedBy.push(dev);
  ctx.emit({ kind: 'dma-mapped', device: dev.name, message: `${dev.name}: guest RAM mapped for DMA at IOVA ${hex(ctx.ram.gpa)}, ${ctx.ram.size} bytes (${dev.iommu})` });
}

/** The placement a spec asks for: 1:1, region 0 at addr (the others after it, page by page), or first fit. */
function placementOf(dev: VfioDevice, spec: ResolvedDeviceSpec): PlatformPassthroughOptions['placement'] {
  if (spec.identity) return { identity: true };
  if (spec.addr === undefined) return undefined;
  const addresses: bigint[] = [];
  let at = spec.addr;
  for (const r of dev.regions) {
    addresses.push(at);
    at += (r.size + 0xfffn) & ~0xfffn;
  }
  return { addresses };
}

function attachPlatform(dev: VfioDevice, spec: ResolvedDeviceSpec, ctx: AttachContext): AttachedDevice {
  const { vm } = ctx;
  vm.addVfioFile(dev.kvmVfioFile);
  mapGuestRam(dev, ctx);
  const slots = new Map<bigint, number>();
  const placement = placementOf(dev, spec);
  const errors = deviceErrors(dev.name, ctx);
  const pt: PlatformPassthrough = dev.platform({
    onError: (e) => errors.report(e),
    bus: ctx.bus, hostDtb: ctx.hostDtb, interruptParent: ctx.gicPhandle,
    dt: { bus: false, firstPhandle: ctx.phandle },
    ...(placement ? { placement } : {}),
    mapMemory: (s) => { slots.set(s.gpa, vm.mapHost(s.gpa, s.size, s.hostAddress)); },
    unmapMemory: (s) => { const n = slots.get(s.gpa); if (n !== undefined) { slots.delete(s.gpa); vm.unmapHost(n); } },
    ...(spec.irqfd
      ? { kvm: { vmFd: vm.fd } }
      : {
        setLine: (line, level) => vm.irqLine(line.spi, level),
        ...(spec.mmapTimeoutMs === undefined ? {} : { timeoutNs: BigInt(spec.mmapTimeoutMs) * 1_000_000n }),
      }),
  });
  const node = pt.dtNode();
  ctx.phandle += node.phandlesUsed;
  const regions = pt.placement.regions.map((r) => ({ index: r.index, gpa: r.address, size: r.size }));
  const irqs = pt.placement.irqs.map((q) => ({ index: q.index, spi: q.spi, intid: q.intid }));
  ctx.emit({ kind: 'device-placed', device: dev.name, message: `${dev.name}: ${regions.map((r) => `region ${r.index} at ${hex(r.gpa)} (${hex(r.size)})`).join(', ') || 'no regions'}; ${irqs.map((q) => `IRQ ${q.index} on SPI ${q.spi} (INTID ${q.intid})`).join(', ') || 'no IRQs'}${spec.identity ? ' (1:1)' : spec.addr !== undefined ? ' (fixed)' : ' (first fit)'}` });
  const irqPath = spec.irqfd ? 'irqfd' : 'userspace';
  ctx.emit({ kind: 'device-wired', device: dev.name, irqPath, message: `${dev.name}: ${slots.size} memslot(s); IRQs by ${spec.irqfd ? 'KVM irqfd (+ resample for level lines)' : `vfiokit's userspace IRQ machine (KVM_IRQ_LINE, MMIO off while a line is active${spec.mmapTimeoutMs === undefined ? '' : `, back after ${spec.mmapTimeoutMs} ms`})`}` });
  return {
    name: dev.name, kind: dev.info.kind, dtNode: node.dtb,
    mmio: (gpa, len, isWrite, data) => {
      if (!pt.claims(gpa)) return undefined;
      if (isWrite) { pt.mmioWrite(gpa, len, data); return { cause: 'device' }; }
      const v = pt.mmioRead(gpa, len);
      return { cause: 'device', ...(v === undefined ? {} : { reply: v }) };
    },
    report: () => ({ name: dev.name, kind: dev.info.kind, iommu: dev.iommu, irqPath, dma: dev.dmaMappings(), errors: errors.count, platform: { regions, irqs, stats: pt.stats() } }),
    closePassthrough: () => pt.close(),
  };
}

function attachPci(dev: VfioDevice, spec: ResolvedDeviceSpec, ctx: AttachContext): AttachedDevice {
  if (!ctx.routes) throw new VfioError({ kind: 'core-bug', device: dev.name, message: 'a PCI function without the VM\'s routing table' });
  const at = { bus: 0, dev: ctx.pciSlot++, fn: 0 };
  const errors = deviceErrors(dev.name, ctx);
  const f = PciFunction.attach(dev, {
    device: dev.name, at, vm: ctx.vm, routes: ctx.routes, ecam: ctx.ecam, slots: ctx.barSlots,
    intxSpis: ctx.layout.intxSpis, irqfd: spec.irqfd, onError: (e) => errors.report(e),
  });
  mapGuestRam(dev, ctx);
  const guestAddress = `0000:${hex2(at.bus)}:${hex2(at.dev)}.${at.fn}`;
  ctx.emit({ kind: 'device-placed', device: dev.name, message: `${dev.name}: at ${guestAddress} behind the ECAM host bridge (requester ID 0x${f.devid.toString(16)}), INTx ${f.intxGsi === undefined ? 'none' : `on SPI ${f.intxGsi}`}` });
  const irqPath = spec.irqfd ? 'irqfd' : 'userspace';
  ctx.emit({ kind: 'device-wired', device: dev.name, irqPath, message: `${dev.name}: MSI/MSI-X ${spec.irqfd ? 'by KVM irqfds on MSI routes to the ITS' : 'by KVM_SIGNAL_MSI from the event loop'}, INTx ${spec.irqfd ? 'by irqfd + resample' : 'by KVM_IRQ_LINE'}; BAR memslots as the guest places them` });
  return {
    name: dev.name, kind: dev.info.kind, dtNode: undefined,
    mmio: (gpa, len, isWrite, data) => {
      const r = f.mmio(gpa, len, isWrite, data);
      return r.handled ? { cause: r.msix ? 'msix' : 'barTraps', ...(r.reply === undefined ? {} : { reply: r.reply }) } : undefined;
    },
    report: () => ({
      name: dev.name, kind: dev.info.kind, iommu: dev.iommu, irqPath, dma: dev.dmaMappings(), errors: errors.count,
      pci: { guestAddress, devid: f.devid, intxGsi: f.intxGsi, relocation: f.pci.relocation, stats: f.stats(), counts: { ...f.counts } },
    }),
    closePassthrough: () => f.close(),
  };
}
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** A device's passthrough errors as 'device-error' events, thinned: most are the guest's doing
 *  (a garbage MSI KVM refuses), one per access, so a guest could otherwise fill the log. */
function deviceErrors(device: string, ctx: AttachContext): ReportThinner<unknown> {
  return new ReportThinner<unknown>((error, count) => ctx.emit({
    kind: 'device-error', device, count, error,
    message: `${device}: ${error instanceof Error ? error.message : String(error)}${reportNote(count)}`,
  }));
}

/** The rooms, by kind. */
export const ATTACH_ROWS: readonly AttachRow[] = Object.freeze([
  { kinds: ['platform', 'amba'], options: ['name', 'irqfd', 'mmapTimeoutMs', 'addr', 'identity'], attach: attachPlatform },
  { kinds: ['pci'], options: ['name', 'irqfd'], attach: attachPci },
]);

/** The row for a device's kind, with its spec checked against the row's options.
 *  @throws VfioError 'not-supported' (a kind no row takes), 'bad-argument' (an option the kind does not take). */
export function attachRowFor(kind: VfioDeviceKind, spec: ResolvedDeviceSpec, at: string): AttachRow {
  const row = ATTACH_ROWS.find((r) => r.kinds.includes(kind));
  if (!row) throw new VfioError({ kind: 'not-supported', device: spec.name, message: `is a VFIO device of kind '${kind}', which the VMM cannot pass through`, hint: `pass ${ATTACH_ROWS.flatMap((r) => r.kinds).join(', ')} devices` });
  const set: (keyof ResolvedDeviceSpec)[] = [];
  if (spec.addr !== undefined) set.push('addr');
  if (spec.identity) set.push('identity');
  if (spec.mmapTimeoutMs !== undefined) set.push('mmapTimeoutMs');
  const extra = set.find((k) => !row.options.includes(k));
  if (extra) throw new VfioError({ kind: 'bad-argument', device: spec.name, message: `${at}.${extra} is not an option of a ${kind} device`, hint: `a ${kind} device takes ${row.options.filter((o) => o !== 'name').join(', ')}` });
  return row;
}
