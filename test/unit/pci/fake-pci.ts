// A scripted vfio-pci function and KVM VM over the fake VFIO kernel, for the PciPassthrough tests:
// region and IRQ info from a synthetic config space and BAR sizes, a config region the trap path
// reads and writes, VFIO_DEVICE_SET_IRQS / VFIO_DEVICE_RESET / KVM_IRQFD / KVM_SET_GSI_ROUTING /
// KVM_SIGNAL_MSI recorded in one ordered trace, and the eventfds the passthrough watches fired by
// hand. Not a device model: nothing happens on the device unless a test does it.
import { fakeVfio, signalEventfd, type FakeVfio } from '../api/fake-vfio';
import { openDevice, type VfioDevice } from '../../../src/device/device';
import { KvmIrqRoutes } from '../../../src/kvm/routes';
import type { GuestMemorySlot, PciPassthroughOptions } from '../../../src/pci/passthrough';
import {
  KVM_CHECK_EXTENSION, KVM_IRQFD, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI, VFIO_CHECK_EXTENSION, VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
} from '../../../shim/ioctl';
import { u32 } from '../../../shim/bytes';
import { VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE } from '../../../shim/uapi/vfio';
import { Cfg } from './fixtures';

export const EDU = '0000:00:02.0';
/** Region offsets in the device fd: index << 40, as vfio-pci has them. */
const regionOffset = (i: number) => BigInt(i) << 40n;

/** A function with BAR0 mem64 16 KiB (registers 0..0x1fff, MSI-X table of 16 at 0x2000, PBA at
 *  0x3000), BAR2 mem32 4 KiB, BAR4 I/O 256 bytes, INTA, and capabilities 0x40 PM -> 0x50 MSI
 *  (64-bit, per-vector mask, 4 vectors) -> 0x70 MSI-X (16 entries) -> 0x80 vendor-specific. */
export function nvmeLike(): { config: Uint8Array; sizes: bigint[] } {
  const c = new Cfg(256)
    .u16(0x00, 0x1b36).u16(0x02, 0x0010)   // PCI_VENDOR_ID, PCI_DEVICE_ID (QEMU's NVMe)
    .u16(0x04, 0x0000).u16(0x06, 0x0010)   // PCI_COMMAND off, PCI_STATUS: CAP_LIST
    .u32(0x10, 0x00000004)                 // BAR0: mem64, non-prefetchable
    .u32(0x14, 0x00000000)                 // BAR1: BAR0's upper half
    .u32(0x18, 0x00000000)                 // BAR2: mem32
    .u32(0x20, 0x00000001)                 // BAR4: I/O
    .u8(0x34, 0x40).u8(0x3d, 0x01)         // PCI_CAPABILITY_LIST, PCI_INTERRUPT_PIN: INTA
    .cap(0x40, 0x01, 0x50).u16(0x42, 0x0003)                   // PM
    .cap(0x50, 0x05, 0x70).u16(0x52, 0x0184)                   // MSI: MASKBIT | 64BIT | MMC 2 (4 vectors)
    .cap(0x70, 0x11, 0x80).u16(0x72, 0x000f)                   // MSI-X: 16 entries
    .u32(0x74, 0x00002000).u32(0x78, 0x00003000)               // table BIR 0 @0x2000, PBA BIR 0 @0x3000
    .cap(0x80, 0x09, 0x00).u8(0x82, 8).u32(0x84, 0xcafef00d);  // vendor-specific
  return { config: c.b, sizes: [0x4000n, 0n, 0x1000n, 0n, 0x100n, 0n, 0n] };
}

/** One recorded step: `set-irqs index start count [fds]`, `irqfd gsi fd [deassign|resample]`,
 *  `routes n`, `signal-msi address data devid`, `reset`, `map bar gpa size`, `unmap bar gpa size`,
 *  `cfg-write offset width value`. */
export type Step = string;

export interface FakePci {
  fv: FakeVfio;
  dev: VfioDevice;
  vmFd: number;
  routes: KvmIrqRoutes;
  /** Every step in order (see Step). */
  trace: Step[];
  /** The device's own config bytes (forward-writes land here). */
  deviceConfig: Uint8Array;
  /** Slots installed now (mapMemory minus unmapMemory), by gpa. */
  slots: Map<bigint, GuestMemorySlot>;
  /** Messages delivered through deliverMsi. */
  delivered: [bigint, number][];
  /** setIntx calls. */
  intx: boolean[];
  /** What KVM_SIGNAL_MSI answers (1 delivered, 0 blocked by the guest, -errno refused). */
  signalAnswer: number;
  /** The last trigger fds VFIO holds per index and vector (absent: none). */
  triggers: Map<number, Map<number, number>>;
  /** Options for dev.pci(): the recording callbacks, plus `extra`. */
  options(extra?: Partial<PciPassthroughOptions>): PciPassthroughOptions;
  /** Signals the eventfd VFIO holds as the trigger of (index, vector), as the device's interrupt would. */
  fire(index: number, vector: number): void;
  dispose(): void;
}

export interface FakePciOptions {
  config?: Uint8Array;
  sizes?: bigint[];
  /** VFIO_IRQ_INFO_NORESIZE on MSI-X (vfio-pci sets it unless the platform allocates vectors dynamically). */
  noresize?: boolean;
  pageSize?: number;
  /** Region 7's size (256, or 4096 for PCIe). */
  configSize?: number;
  /** BARs whose region info carries VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (vfio-pci sets it on the
   *  MSI-X BAR when the platform isolates MSIs, as the lab's SMMUv3 + ITS does). */
  msixMappable?: number[];
}

/** Opens EDU's fake name as the function described (nvmeLike() by default). */
export function fakePci(o: FakePciOptions = {}): FakePci {
  const base = nvmeLike();
  const config = o.config ?? base.config, sizes = o.sizes ?? base.sizes;
  const fv = fakeVfio();
  const libc = fv.libc;
  const deviceConfig = new Uint8Array(o.configSize ?? 256);
  deviceConfig.set(config.subarray(0, deviceConfig.length));
  const trace: Step[] = [];
  const triggers = new Map<number, Map<number, number>>();
  /** The VFIO interrupt type enabled now (INTx 0, MSI 1, MSI-X 2), as vfio-pci's irq_type. */
  let irqType: number | undefined;
  const irqInfo = [
    { flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED, count: 1 },
    { flags: VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, count: 4 },
    { flags: VFIO_IRQ_INFO_EVENTFD | (o.noresize ? VFIO_IRQ_INFO_NORESIZE : 0), count: 16 },
    { flags: 0, count: 0 },
    { flags: VFIO_IRQ_INFO_EVENTFD, count: 1 },
  ];
  const vfioIoctl = libc.on.ioctl!;
  const vfioValue = libc.on.ioctlValue!;
  let vmFd = -1;
  libc.on.ioctlValue = (fd, req, value) => {
    if (fd === vmFd && req === KVM_CHECK_EXTENSION) return 4096;
    if (req === VFIO_CHECK_EXTENSION) return vfioValue(fd, req, value);
    return 0;
  };
  libc.on.ioctl = (fd, req, arg) => {
    const dv = arg ? new DataView(arg.buffer, arg.byteOffset, arg.byteLength) : undefined;
    switch (req) {
      case VFIO_DEVICE_GET_INFO: dv!.setUint32(4, 0x3, true); dv!.setUint32(8, 9, true); dv!.setUint32(12, 5, true); return 0;
      case VFIO_DEVICE_GET_REGION_INFO: {
        const i = dv!.getUint32(8, true);
        if (i === 8) return -22; // no VGA region
        const size = i === 7 ? BigInt(deviceConfig.length) : sizes[i] ?? 0n;
        const mmap = i < 6 && size >= 0x1000n && (config[0x10 + 4 * i]! & 1) === 0;
        const caps = o.msixMappable?.includes(i) ?? false;
        dv!.setUint32(4, size === 0n ? 0 : 0x3 | (mmap ? 0x4 : 0) | (caps ? 0x8 : 0), true);
        dv!.setBigUint64(16, size, true); dv!.setBigUint64(24, regionOffset(i), true);
        if (caps) {
          // One capability after the 32-byte struct: {id 3 MSIX_MAPPABLE, version 1, next 0}.
          dv!.setUint32(0, 40, true);
          if (arg!.byteLength < 40) return 0;
          dv!.setUint32(12, 32, true); dv!.setUint16(32, 3, true); dv!.setUint16(34, 1, true); dv!.setUint32(36, 0, true);
        }
        return 0;
      }
      case VFIO_DEVICE_GET_IRQ_INFO: {
        const i = dv!.getUint32(8, true);
        dv!.setUint32(4, irqInfo[i]!.flags, true); dv!.setUint32(12, irqInfo[i]!.count, true);
        return 0;
      }
      case VFIO_DEVICE_SET_IRQS: {
        const flags = u32(arg!, 4), index = u32(arg!, 8), start = u32(arg!, 12), count = u32(arg!, 16);
        const isEventfd = (flags & 0x4) !== 0;
        const list = isEventfd ? Array.from({ length: count }, (_, k) => dv!.getInt32(20 + 4 * k, true)) : [];
        const act = flags & 0x20 ? 'trigger' : flags & 0x10 ? 'unmask' : 'mask';
        // vfio-pci has one interrupt type at a time: a trigger of another index is EINVAL, and so
        // is disabling an index that is not the current one (vfio_pci_set_irqs_ioctl).
        if (act === 'trigger' && index <= 2) {
          const disable = !isEventfd && count === 0;
          if (irqType !== undefined && irqType !== index) { trace.push(`set-irqs EINVAL ${index} (type ${irqType})`); return -22; }
          if (disable && irqType === undefined) { trace.push(`set-irqs EINVAL ${index} (none enabled)`); return -22; }
          irqType = disable ? undefined : index;
        }
        trace.push(`set-irqs ${act} ${index} ${start} ${count}${isEventfd ? ` [${list.join(',')}]` : ''}`);
        if (act === 'trigger') {
          const m = triggers.get(index) ?? new Map<number, number>();
          if (!isEventfd && count === 0) m.clear();
          list.forEach((f, k) => { if (f < 0) m.delete(start + k); else m.set(start + k, f); });
          triggers.set(index, m);
        }
        return 0;
      }
      case VFIO_DEVICE_RESET: trace.push('reset'); return 0;
      case KVM_IRQFD: {
        const f = u32(arg!, 8);
        trace.push(`irqfd ${u32(arg!, 4)} ${u32(arg!, 0)}${f & 1 ? ' deassign' : f & 2 ? ' resample' : ''}`);
        return 0;
      }
      case KVM_SET_GSI_ROUTING: trace.push(`routes ${u32(arg!, 0)}`); return 0;
      case KVM_SIGNAL_MSI: trace.push(`signal-msi 0x${(BigInt(u32(arg!, 4)) << 32n | BigInt(u32(arg!, 0))).toString(16)} ${u32(arg!, 8)} ${u32(arg!, 16)}`); return f.signalAnswer;
      default: return vfioIoctl(fd, req, arg);
    }
  };
  const cfgBase = regionOffset(7);
  const pread = libc.pread.bind(libc), pwrite = libc.pwrite.bind(libc);
  libc.pread = (fd, buf, count, offset) => {
    const off = BigInt(offset);
    if (off >= cfgBase && off < cfgBase + 0x10000n) {
      const r = pread(fd, buf, count, offset);
      if (r < 0) return r;
      buf.set(deviceConfig.subarray(Number(off - cfgBase), Number(off - cfgBase) + count));
      return count;
    }
    return pread(fd, buf, count, offset);
  };
  libc.pwrite = (fd, buf, count, offset) => {
    const off = BigInt(offset);
    if (off >= cfgBase && off < cfgBase + 0x10000n) {
      const r = pwrite(fd, buf, count, offset);
      if (r < 0) return r;
      const at = Number(off - cfgBase);
      deviceConfig.set(buf.subarray(0, count), at);
      trace.push(`cfg-write 0x${at.toString(16)} ${count} 0x${Array.from(buf.subarray(0, count)).reverse().map((b) => b.toString(16).padStart(2, '0')).join('')}`);
      return count;
    }
    return pwrite(fd, buf, count, offset);
  };
  const dev = openDevice(EDU, { sys: fv.sys, sysfs: fv.sysfs, iommu: 'type1', pageSize: o.pageSize ?? 4096 });
  vmFd = libc.open('/dev/kvm-vm', 0, 0);
  const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 64, sys: fv.sys });
  const slots = new Map<bigint, GuestMemorySlot>();
  const delivered: [bigint, number][] = [];
  const intx: boolean[] = [];
  const f: FakePci = {
    fv, dev, vmFd, routes, trace, deviceConfig, slots, delivered, intx, triggers, signalAnswer: 1,
    options: (extra = {}) => ({
      mapMemory: (s) => { trace.push(`map ${s.bar} 0x${s.gpa.toString(16)} 0x${s.size.toString(16)}`); if (slots.has(s.gpa)) throw new Error(`slot at 0x${s.gpa.toString(16)} twice`); slots.set(s.gpa, s); },
      unmapMemory: (s) => { trace.push(`unmap ${s.bar} 0x${s.gpa.toString(16)} 0x${s.size.toString(16)}`); if (!slots.delete(s.gpa)) throw new Error(`no slot at 0x${s.gpa.toString(16)}`); },
      deliverMsi: (a, d) => { delivered.push([a, d]); },
      setIntx: (l) => { intx.push(l); },
      ...extra,
    }),
    fire(index, vector) {
      const fd = triggers.get(index)?.get(vector);
      if (fd === undefined) throw new Error(`no trigger for index ${index} vector ${vector}`);
      // A KVM irqfd is KVM's to consume: only userspace eventfds are watched.
      if (libc.log.some((e) => e.method === 'watchReadable' && e.args[0] === fd)) signalEventfd(fv, fd);
      else trace.push(`kvm-injects ${index} ${vector}`);
    },
    dispose() { fv.dispose(); },
  };
  return f;
}
