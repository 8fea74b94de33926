// openDevice() and VfioDevice: a host device opened through VFIO, with its regions, IRQs and DMA.
//
// Open sequence (legacy path, as the kernel requires it; see ../../docs/API.md):
//   sysfs: the device exists and is bound to its bus's VFIO driver; its IOMMU group
//   container: open /dev/vfio/vfio, VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION (shared, iommu.ts)
//   group: open /dev/vfio/[noiommu-]N, VFIO_GROUP_GET_STATUS (viable), VFIO_GROUP_SET_CONTAINER,
//          VFIO_SET_IOMMU (first group of the container only)      (shared per group, iommu.ts)
//   device: VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO, GET_REGION_INFO and GET_IRQ_INFO per index
// cdev path: /dev/iommu + IOMMU_IOAS_ALLOC (shared), open /dev/vfio/devices/vfioN,
//   VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT, then the same info queries.
// A failure at any step closes everything opened so far, in reverse.
//
// Close order (fixed, docs/DESIGN.md): the guest room (PciPassthrough: its interrupts, vectors and
// memory slots; PlatformPassthrough: the VMM's memory slots handed back, its lines and placement
// released) -> MMIO mappings -> IRQs (disabled in the kernel, then their
// eventfds closed) -> this device's DMA mappings -> region table -> device fd -> group (unset
// from the container, closed) -> container or iommufd (when no other device uses them).
// Not responsible for: the VM (guest memory slots, interrupt controller): the VMM owns those and
// hears about them through IrqRouting's callbacks.
import { VfioError } from '../errors.js';
import { findDeviceForOpen, validateDeviceName, VFIO_DRIVER, type Bus, type OpenEntry, type SysfsOptions } from '../sysfs.js';
import type { Mapping } from '../mapping.js';
import { argszFits, syscallError, type Sys } from '../../shim/sys.js';
import { O_CLOEXEC, O_RDWR } from '../../shim/libc.js';
import * as vfio from '../../shim/vfio.js';
import { closedError, contextError, ctx, processSys, rethrowWithContext, systemPageSize, Teardown } from './context.js';
import { Container, Group, IommufdSpace, NOIOMMU_HINT, cdevPath, haveContainer, haveIommufd, noDma, type DmaInfo, type DmaSpace, type IommuKind } from './iommu.js';
import { deviceInfoQuery, irqInfoQuery, regionInfoQuery } from '../vfio/query.js';
import type { DeviceInfo, IrqInfo, RegionInfo } from '../vfio/decode.js';
import { RegionTable } from '../core/region.js';
import { DeviceRegion } from './region.js';
import { checkRoutingOptions, DeviceIrq, IrqRouting, pciEventIrq, type IrqRoutingOptions, type RoutingWire, type PciVectorHost } from './irq.js';
import { DEVICE_KINDS, irqName, regionName, type DeviceKindFacts, type VfioDeviceKind } from './kinds.js';
import { PlatformPassthrough, type PlatformPassthroughOptions } from './platform-passthrough.js';
import type { IrqHandler } from '../eventfd/dispatcher.js';
import { checkDmaRange, DMA_BACKINGS, DmaBuffer, dmaBufferOf, isPlainDmaRange, type DmaBacking } from './dma.js';
import { DmaIndex } from './dma-index.js';
import { PciPassthrough, type PciPassthroughOptions } from '../pci/passthrough.js';

import { LAYOUT, VFIO_DEVICE_FLAGS_AMBA, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PLATFORM, VFIO_DEVICE_FLAGS_RESET } from '../vfio/uapi.js';
import { u32 } from '../../shim/bytes.js';
import { badArgument, checkFn, checkInt, checkObject, checkOneOf, checkOptObject, checkPageSize, checkString } from '../../shim/args.js';
import { encodeAttachIommufdPt, encodeBindIommufd, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX } from '../../shim/uapi/vfio.js';
import { VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO } from '../../shim/ioctl.js';

export type { VfioDeviceKind } from './kinds.js';

/** What VFIO_DEVICE_GET_INFO said about an open device ({@link VfioDevice.info}). */
export interface VfioDeviceInfo {
  /** Raw vfio_device_info.flags. */
  flags: number;
  /** The bus kind VFIO reports (decides region and IRQ names: BAR0.., INTx.. for PCI). */
  kind: VfioDeviceKind;
  /** VFIO_DEVICE_FLAGS_RESET: reset() is supported. */
  reset: boolean;
  /** How many region indexes the device has; {@link VfioDevice.regions} has this length. */
  numRegions: number;
  /** How many IRQ indexes the device has; {@link VfioDevice.irqs} has this length. */
  numIrqs: number;
}

/** Which IOMMU path {@link openDevice} takes: 'auto' (see {@link OpenOptions.iommu}), or one named: 'type1' (legacy container), 'iommufd' (device cdev, Linux 6.6+) or 'noiommu' (no DMA). */
export type IommuOption = 'auto' | IommuKind;
/** Every IommuOption, for the argument check. */
const IOMMU_OPTIONS: readonly IommuOption[] = ['auto', 'type1', 'noiommu', 'iommufd'];

/** Options of {@link openDevice}; `sysfs` (from {@link SysfsOptions}) reads another sysfs root, for tests. */
export interface OpenOptions extends SysfsOptions {
  /** 'auto' (default): 'noiommu' for a device in a no-IOMMU group, 'type1' for one in a real
   *  group when /dev/vfio/vfio exists, else 'iommufd' when /dev/iommu and the device's cdev exist. */
  iommu?: IommuOption;
  /** @internal The syscall layer (unit tests pass createSys(fakeLibc)); default: the real C library. */
  sys?: Sys;
  /** Page size for the map/trap split (default: the system's, from AT_PAGESZ). */
  pageSize?: number;
}

/** A request to {@link VfioDevice.mapDma}: `size` bytes at `iova`, backed by `buffer` or by `hostAddress` (one of the two). */
export interface DmaMapOptions {
  /** The I/O virtual address the device will use; a multiple of the page size, inside a usable range of {@link VfioDevice.dmaInfo}. */
  iova: bigint;
  /** Memory from allocDma() (or a Uint8Array view into it). */
  buffer?: ArrayBuffer | Uint8Array;
  /** A host virtual address the caller owns (guest RAM mapped by the VMM), instead of buffer. */
  hostAddress?: bigint;
  /** Bytes to map: a positive multiple of the page size; with `buffer`, at most the buffer's size from the view's offset. */
  size: bigint;
  /** The device may read the memory (default true). */
  read?: boolean;
  /** The device may write the memory (default true). */
  write?: boolean;
}

/** One DMA mapping a device owns, as {@link VfioDevice.mapDma} made it and {@link VfioDevice.dmaMappings} lists it. */
export interface DmaMappingRecord {
  /** The IOVA the device uses. */
  iova: bigint;
  /** Bytes mapped. */
  size: bigint;
  /** The host virtual address behind `iova`. */
  hostAddress: bigint;
  /** The device may read the memory. */
  read: boolean;
  /** The device may write the memory. */
  write: boolean;
}

/** The first buffer of every info query of every open (the usual reply fits in it; a longer
 *  chain gets its own), instead of a new one per region and IRQ: a typed array above 64 bytes is
 *  allocated outside V8's heap, and a smaller one is moved there the first time koffi passes it
 *  to C (each about 0.6 us natively, more than the ioctl under emulation). Opens run one at a
 *  time (synchronous) and the decoders keep nothing of it. */
const infoBuffer = new Uint8Array(256);
/** The IRQ queries' first buffer: struct vfio_irq_info's exact size, over the same memory. */
const irqInfoBuffer = infoBuffer.subarray(0, LAYOUT.vfio_irq_info.size);

/** Devices open per Sys, so that opening one twice is a clear error (the group is shared, so the
 *  kernel itself would allow a second device fd). */
const openNames = new WeakMap<Sys, Set<string>>();
const namesOf = (sys: Sys): Set<string> => { let s = openNames.get(sys); if (!s) { s = new Set(); openNames.set(sys, s); } return s; };

/** Warns about a device dropped without close(); it never closes anything: closing is the owner's explicit act. */
const leaks = new FinalizationRegistry<string>((name) => {
  process.emitWarning(`a VfioDevice for ${name} was garbage-collected without close(); its fds stay open until the process exits`, { code: 'VFIOKIT_LEAK' });
});

/** Options of {@link allocDma}: the memory's backing and the memfd's name. */
export interface AllocDmaOptions {
  /** 'anonymous' (default), 'memfd' or 'hugetlb'. */
  backing?: DmaBacking;
  /** The memfd's name (/proc/PID/fd), for 'memfd' and 'hugetlb'. */
  name?: string;
  /** @internal The syscall layer (unit tests pass createSys(fakeLibc)); default: the real C library. */
  sys?: Sys;
}

/** Allocates page-aligned memory for DMA, released with close(): anonymous memory by default,
 *  or a memfd ('memfd', shareable through `fd`) or a memfd of huge pages ('hugetlb'); `name` names
 *  the memfd (/proc/PID/fd).
 * `size` is in bytes (1 byte to 1 GiB), rounded up to the page (the huge page for 'hugetlb').
 * Pass the buffer, or a `bytes.subarray()` view of it, to {@link VfioDevice.mapDma}; it refuses to
 * be freed while a device maps it. Syscalls: mmap, and memfd_create plus ftruncate for a memfd.
 *
 * @throws VfioError 'bad-argument' (size out of range, an unknown backing); for 'hugetlb' with
 *   no huge pages reserved, the kernel's ENOMEM or EINVAL ('syscall') with a hint to reserve
 *   vm.nr_hugepages; the errno kinds of mmap and memfd_create otherwise.
 *
 * @example
 * ```ts
 * import { allocDma, openDevice } from 'vfiokit';
 *
 * const dev = openDevice('0000:00:03.0');
 * const buf = allocDma(64 * 1024);
 * try {
 *   buf.bytes.fill(0);
 *   dev.mapDma({ iova: 0x10_0000n, buffer: buf.bytes, size: 64n * 1024n });
 *   // ... point the device at IOVA 0x100000 and let it run ...
 *   dev.unmapDma(0x10_0000n, 64n * 1024n);
 * } finally {
 *   dev.close(); // unmaps whatever is still mapped, so the buffer can go
 *   buf.close();
 * }
 * ```
 */
export function allocDma(size: number, opts: AllocDmaOptions = {}): DmaBuffer {
  checkInt('size', size, 1);
  opts = checkOptObject('opts', opts);
  if (opts.backing !== undefined) checkOneOf('opts.backing', opts.backing, DMA_BACKINGS);
  if (opts.name !== undefined) checkString('opts.name', opts.name);
  return DmaBuffer.alloc(opts.sys ?? processSys(), size, opts.backing, opts.name);
}


/** What an info query the kernel refuses throws inside openDevice: not an Error, so nothing
 *  captures a stack. Every open of a PCI device meets it (vfio-pci has no VGA region to describe,
 *  and no ERR IRQ on a conventional function), and under emulation one VfioError costs about
 *  0.1 ms; `error()` hands the index a thunk that builds the same VfioError as the checked call
 *  would have thrown, only when someone reads `.error`. */
class Refused {
  constructor(readonly errno: number) {}
  error(device: string, call: string, fd: number, message: string): () => VfioError {
    const errno = this.errno;
    return () => contextError(syscallError(call, errno, `on fd ${fd}`), device, { message });
  }
}

/** The query callback for an INFO ioctl whose refusal is an answer, not a failure (Refused). */
function refusable(sys: Sys, fd: number, request: number, name: string): (b: Uint8Array) => void {
  return (b) => {
    if (!(b.byteLength >= 4 && u32(b, 0) <= b.byteLength)) argszFits(`ioctl(${name})`, b);
    const r = sys.libc.ioctl(fd, request, b);
    if (r < 0) throw new Refused(-r);
  };
}

/**
 * Opens a device bound to a VFIO driver. Throws VfioError:
 * 'bad-argument' (a name that is not a device name, an iommu option that does not fit the
 * device), 'not-found' (no such device), 'bad-state' (not bound to its VFIO driver: hint
 * `vfiokit bind <name>`), 'busy' (this process has it open, or another holds its group),
 * 'permission' (the /dev/vfio node), 'not-supported' (no-IOMMU mode off, no type1, no iommufd),
 * 'not-viable' (other devices of the group are not bound to VFIO: named, with their drivers),
 * 'kernel-reply' (a malformed info reply), 'syscall' (any other failure, errno kept).
 * The device's regions and IRQs are queried at open (VFIO_DEVICE_GET_INFO, then
 * VFIO_DEVICE_GET_REGION_INFO and VFIO_DEVICE_GET_IRQ_INFO per index); the caller owns the device
 * and must `close()` it (or declare it with `using`). One VfioDevice per device per process.
 *
 * @param name - The device's sysfs name: a PCI address ('0000:00:03.0') or a platform/AMBA
 *   device name ('9010000.pl031'), bound to vfio-pci, vfio-platform or vfio-amba.
 * @throws VfioError 'bad-argument', 'not-found', 'bad-state', 'busy', 'permission',
 *   'not-supported', 'not-viable', 'kernel-reply', 'syscall' (as above).
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 *
 * const dev = openDevice('0000:00:03.0', { iommu: 'auto' });
 * try {
 *   console.log(dev.info.kind, dev.iommu, dev.group, dev.regions.length, dev.irqs.length);
 *   const bar0 = dev.region(0);
 *   console.log(bar0.name, bar0.size, bar0.read32(0));
 * } finally {
 *   dev.close();
 * }
 * ```
 */
export function openDevice(name: string, opts: OpenOptions = {}): VfioDevice {
  validateDeviceName(name);
  opts = checkOptObject('opts', opts);
  if (opts.iommu !== undefined) checkOneOf('opts.iommu', opts.iommu, IOMMU_OPTIONS);
  if (opts.pageSize !== undefined) checkPageSize('opts.pageSize', opts.pageSize);
  if (opts.sysfs !== undefined) checkString('opts.sysfs', opts.sysfs);
  const entry = findDeviceForOpen(name, opts);
  const sys = opts.sys ?? processSys();
  const want = VFIO_DRIVER[entry.bus];
  if (entry.driver !== want) {
    throw new VfioError({
      kind: 'bad-state', device: name,
      message: `is ${entry.driver ? `bound to ${entry.driver}` : 'not bound to any driver'}, not to ${want}`,
      hint: `bind it to VFIO first: vfiokit bind ${name}`,
    });
  }
  const iommu = chooseIommu(entry, opts.iommu ?? 'auto', opts);
  const names = namesOf(sys);
  if (names.has(name)) throw new VfioError({ kind: 'busy', device: name, errnoName: 'EBUSY', message: 'is already open in this process', hint: 'close the other VfioDevice first (or share it)' });
  const dev = VfioDevice.open(sys, entry, iommu, opts);
  names.add(name);
  leaks.register(dev, name, dev);
  return dev;
}

function chooseIommu(entry: OpenEntry, want: IommuOption, opts: SysfsOptions): IommuKind {
  const name = entry.name;
  if (entry.iommuGroup === null) {
    throw new VfioError({ kind: 'not-supported', device: name, message: 'is in no IOMMU group', hint: `without an IOMMU, VFIO needs the no-IOMMU mode: ${NOIOMMU_HINT}, then rebind (vfiokit unbind ${name}; vfiokit bind ${name})` });
  }
  if (want === 'auto') {
    if (entry.noiommu) return 'noiommu';
    if (haveContainer()) return 'type1';
    if (haveIommufd() && cdevPath(entry.bus, name, opts)) return 'iommufd';
    throw new VfioError({ kind: 'not-supported', device: name, message: 'neither /dev/vfio/vfio nor /dev/iommu with a VFIO cdev exists', hint: 'load vfio (modprobe vfio-pci) or build the kernel with VFIO_CONTAINER or IOMMUFD and VFIO_DEVICE_CDEV' });
  }
  if (want === 'noiommu' && !entry.noiommu) throw new VfioError({ kind: 'bad-argument', device: name, message: `is in IOMMU group ${entry.iommuGroup}, not a no-IOMMU group`, hint: "use { iommu: 'type1' } or 'auto'" });
  if ((want === 'type1' || want === 'iommufd') && entry.noiommu) throw new VfioError({ kind: 'bad-argument', device: name, message: `is in a no-IOMMU group (noiommu-${entry.iommuGroup})`, hint: "use { iommu: 'noiommu' } or 'auto'" });
  if (want !== 'type1' && want !== 'noiommu' && want !== 'iommufd') throw new VfioError({ kind: 'bad-argument', device: name, message: `unknown iommu option ${String(want)}`, hint: "use 'auto', 'type1', 'noiommu' or 'iommufd'" });
  return want;
}

// RegionOwner and IrqOwner are what regions and IRQs need of their device (checked where they are
// built); they are not named here so that the published declarations do not carry them.
/**
 * A host device opened through VFIO ({@link openDevice}): its regions (MMIO through mappings or
 * the trap path), its IRQs (eventfds, or routed through the IRQ state machine), and DMA through
 * the IOMMU. It owns the device fd, its group and a share of the container or iommufd: `close()`
 * releases them in a fixed order (mappings, IRQs, DMA mappings, device fd, group, container or
 * iommufd). After close() every method and getter throws VfioError 'closed'.
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 *
 * const dev = openDevice('9010000.pl031');
 * try {
 *   const regs = dev.region(0).map(); // the register page, zero-copy
 *   console.log(regs.read32(0xfe0).toString(16)); // PeriphID0
 *   const irq = dev.irqs[0];
 *   if (irq) {
 *     irq.onTrigger((count) => { // on the main thread, once the kernel signalled the eventfd
 *       console.log(`RTC interrupt x${count}`);
 *       irq.unmask(); // a level line stays masked until then
 *     });
 *   }
 * } finally {
 *   dev.close();
 * }
 * ```
 */
export class VfioDevice {
  /** The device's sysfs name ('0000:00:03.0', '9010000.pl031'). */
  readonly name: string;
  /** The bus the device sits on in sysfs ('pci', 'platform', 'amba'). */
  readonly bus: Bus;
  /** The IOMMU path this device was opened with: 'type1', 'iommufd' or 'noiommu' (no DMA). */
  readonly iommu: IommuKind;
  /** The IOMMU group number (the N of /dev/vfio/N or noiommu-N). */
  readonly group: number;
  /** What VFIO_DEVICE_GET_INFO said: kind, flags, reset support, region and IRQ counts. */
  readonly info: VfioDeviceInfo;
  /** Indexed by the kernel's region index; a region that failed to decode keeps its index (ok: false). */
  readonly regions: readonly DeviceRegion[];
  /** Indexed by the kernel's IRQ index. */
  readonly irqs: readonly DeviceIrq[];
  /** @internal */
  readonly sys: Sys;
  /** The page size of the map/trap split, in bytes ({@link OpenOptions.pageSize} or the system's). */
  readonly pageSize: number;
  /** The core's table of this device's regions: the map/trap split and the access checks behind {@link DeviceRegion}. Closed with the device. */
  readonly regionTable: RegionTable;
  #fd: number;
  #closing = false;
  #group: Group | undefined;
  #container: Container | undefined;
  #iommufd: IommufdSpace | undefined;
  #mappings = new Set<Mapping>();
  #routing: IrqRouting | undefined;
  #pci: PciPassthrough | undefined;
  #platform: PlatformPassthrough | undefined;
  /** The row of this device's kind (kinds.ts): names, REQ/ERR, the IRQ machine, the guest room. */
  #kind: DeviceKindFacts = DEVICE_KINDS.other;
  /** This device's DMA mappings, in IOVA order (dma-index.ts). */
  #dma = new DmaIndex();

  /** @internal use openDevice() */
  static open(sys: Sys, entry: OpenEntry, iommu: IommuKind, opts: OpenOptions): VfioDevice { return new VfioDevice(sys, entry, iommu, opts); }

  private constructor(sys: Sys, entry: OpenEntry, iommu: IommuKind, opts: OpenOptions) {
    this.sys = sys;
    this.name = entry.name;
    this.bus = entry.bus;
    this.iommu = iommu;
    this.group = entry.iommuGroup!;
    this.pageSize = opts.pageSize ?? systemPageSize();
    this.regionTable = undefined as unknown as RegionTable; // set once the device fd is open
    this.#fd = -1;
    const name = this.name;
    try {
      if (iommu === 'iommufd') {
        const path = cdevPath(entry.bus, name, opts);
        if (!path) throw new VfioError({ kind: 'not-supported', device: name, message: 'has no VFIO device cdev (no vfio-dev/vfioN in sysfs)', hint: "build the kernel with CONFIG_VFIO_DEVICE_CDEV, or use { iommu: 'type1' }" });
        this.#iommufd = IommufdSpace.acquire(sys, name);
        this.#fd = ctx(name, () => sys.open(path, O_RDWR | O_CLOEXEC), {
          message: `cannot open ${path}`,
          hint: (e) => e.kind === 'permission' ? `check the permissions of ${path}; run as root or give this user access` : e.kind === 'busy' ? 'the device is open elsewhere (another process, or through its group)' : undefined,
        });
        const bind = encodeBindIommufd(this.#iommufd.fd);
        // The kernel binds a device through one open of its cdev at a time: a second open (another
        // process, or an fd of this one outside vfiokit) gets EINVAL here, as the lab shows when two
        // processes race for one device; vfiokit's own request is well formed, so EINVAL means busy.
        ctx(name, () => vfio.deviceBindIommufd(sys, this.#fd, bind), {
          message: 'cannot bind the device to the iommufd',
          kind: (e) => e.errnoName === 'EINVAL' ? 'busy' : undefined,
          hint: (e) => e.errnoName === 'EINVAL' ? `${path} is bound through another open of it already (another process, or an fd of this one outside vfiokit): the kernel allows one at a time; close it there first` : e.hint,
        });
        const att = encodeAttachIommufdPt(this.#iommufd.ioasId);
        ctx(name, () => vfio.deviceAttachIommufdPt(sys, this.#fd, att), { message: `cannot attach the device to IOAS ${this.#iommufd.ioasId}` });
      } else {
        this.#container = Container.acquire(sys, iommu, name);
        this.#group = Group.acquire(sys, this.group, iommu === 'noiommu', this.#container, name, opts);
        // The error context is added in the catch (no closure per open), as for the info queries.
        try { this.#fd = vfio.groupGetDeviceFd(sys, this.#group.fd, name); } catch (e) {
          rethrowWithContext(e, name, {
            message: () => `cannot get a device fd from ${this.#group!.path}`,
            hint: (x) => x.kind === 'not-found' || x.errnoName === 'EINVAL' ? `the kernel does not know ${name} in group ${this.group}; is it bound to ${VFIO_DRIVER[entry.bus]}? (vfiokit bind ${name})` : x.kind === 'busy' ? 'the device is already open (in this process or through another group fd)' : x.hint,
          });
        }
      }
      const fd = this.#fd;
      this.info = this.#queryInfo(fd);
      try { (this as { regionTable: RegionTable }).regionTable = new RegionTable(); } catch (e) { rethrowWithContext(e, name); }
      this.regions = this.#queryRegions(fd);
      this.irqs = this.#queryIrqs(fd);
    } catch (e) {
      try { this.#release(); } catch { /* the open error is the one to report */ }
      throw e;
    }
  }

  /** The device fd, for callers that issue their own ioctls; throws 'closed' after close(). */
  get fd(): number { return this.liveFd(); }
  /** The fd to register with KVM's VFIO device (KVM_CREATE_DEVICE KVM_DEV_TYPE_VFIO, then
   *  KVM_DEV_VFIO_FILE_ADD): the group fd with a legacy container, which every kernel accepts;
   *  the device's cdev fd with iommufd (Linux 6.6+). Throws 'closed' after close(). */
  get kvmVfioFile(): number { const fd = this.liveFd(); return this.#group?.fd ?? fd; }
  /** True once close() has run (the device fd is closed). */
  get closed(): boolean { return this.#fd < 0; }

  /** @internal */
  liveFd(): number {
    if (this.#fd < 0) throw closedError('device', this.name);
    return this.#fd;
  }
  /** @internal */
  adopt(m: Mapping): void {
    this.#mappings.add(m);
    // Drop closed ones now and then so a VMM that maps and unmaps often does not grow the set.
    if (this.#mappings.size > 64) for (const x of this.#mappings) if (x.unmapped) this.#mappings.delete(x);
  }

  #queryInfo(fd: number): VfioDeviceInfo {
    let d: DeviceInfo;
    try { d = deviceInfoQuery((b) => { vfio.deviceGetInfo(this.sys, fd, b); }, infoBuffer); } catch (e) { rethrowWithContext(e, this.name, { message: 'cannot read the device info' }); }
    const f = d.flags;
    const kind: VfioDeviceKind = f & VFIO_DEVICE_FLAGS_PCI ? 'pci' : f & VFIO_DEVICE_FLAGS_AMBA ? 'amba' : f & VFIO_DEVICE_FLAGS_PLATFORM ? 'platform' : 'other';
    this.#kind = DEVICE_KINDS[kind];
    return { flags: f, kind, reset: (f & VFIO_DEVICE_FLAGS_RESET) !== 0, numRegions: d.numRegions, numIrqs: d.numIrqs };
  }

  // The info queries run once per region and IRQ index at every open: one query callback per
  // device for each kind of index, and the error's context (ctx()'s) added only when one fails.
  #queryRegions(fd: number): DeviceRegion[] {
    const out: DeviceRegion[] = [];
    const query = refusable(this.sys, fd, VFIO_DEVICE_GET_REGION_INFO, 'VFIO_DEVICE_GET_REGION_INFO');
    for (let i = 0; i < this.info.numRegions; i++) {
      const name = regionName(this.#kind, i);
      let r: RegionInfo;
      try {
        r = regionInfoQuery(i, query, infoBuffer, this.regionTable);
      } catch (x) {
        // A region the kernel would not describe (e.g. vfio-pci's absent VGA region: EINVAL) or
        // whose reply is malformed keeps its index, marked, so later indexes do not shift.
        // The table keeps the core's status, or ERR_BAD_ARG (-1) as a marker for an ioctl failure.
        if (x instanceof Refused) {
          this.regionTable.addFailed(i, -1);
          out.push(DeviceRegion.of(this, { index: i, name, ok: false, error: x.error(this.name, 'ioctl(VFIO_DEVICE_GET_REGION_INFO)', fd, `cannot read the info of region ${i}`) }));
          continue;
        }
        if (!(x instanceof VfioError)) throw x;
        const e = contextError(x, this.name, { message: `cannot read the info of region ${i}` });
        this.regionTable.addFailed(i, e.status !== undefined && e.status < 0 ? e.status : -1);
        out.push(DeviceRegion.of(this, { index: i, name, ok: false, error: e }));
        continue;
      }
      out.push(DeviceRegion.of(this, { index: i, name, ok: true, flags: r.flags, size: r.size, fileOffset: r.offset, sparse: r.sparse ?? null, capType: r.type ?? null, msixMappable: r.msixMappable }));
    }
    return out;
  }

  #queryIrqs(fd: number): DeviceIrq[] {
    const out: DeviceIrq[] = [];
    const query = refusable(this.sys, fd, VFIO_DEVICE_GET_IRQ_INFO, 'VFIO_DEVICE_GET_IRQ_INFO');
    for (let i = 0; i < this.info.numIrqs; i++) {
      const name = irqName(this.#kind, i);
      let r: IrqInfo;
      try {
        r = irqInfoQuery(i, query, irqInfoBuffer);
      } catch (x) {
        // vfio-pci refuses ERR on a conventional (non-PCIe) function with EINVAL: the
        // index stays, with count 0 and the error, as for regions.
        if (x instanceof Refused) { out.push(DeviceIrq.of(this, i, name, 0, 0, x.error(this.name, 'ioctl(VFIO_DEVICE_GET_IRQ_INFO)', fd, `cannot read the info of IRQ ${i}`))); continue; }
        if (!(x instanceof VfioError)) throw x;
        out.push(DeviceIrq.of(this, i, name, 0, 0, contextError(x, this.name, { message: `cannot read the info of IRQ ${i}` })));
        continue;
      }
      out.push(DeviceIrq.of(this, i, name, r.flags, r.count));
    }
    return out;
  }

  /** VFIO_DEVICE_RESET. 'not-supported' when the device does not offer it (no VFIO_DEVICE_FLAGS_RESET).
   * Resets the device through the kernel's reset (PCI: FLR, a bus or PM reset; platform: the
   * vfio-platform reset module of its compatible).
   * @throws VfioError 'closed', 'not-supported' (no reset offered), the errno kinds of the ioctl
   *   ('busy', 'syscall', ...).
   */
  reset(): void {
    const fd = this.liveFd();
    if (!this.info.reset) throw new VfioError({ kind: 'not-supported', device: this.name, message: 'offers no reset (VFIO_DEVICE_FLAGS_RESET is clear)', hint: 'for platform devices the kernel needs a vfio-platform reset module for this compatible' });
    ctx(this.name, () => vfio.deviceReset(this.sys, fd), { message: 'reset failed' });
  }

  /**
   * The host wants the device back: someone unbinds it from vfio-pci (a driver change, a
   * hot-unplug) while this process holds it open. The kernel then waits for the device to be
   * released and, while it waits, signals the REQ IRQ (VFIO_PCI_REQ_IRQ_INDEX): once at once, then
   * about every 10 seconds. `handler` runs on the main thread with how many signals arrived since
   * its last call; the VMM is expected to stop the guest's use of the device and `close()` it
   * (closing from inside the handler is fine), after which the kernel's unbind completes. Until
   * then the unbinding process blocks. Replaces an earlier handler; released by close() (or
   * `irqs[VFIO_PCI_REQ_IRQ_INDEX].disable()`) with the other IRQs, in the fixed close order.
   * Syscalls: eventfd2, VFIO_DEVICE_SET_IRQS.
   * @param handler - Called with the eventfd's counter (signals since the last call).
   * @returns The REQ index's {@link DeviceIrq} (its eventfd, disable()).
   * @throws VfioError 'closed', 'not-supported' (not a PCI device, or the kernel offers no REQ),
   *   and the errno kinds of eventfd2 and VFIO_DEVICE_SET_IRQS.
   *
   * @example
   * ```ts
   * import { openDevice } from 'vfiokit';
   *
   * const dev = openDevice('0000:00:03.0');
   * dev.onRequest((count) => {
   *   console.log(`the host asks for ${dev.name} back (${count} signal(s))`);
   *   dev.close(); // the kernel's pending unbind completes
   * });
   * ```
   */
  onRequest(handler: IrqHandler): DeviceIrq {
    checkFn('handler', handler);
    this.liveFd();
    const q = pciEventIrq(this, this.#kind.eventIrqs, this.irqs, VFIO_PCI_REQ_IRQ_INDEX);
    q.onTrigger(handler);
    return q;
  }

  /**
   * An error the kernel's AER driver reported for this device (vfio-pci's ERR IRQ,
   * VFIO_PCI_ERR_IRQ_INDEX): `handler` runs on the main thread with how many reports arrived
   * since its last call. vfio-pci offers the index only on a PCI Express function with AER;
   * elsewhere this throws 'not-supported' with a hint. Replaces an earlier handler; released by
   * close(). Syscalls: eventfd2, VFIO_DEVICE_SET_IRQS.
   * @param handler - Called with the eventfd's counter (reports since the last call).
   * @returns The ERR index's {@link DeviceIrq}.
   * @throws VfioError 'closed', 'not-supported' (not PCI, or no ERR index: no AER), and the errno
   *   kinds of eventfd2 and VFIO_DEVICE_SET_IRQS.
   */
  onError(handler: IrqHandler): DeviceIrq {
    checkFn('handler', handler);
    this.liveFd();
    const q = pciEventIrq(this, this.#kind.eventIrqs, this.irqs, VFIO_PCI_ERR_IRQ_INDEX);
    q.onTrigger(handler);
    return q;
  }

  /** Region `index`; 'not-found' when the device has no such index.
   * The same object as `regions[index]`, checked: an index the kernel refused to describe
   * is returned too (its `ok` is false and its methods throw 'not-found').
   * @param index - The kernel's region index (0..info.numRegions - 1; for PCI, VFIO_PCI_BAR0_REGION_INDEX..).
   * @throws VfioError 'closed', 'not-found'.
   *
   * @example
   * ```ts
   * import { openDevice } from 'vfiokit';
   *
   * const dev = openDevice('0000:00:03.0');
   * const bar0 = dev.region(0);
   * for (const r of bar0.split()) console.log(r.kind, r.offset, r.size); // what maps and what traps
   * const regs = bar0.map();         // mmap of the whole BAR (one mappable range)
   * regs.write32(0x04, 0x1234_5678); // a register store, zero-copy
   * console.log(bar0.read32(0x00));  // the trap path: pread on the device fd
   * dev.close();                     // unmaps regs first
   * ```
   */
  region(index: number): DeviceRegion {
    this.liveFd();
    checkInt('index', index);
    const r = this.regions[index];
    if (!r) throw new VfioError({ kind: 'not-found', device: this.name, message: `has no region ${index}`, hint: `regions are 0..${this.regions.length - 1}` });
    return r;
  }

  /**
   * Takes the device's IRQs through the core's IRQ state machine (userspace delivery with QEMU's
   * vfio-platform semantics; for PCI, INTx). One routing per device. See IrqRoutingOptions.
   * The routing owns its eventfds and the IRQ thread, and closes with the device; `close()`
   * it to route again. Syscalls: eventfd2 and VFIO_DEVICE_SET_IRQS per IRQ index.
   *
   * @throws VfioError 'closed', 'bad-state' (already routed), 'bad-argument' (options), and the
   *   errno kinds of eventfd2 and VFIO_DEVICE_SET_IRQS.
   *
   * @example
   * ```ts
   * import { openDevice } from 'vfiokit';
   *
   * const dev = openDevice('9010000.pl031');
   * const routing = dev.routeIrqs({
   *   setLine: (index, level) => console.log(`guest line of IRQ ${index}: ${level ? 'raise' : 'lower'}`),
   *   onMmap: (enabled) => console.log(enabled ? 'map the registers into the guest again' : 'trap every access'),
   * });
   * // the VMM's MMIO exit handler, for a guest access to a trapped register (the EOI):
   * routing.trappedAccess();
   * dev.close(); // closes the routing too
   * ```
   */
  routeIrqs(opts: IrqRoutingOptions): IrqRouting {
    this.liveFd();
    checkRoutingOptions(checkObject('opts', opts));
    return this.route(opts);
  }

  /** routeIrqs() for the device's rooms, with lines wired to KVM from the start (platform) or the
   *  MSI/MSI-X vectors carried out by the PCI room. @internal */
  route(opts: IrqRoutingOptions, wire?: RoutingWire, vectors?: PciVectorHost): IrqRouting {
    if (this.#routing && !this.#routing.closed) {
      const room = this.#platform && !this.#platform.closed ? 'PlatformPassthrough' : this.#pci && !this.#pci.closed ? 'PciPassthrough' : undefined;
      throw new VfioError({ kind: 'bad-state', device: this.name, message: 'its IRQs are already routed', hint: room ? `its ${room} routes them: close that first` : 'close the existing routing first' });
    }
    this.#routing = IrqRouting.of(this, this.irqs, this.#kind, opts, wire, vectors);
    return this.#routing;
  }

  /**
   * Hands the PCI function to a guest: a {@link PciPassthrough} that the VMM's config-space (ECAM)
   * handler and MMIO exit handler call, and that carries out the core's decisions (BAR memory
   * slots through `opts.mapMemory`/`unmapMemory`, MSI/MSI-X and INTx through KVM irqfds or the
   * userspace callbacks). One per device; the device's close() closes it first.
   * @param opts - The VMM's callbacks and KVM handles ({@link PciPassthroughOptions}).
   * @throws VfioError 'closed', 'not-supported' (not a PCI device), 'bad-state' (already passed
   *   through), 'bad-argument' (options), 'kernel-reply' (a malformed config space), and the errno
   *   kinds of the region reads and mmaps.
   *
   * @example
   * ```ts
   * import { openDevice } from 'vfiokit';
   *
   * const dev = openDevice('0000:00:02.0');
   * const pci = dev.pci({
   *   mapMemory: (s) => console.log(`memslot BAR${s.bar} at 0x${s.gpa.toString(16)}`),
   *   unmapMemory: (s) => console.log(`remove the memslot at 0x${s.gpa.toString(16)}`),
   *   deliverMsi: (address, data) => console.log(`MSI 0x${data.toString(16)} to 0x${address.toString(16)}`),
   * });
   * console.log(pci.configRead(0, 4).toString(16)); // vendor and device ID
   * dev.close();
   * ```
   */
  pci(opts: PciPassthroughOptions): PciPassthrough {
    this.liveFd();
    checkObject('opts', opts);
    if (this.#kind.passthrough !== 'pci') {
      throw new VfioError({ kind: 'not-supported', device: this.name, message: `is a ${this.info.kind} device, not PCI`, hint: this.#kind.passthrough === 'platform' ? 'pass a platform or AMBA device through with its own room (dev.platform(...))' : 'vfiokit has no guest room for this kind of device yet' });
    }
    if (this.#pci && !this.#pci.closed) throw new VfioError({ kind: 'bad-state', device: this.name, message: 'is already passed through', hint: 'close the existing PciPassthrough first' });
    this.#pci = PciPassthrough.of(this, opts);
    return this.#pci;
  }

  /**
   * Passes this platform or AMBA device through to a guest: places every region and IRQ on a
   * platform bus, maps the regions and hands them to the VMM as guest memory (`mapMemory`), wires
   * the IRQs (KVM irqfds at the placed SPIs, or the userspace IRQ machine), and gives the guest's
   * device-tree node. One per device; the device's close() closes it first. See
   * {@link PlatformPassthroughOptions} and {@link PlatformPassthrough}.
   * Syscalls: mmap per mappable range, eventfd2, VFIO_DEVICE_SET_IRQS and (KVM) KVM_IRQFD per line.
   * @throws VfioError 'closed', 'not-supported' (a PCI device or one of another kind: see the
   *   kind's own room), 'bad-state' (already passed through, or its IRQs are routed), and the
   *   errors of {@link PlatformPassthrough}'s construction.
   *
   * @example
   * ```ts
   * import { readFileSync } from 'node:fs';
   * import { openDevice } from 'vfiokit';
   *
   * declare const vmFd: number;                                     // the VMM's KVM VM
   * declare function setMemslot(gpa: bigint, size: bigint, hva: bigint): void;
   * const dev = openDevice('9010000.pl031');
   * const pt = dev.platform({
   *   bus: { base: 0x0c00_0000n, size: 32n << 20n, spiFirst: 112, spiCount: 16 },
   *   hostDtb: readFileSync('/sys/firmware/fdt'),
   *   interruptParent: 1,                                           // the guest GIC's phandle
   *   kvm: { vmFd },
   *   mapMemory: (s) => setMemslot(s.gpa, s.size, s.hostAddress),
   *   unmapMemory: (s) => setMemslot(s.gpa, 0n, s.hostAddress),
   * });
   * console.log(pt.placement.regions[0]!.address.toString(16), pt.placement.irqs[0]!.intid);
   * const node = pt.dtNode();                                       // merge into the guest's tree
   * console.log(node.dtb.byteLength);
   * dev.close();                                                    // closes pt first
   * ```
   */
  platform(opts: PlatformPassthroughOptions): PlatformPassthrough {
    this.liveFd();
    checkObject('opts', opts);
    if (this.#kind.passthrough !== 'platform') {
      throw new VfioError({ kind: 'not-supported', device: this.name, message: `is a ${this.info.kind} device, not a platform or AMBA one`, hint: this.#kind.passthrough === 'pci' ? 'pass a PCI function through with its PCI room (dev.pci(...))' : 'vfiokit has no guest room for this kind of device yet' });
    }
    if (this.#platform && !this.#platform.closed) throw new VfioError({ kind: 'bad-state', device: this.name, message: 'is already passed through', hint: 'close the existing PlatformPassthrough first' });
    this.#platform = PlatformPassthrough.of(this, opts);
    return this.#platform;
  }

  /** The address space DMA goes through, or throws 'not-supported' for no-IOMMU. */
  #dmaSpace(): DmaSpace {
    this.liveFd();
    const s = this.#iommufd ?? this.#container;
    if (!s || s.kind === 'noiommu') throw noDma(this.name);
    return s;
  }

  /**
   * Maps memory for the device's DMA at `iova` (on the shared type1 container, or the IOAS):
   * every device of that container sees it. The mapping belongs to this device: unmapDma() or
   * close() removes it. Throws 'not-supported' for a no-IOMMU device ("no IOMMU: DMA cannot be
   * confined"), 'bad-argument' (sizes, alignment, 64-bit overflow, a buffer not from allocDma or
   * too small), and the kernel's errors (EEXIST for an overlap, ...).
   * Syscalls: VFIO_IOMMU_MAP_DMA (type1) or IOMMU_IOAS_MAP (iommufd). A second mapping at the
   * same IOVA is the kernel's to refuse.
   *
   * @throws VfioError 'closed', 'not-supported' (no-IOMMU), 'bad-argument', and the errno kinds of
   *   the ioctl: 'syscall' (EEXIST: an overlap; EINVAL: outside the usable ranges; ENOMEM:
   *   RLIMIT_MEMLOCK too low for the pinned pages), 'permission'.
   *
   * @example
   * ```ts
   * import { allocDma, openDevice } from 'vfiokit';
   *
   * const dev = openDevice('0000:00:03.0');
   * const ring = allocDma(4096);
   * const rec = dev.mapDma({ iova: 0x8000_0000n, buffer: ring.bytes, size: 4096n, write: true });
   * console.log(rec.hostAddress.toString(16), dev.dmaMappings().length); // 1
   * dev.unmapDma(rec.iova, rec.size);
   * ring.close();
   * dev.close();
   * ```
   */
  mapDma(req: DmaMapOptions): DmaMappingRecord {
    const space = this.#dmaSpace();
    checkObject('req', req);
    const what = 'mapDma';
    const iova = req.iova, size = req.size, buf = req.buffer, addr = req.hostAddress;
    let host: bigint;
    let buffer: DmaBuffer | undefined;
    if (buf === undefined && addr !== undefined && isPlainDmaRange(iova, size, addr)) {
      host = addr; // the usual request: both ranges below 2^53 and aligned, shown by comparisons alone
    } else {
      checkDmaRange(iova, size, this.name, what);
      if (buf !== undefined) {
        const b = dmaBufferOf(buf);
        if (!b) throw new VfioError({ kind: 'bad-argument', device: this.name, message: `${what}: the buffer was not allocated with allocDma()`, hint: 'a JS ArrayBuffer has no stable, page-aligned address: allocate DMA memory with allocDma(size), or pass hostAddress' });
        if (size > BigInt(b.dma.size - b.offset)) throw new VfioError({ kind: 'bad-argument', device: this.name, message: `${what}: 0x${size.toString(16)} bytes do not fit the ${b.dma.size}-byte DMA buffer at offset ${b.offset}` });
        b.dma.bytes; // throws 'closed' for a freed buffer
        host = b.offset === 0 ? b.dma.hostAddress : b.dma.hostAddress + BigInt(b.offset);
        buffer = b.dma;
      } else if (addr !== undefined) {
        host = addr;
        checkDmaRange(host, size, this.name, what, 'hostAddress');
      } else {
        throw new VfioError({ kind: 'bad-argument', device: this.name, message: `${what}: neither buffer nor hostAddress given`, hint: 'pass buffer (from allocDma) or hostAddress' });
      }
    }
    const read = req.read === undefined ? true : req.read, write = req.write === undefined ? true : req.write;
    if (typeof read !== 'boolean') badArgument('req.read', read, 'true or false');
    if (typeof write !== 'boolean') badArgument('req.write', write, 'true or false');
    space.map(iova, host, size, read, write, this.name);
    const replaced = this.#dma.add(iova, size, host, read, write, buffer);
    if (replaced) replaced.dmaRefs--;
    if (buffer) buffer.dmaRefs++;
    return { iova, size, hostAddress: host, read, write };
  }

  /** What the IOMMU accepts for DMA: page sizes and usable IOVA ranges (type1: VFIO_IOMMU_GET_INFO;
   *  iommufd: IOMMU_IOAS_IOVA_RANGES gives the ranges and iovaAlignment, no page sizes). Read anew
   *  on each call (ranges narrow as devices attach). 'not-supported' for a no-IOMMU device;
   *  'kernel-reply' for a malformed reply; a failed ioctl keeps its errno.
   * @throws VfioError 'closed', 'not-supported', 'kernel-reply', the errno kinds of the ioctl.
   */
  dmaInfo(): DmaInfo { return this.#dmaSpace().info(this.name); }

  /** Unmaps the DMA mappings this device made inside [iova, iova + size) (whole mappings only, as
   *  type1v2 requires), in IOVA order; returns the bytes unmapped. 'not-found' when none lies
   *  inside. If the kernel refuses one, its error is thrown: those before it are unmapped, it and
   *  those after it are still mapped (and listed).
   * `iova` and `size` are page multiples (bigint, bytes). Syscalls: VFIO_IOMMU_UNMAP_DMA or
   * IOMMU_IOAS_UNMAP, one per mapping.
   * @throws VfioError 'closed', 'not-supported' (no-IOMMU), 'bad-argument' (range), 'not-found',
   *   the errno kinds of the ioctl.
   */
  unmapDma(iova: bigint, size: bigint): bigint {
    const space = this.#dmaSpace();
    if (!isPlainDmaRange(iova, size)) checkDmaRange(iova, size, this.name, 'unmapDma');
    const d = this.#dma;
    const one = d.indexOfMapping(iova, size);
    if (one >= 0) {
      // Exactly one mapping: unmapping piece by piece.
      const unmapped = space.unmap(iova, size, this.name);
      this.#dmaDrop(one);
      d.compact();
      return unmapped;
    }
    let i = d.lowerBound(iova);
    const end = iova + size, last = end - 1n;
    let total = 0n, found = false;
    try {
      for (; i < d.rows; i++) {
        const at = d.iovaAt(i);
        if (at > last) break;
        if (!d.isLive(i)) continue;
        const sz = d.sizeAt(i);
        if (at + sz > end) continue;
        found = true;
        total += space.unmap(at, sz, this.name);
        this.#dmaDrop(i);
      }
    } finally { d.compact(); }
    if (!found) throw new VfioError({ kind: 'not-found', device: this.name, message: `no DMA mapping of this device lies inside IOVA 0x${iova.toString(16)}..0x${last.toString(16)}`, hint: 'unmap the IOVA and size that mapDma() was given' });
    return total;
  }

  /** Marks row i unmapped; its buffer may be freed again once no other mapping uses it. */
  #dmaDrop(i: number): void {
    const b = this.#dma.drop(i);
    if (b) b.dmaRefs--;
  }

  /** The DMA mappings this device owns.
   * A fresh array of copies in IOVA order; an empty array after close().
   */
  dmaMappings(): DmaMappingRecord[] {
    return this.#dma.entries().map(({ iova, size, hostAddress, read, write }) => ({ iova, size, hostAddress, read, write }));
  }

  /**
   * Closes in the fixed order (the guest room: PciPassthrough or PlatformPassthrough; mappings, IRQs, DMA, device fd, group, container/iommufd). Every
   * step runs even if one fails; the first failure is thrown at the end. Closing twice is
   * harmless. Afterwards every method throws 'closed', and so do the device's Mappings.
   * @throws VfioError the first failure of a step (its errno kind), after every step has run.
   */
  close(): void {
    if (this.#closing) return;
    if (this.#fd < 0) { this.#unmapRemaining(); return; }
    this.#closing = true;
    try { this.#release(); } finally { this.#closing = false; }
  }

  /** A mapping whose munmap failed stays listed (its views are gone already): close() again
   *  tries it again, so a transient failure leaks nothing. */
  #unmapRemaining(): void {
    const t = new Teardown();
    for (const m of [...this.#mappings]) t.step(() => { m.close(); this.#mappings.delete(m); });
    t.finish();
  }
  /** close(), for `using dev = openDevice(...)`. */
  [Symbol.dispose](): void { this.close(); }

  #release(): void {
    const t = new Teardown();
    // The guest room first: it hands the guest's memory slots back (unmapMemory) before the
    // mappings behind them go, and releases its interrupts and placement.
    if (this.#pci) { const p = this.#pci; t.step(() => p.close()); this.#pci = undefined; }
    if (this.#platform) { const p = this.#platform; t.step(() => p.close()); this.#platform = undefined; }
    for (const m of [...this.#mappings]) t.step(() => { m.close(); this.#mappings.delete(m); });
    if (this.#routing) { const r = this.#routing; t.step(() => r.close()); this.#routing = undefined; }
    for (const q of this.irqs ?? []) t.step(() => q.disable());
    const space = this.#iommufd ?? this.#container;
    for (const m of this.#dma.entries()) {
      t.step(() => { if (space && this.#fd >= 0) space.unmap(m.iova, m.size, this.name); });
      if (m.buffer) m.buffer.dmaRefs--;
    }
    this.#dma.clear();
    if (this.regionTable) { const h = this.regionTable; t.step(() => h.close()); }
    if (this.#fd >= 0) { const fd = this.#fd; t.step(() => this.sys.close(fd)); this.#fd = -1; }
    if (this.#group) { const g = this.#group; t.step(() => g.release()); this.#group = undefined; }
    if (this.#container) { const c = this.#container; t.step(() => c.release()); this.#container = undefined; }
    if (this.#iommufd) { const s = this.#iommufd; t.step(() => s.release()); this.#iommufd = undefined; }
    namesOf(this.sys).delete(this.name);
    leaks.unregister(this);
    t.finish();
  }
}

