// The passed-through device, opened with vfiokit's shim directly (noiommu container, the way
// test/support/shim-lab.ts does) until the public device API (openDevice, region.map(), IRQs)
// lands: this file is the one to swap. It gives the VMM what it needs and nothing else:
// region 0's mapping (host address + size), the IRQ's VFIO flags, and the irqfd wiring of IRQ 0
// (trigger = an eventfd KVM injects from, unmask = KVM's resample eventfd).
// Close order (close()): IRQ trigger off, eventfds, munmap, device fd, unset container, group,
// container. The VM whose memslot uses the mapping must be closed BEFORE this close().
// Not responsible for: the VM side of the IRQ (kvm.ts irqfd), placement (vmm.ts).
import { existsSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import {
  vfio, EFD_CLOEXEC, EFD_NONBLOCK, MAP_SHARED, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE, VFIO_IRQ_SET_ACTION_TRIGGER,
  VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_NOIOMMU_IOMMU, type Sys,
} from '../../shim/index';
import { vfioIrqSet } from './abi';
import { hostSys } from './kvm';

/** The group node of a device: /dev/vfio/N, or /dev/vfio/noiommu-N for a noiommu group. */
function groupPath(bus: string, dev: string): string {
  const n = basename(readlinkSync(`/sys/bus/${bus}/devices/${dev}/iommu_group`));
  return existsSync(`/dev/vfio/noiommu-${n}`) ? `/dev/vfio/noiommu-${n}` : `/dev/vfio/${n}`;
}

export interface IrqWiring { trigger: number; resample: number }

export class PassthroughDevice {
  #closed = false;
  #undo: [string, () => void][] = [];
  #irq: IrqWiring | undefined;
  readonly container: number; readonly group: number; readonly fd: number;
  /** Region 0: host mapping of the device's registers. */
  readonly region: { hva: bigint; size: bigint; offset: bigint; flags: number };
  /** IRQ 0's VFIO flags (EVENTFD 1, MASKABLE 2, AUTOMASKED 4 = level) and count. */
  readonly irqInfo: { flags: number; count: number };
  /** Registers as 32-bit words (Atomics for single-width accesses), for the VMM's own housekeeping. */
  readonly regs: Uint32Array;

  private constructor(private readonly sys: Sys, readonly name: string, bus: string) {
    const u = this.#undo;
    try {
      this.container = sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC); u.push(['container', () => sys.close(this.container)]);
      this.group = sys.open(groupPath(bus, name), O_RDWR | O_CLOEXEC); u.push(['group', () => sys.close(this.group)]);
      vfio.groupSetContainer(sys, this.group, this.container); u.push(['unset container', () => vfio.groupUnsetContainer(sys, this.group)]);
      vfio.setIommu(sys, this.container, VFIO_NOIOMMU_IOMMU);
      this.fd = vfio.groupGetDeviceFd(sys, this.group, name); u.push(['device', () => sys.close(this.fd)]);
      // struct vfio_region_info { u32 argsz @0, flags @4, index @8, cap_offset @12; u64 size @16, offset @24 }
      const ri = new Uint8Array(32); const rv = new DataView(ri.buffer);
      rv.setUint32(0, 32, true); rv.setUint32(8, 0, true);
      vfio.deviceGetRegionInfo(sys, this.fd, ri);
      const size = rv.getBigUint64(16, true), offset = rv.getBigUint64(24, true);
      const hva = sys.mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, offset); u.push(['munmap region 0', () => sys.munmap(hva, size)]);
      this.region = { hva, size, offset, flags: rv.getUint32(4, true) };
      this.regs = new Uint32Array(sys.view(hva, Number(size)));
      // struct vfio_irq_info { u32 argsz @0, flags @4, index @8, count @12 }
      const ii = new Uint8Array(16); const iv = new DataView(ii.buffer);
      iv.setUint32(0, 16, true);
      vfio.deviceGetIrqInfo(sys, this.fd, ii);
      this.irqInfo = { flags: iv.getUint32(4, true), count: iv.getUint32(12, true) };
    } catch (e) { this.#runUndo(); throw e; }
  }

  /** Opens `name` ("9010000.pl031") on `bus` ("amba", "platform") through a noiommu container. */
  static open(name: string, bus: string, sys: Sys = hostSys()): PassthroughDevice { return new PassthroughDevice(sys, name, bus); }

  /** Two eventfds for IRQ 0, wired in VFIO: trigger (VFIO signals it; KVM's irqfd consumes it) and
   *  resample (KVM signals it when the guest EOIs; VFIO unmasks the host line). The caller hands
   *  both to Vm.irqfd. */
  wireIrq(): IrqWiring {
    if (this.#closed) throw new Error(`${this.name}: wireIrq after close()`);
    if (this.#irq) return this.#irq;
    const trigger = this.sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); this.#undo.push(['trigger eventfd', () => this.sys.close(trigger)]);
    const resample = this.sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); this.#undo.push(['resample eventfd', () => this.sys.close(resample)]);
    vfio.deviceSetIrqs(this.sys, this.fd, vfioIrqSet(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, trigger));
    this.#undo.push(['irq trigger off', () => vfio.deviceSetIrqs(this.sys, this.fd, vfioIrqSet(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0))]);
    vfio.deviceSetIrqs(this.sys, this.fd, vfioIrqSet(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, resample));
    this.#irq = { trigger, resample };
    return this.#irq;
  }

  #runUndo(): void {
    let first: unknown;
    for (const [what, f] of this.#undo.reverse()) { try { f(); } catch (e) { first ??= new Error(`${this.name}: undoing ${what}: ${(e as Error).message}`, { cause: e }); } }
    this.#undo = [];
    if (first) throw first;
  }
  /** Undoes everything in reverse order; twice is harmless. */
  close(): void { if (this.#closed) return; this.#closed = true; this.#runUndo(); }
  [Symbol.dispose](): void { this.close(); }
}
