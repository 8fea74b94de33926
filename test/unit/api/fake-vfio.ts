// A scripted VFIO kernel over the shim's fake libc: enough answers for openDevice to run to the
// end (API version, extensions, group status, a device fd, device/region/IRQ info), so that
// tests can inject an errno at any step and watch what is closed. Not a device model.
import { createFakeLibc, type FakeLibc } from '../../support/fake-libc';
import { makeFakeSysfs, type FakeDevice } from '../../support/fake-sysfs';
import { createSys, type Sys } from '../../../shim/sys';
import {
  VFIO_CHECK_EXTENSION, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_GET_API_VERSION,
  VFIO_DEVICE_SET_IRQS, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_IOMMU_UNMAP_DMA, ioctlName,
} from '../../../shim/ioctl';

/** The first device fd the fake hands out: far above the fake libc's own fds (from 100, one per
 *  open), so that a long loop of opens and closes never makes the two ranges meet. */
export const FIRST_DEVICE_FD = 100_000;

export interface FakeVfio {
  libc: FakeLibc;
  sys: Sys;
  sysfs: string;
  /** CHECK_EXTENSION answers by type (default 1 for every type). */
  extensions: Map<number, number>;
  /** Group status flags (default VIABLE). */
  groupFlags: number;
  /** Every ioctl and close, in order, by name ("ioctl VFIO_SET_IOMMU", "close 101", "open /dev/vfio/vfio"). */
  trace(): string[];
  dispose(): void;
}

/** The lab's devices in a fake sysfs: pl031 (vfio-amba, noiommu group 0), edu (vfio-pci, group 1
 *  with a sound card bound to snd_hda_intel when `crowdedGroup`), pl061 (no driver). */
export function fakeVfio(opts: { crowdedGroup?: boolean; extra?: FakeDevice[]; pciIrqs?: number; refuseIrqs?: number[] } = {}): FakeVfio {
  const s = makeFakeSysfs([
    { bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0 },
    { bus: 'amba', name: '9030000.pl061' },
    { bus: 'platform', name: 'a000000.virtio_mmio', driver: 'vfio-platform', group: 2 },
    { bus: 'pci', name: '0000:00:02.0', driver: 'vfio-pci', group: 1, vendor: '1234', device: '11e8' },
    ...(opts.crowdedGroup ? [{ bus: 'pci' as const, name: '0000:00:1f.3', driver: 'snd_hda_intel', group: 1 }] : []),
    ...(opts.extra ?? []),
  ], { 0: 'vfio-noiommu', 2: 'vfio-noiommu' });
  const libc = createFakeLibc();
  const f: FakeVfio = {
    libc, sys: createSys(libc), sysfs: s.root, extensions: new Map(), groupFlags: 1,
    trace() {
      return libc.log.flatMap((e) => {
        if (e.method === 'ioctl' || e.method === 'ioctlValue') return [`ioctl ${ioctlName(e.args[1] as number)}`];
        if (e.method === 'open') return [`open ${e.args[0] as string}`];
        if (e.method === 'close') return [`close ${e.args[0] as number}`];
        return [];
      });
    },
    dispose: s.dispose,
  };
  let nextDeviceFd = FIRST_DEVICE_FD;
  const deviceNames = new Map<number, string>();
  libc.on.ioctlValue = (_fd, request, value) => {
    if (request === VFIO_CHECK_EXTENSION) return f.extensions.get(Number(value)) ?? 1;
    return 0;
  };
  libc.on.ioctl = (fd, request, arg) => {
    const dv = arg ? new DataView(arg.buffer, arg.byteOffset, arg.byteLength) : undefined;
    switch (request) {
      case VFIO_GET_API_VERSION: return 0;
      case VFIO_GROUP_GET_STATUS: dv!.setUint32(4, f.groupFlags, true); return 0;
      case VFIO_GROUP_GET_DEVICE_FD: {
        const dfd = nextDeviceFd++;
        libc.openFds.add(dfd);
        deviceNames.set(dfd, new TextDecoder().decode(arg!).replace(/\0.*$/s, ''));
        return dfd;
      }
      case VFIO_DEVICE_GET_INFO: {
        const pci = (deviceNames.get(fd) ?? '').includes(':');
        dv!.setUint32(4, pci ? 0x3 : 0x8, true); // PCI|RESET, or AMBA
        dv!.setUint32(8, pci ? 2 : 1, true); dv!.setUint32(12, pci ? opts.pciIrqs ?? 1 : 1, true);
        return 0;
      }
      case VFIO_DEVICE_GET_REGION_INFO:
        dv!.setUint32(4, 0x7, true); dv!.setBigUint64(16, 0x1000n, true); dv!.setBigUint64(24, BigInt(dv!.getUint32(8, true)) << 40n, true);
        return 0;
      case VFIO_DEVICE_GET_IRQ_INFO:
        if (opts.refuseIrqs?.includes(dv!.getUint32(8, true))) return -22; // EINVAL, as vfio-pci answers for ERR without AER
        dv!.setUint32(4, 0x7, true); dv!.setUint32(12, 1, true); return 0;
      case VFIO_IOMMU_UNMAP_DMA: return 0; // the size field is left as asked: all of it unmapped
      default: return 0;
    }
  };
  return f;
}


/** Signals the eventfd `fd` `times` times (one write) and runs its watch callback, as uv_poll would.
 *  Throws when nothing watches fd. */
export function signalEventfd(f: FakeVfio, fd: number, times = 1): void {
  const n = new Uint8Array(8); n[0] = times;
  f.libc.write(fd, n, 8);
  const w = f.libc.log.filter((e) => e.method === 'watchReadable' && e.args[0] === fd).pop();
  if (!w) throw new Error(`fd ${fd} is not watched`);
  (w.args[1] as () => void)();
}

/** VFIO_IRQ_SET_DATA_EVENTFD: the request carries eventfds. */
const DATA_EVENTFD = 4;
/** The VFIO_DEVICE_SET_IRQS requests sent so far: flags, index, start, count, eventfds. */
export function irqSets(f: FakeVfio): { flags: number; index: number; start: number; count: number; fds: number[] }[] {
  return f.libc.log.filter((e) => e.method === 'ioctl' && e.args[1] === VFIO_DEVICE_SET_IRQS).map((e) => {
    const b = e.args[2] as Uint8Array;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const count = dv.getUint32(16, true), flags = dv.getUint32(4, true);
    const fds = flags & DATA_EVENTFD ? Array.from({ length: count }, (_, i) => dv.getInt32(20 + 4 * i, true)) : [];
    return { flags, index: dv.getUint32(8, true), start: dv.getUint32(12, true), count, fds };
  });
}

