// The IOMMU side of an open device: the legacy VFIO container (type1 or no-IOMMU) with its groups,
// or an iommufd with one IOAS. Both are shared by every device a process opens, refcounted, so a
// DMA mapping made through one device applies to all devices of the same container or IOAS (a
// VM's RAM is one address space); the last device to close closes them.
//
// Sharing rules (decisions as data, written down once):
// - one type1 container and one no-IOMMU container per process (the kernel refuses to mix
//   no-IOMMU and IOMMU-backed groups in one container: EPERM);
// - one group fd per IOMMU group (the kernel allows one open of /dev/vfio/N: a second is EBUSY),
//   shared by the devices of that group;
// - one iommufd and one IOAS per process for the cdev path.
// If the kernel refuses a group in the shared type1 container (devices behind IOMMUs with
// incompatible domains), the error says so; a private container per device is not attempted.
//
// Close order (docs/DESIGN.md): a group is unset from its container before its fd closes, and a
// container or iommufd closes only when no group or device uses it.
// Not responsible for: device fds (device.ts), DMA bookkeeping per device (device.ts owns the list).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VfioError } from '../errors.js';
import { groupMembers, VFIO_DRIVER, type SysfsOptions } from '../sysfs.js';
import type { Sys } from '../../shim/sys.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, O_CLOEXEC, O_RDWR, PROT_READ, PROT_WRITE } from '../../shim/libc.js';
import { processPaths } from '../../shim/paths.js';
import {
  VFIO_API_VERSION, VFIO_GROUP_FLAGS_VIABLE, VFIO_NOIOMMU_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_LAYOUT, encodeGroupStatus,
} from '../../shim/uapi/vfio.js';
import { IOMMUFD_LAYOUT, encodeIoasAlloc, encodeIommuDestroy } from '../../shim/uapi/iommufd.js';
import * as vfio from '../../shim/vfio.js';
import * as iommufd from '../../shim/iommufd.js';
import { ctx, rethrowWithContext, Teardown } from './context.js';
import { encodeDmaMapWords, encodeDmaUnmapWords } from '../vfio/encode.js';
import { queryIommuType1Info } from '../vfio/query.js';
import type { IovaRange } from '../vfio/decode.js';
import { encodeIoasMapWords, encodeIoasUnmapWords, queryIoasIovaRanges } from '../vfio/iommufd.js';
import { structWords, u32, type StructWords } from '../../shim/bytes.js';

/** The IOMMU path of an open device: 'type1' (a legacy /dev/vfio/vfio container), 'iommufd' (/dev/iommu and the device's cdev) or 'noiommu' (no IOMMU: no DMA mapping, unsafe mode only). */
export type IommuKind = 'type1' | 'noiommu' | 'iommufd';

export const VFIO_CONTAINER_PATH = '/dev/vfio/vfio';
export const IOMMUFD_PATH = '/dev/iommu';
export const NOIOMMU_HINT = 'boot with vfio.enable_unsafe_noiommu_mode=1 or echo Y > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode';

/** The address space DMA goes through: the type1 container or the iommufd IOAS. */
export interface DmaSpace {
  readonly kind: IommuKind;
  /** What the IOMMU accepts: page sizes (bitmap) and the usable IOVA ranges (inclusive). */
  info(device: string): DmaInfo;
  map(iova: bigint, vaddr: bigint, size: bigint, read: boolean, write: boolean, device: string): void;
  /** Unmaps [iova, iova + size); returns the bytes the kernel unmapped. */
  unmap(iova: bigint, size: bigint, device: string): bigint;
}

/** What the IOMMU accepts for DMA, from {@link VfioDevice.dmaInfo}. */
export interface DmaInfo {
  /** Bitmap of the IOMMU page sizes (bit n set: 2^n bytes), or undefined when not reported. */
  pageSizes: bigint | undefined;
  /** Usable IOVA ranges, inclusive [start, end]; undefined when the kernel does not report them. */
  iovaRanges: IovaRange[] | undefined;
  /** DMA mappings that may still be made (type1's VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL), if reported. */
  dmaAvail: number | undefined;
  /** iommufd's out_iova_alignment: a map's IOVA and IOVA + size must be multiples of it (1: any,
   *  at most the system page size). Absent for type1, which reports page sizes instead. */
  iovaAlignment?: bigint;
}

/** Per-Sys state: tests with a fake libc get their own, so nothing leaks between them. */
interface Registry {
  containers: Map<'type1' | 'noiommu', Container>;
  groups: Map<string, Group>;
  iommufd: IommufdSpace | undefined;
}
const registries = new WeakMap<Sys, Registry>();
function registry(sys: Sys): Registry {
  let r = registries.get(sys);
  if (!r) { r = { containers: new Map(), groups: new Map(), iommufd: undefined }; registries.set(sys, r); }
  return r;
}

/** How many containers, groups and iommufds are open through `sys` (tests check teardown). */
export function openIommuObjects(sys: Sys): { containers: number; groups: number; iommufd: number } {
  const r = registry(sys);
  return { containers: r.containers.size, groups: r.groups.size, iommufd: r.iommufd ? 1 : 0 };
}

export class Container implements DmaSpace {
  readonly kind: 'type1' | 'noiommu';
  readonly fd: number;
  /** The VFIO_SET_IOMMU type once the first group joined (VFIO_TYPE1v2_IOMMU, ...), else 0. */
  iommuType = 0;
  #sys: Sys;
  #refs = 0;
  #candidate: number;

  private constructor(sys: Sys, kind: 'type1' | 'noiommu', fd: number, candidate: number) {
    this.#sys = sys; this.kind = kind; this.fd = fd; this.#candidate = candidate;
  }

  /** The process's container of `kind`, opened and checked on first use; one more reference. */
  static acquire(sys: Sys, kind: 'type1' | 'noiommu', device: string): Container {
    const reg = registry(sys);
    let c = reg.containers.get(kind);
    if (!c) {
      // The error contexts are added in the catch blocks (rethrowWithContext), not by ctx(): the
      // first device of every open pays for this, and a closure per call is what ctx() costs.
      let fd: number;
      try { fd = sys.open(VFIO_CONTAINER_PATH, O_RDWR | O_CLOEXEC); } catch (e) {
        rethrowWithContext(e, device, {
          message: () => `cannot open the VFIO container ${VFIO_CONTAINER_PATH}`,
          hint: (x) => x.kind === 'permission' ? `give this user read/write access to ${VFIO_CONTAINER_PATH} (or run as root)`
            : x.kind === 'not-found' ? `the kernel has no legacy VFIO container (CONFIG_VFIO_CONTAINER); use { iommu: 'iommufd' }` : undefined,
        });
      }
      try {
        let api: number;
        try { api = vfio.getApiVersion(sys, fd); } catch (e) { rethrowWithContext(e, device); }
        if (api !== VFIO_API_VERSION) throw new VfioError({ kind: 'not-supported', device, message: `the kernel's VFIO API version is ${api}, not ${VFIO_API_VERSION}`, hint: 'this kernel speaks a VFIO API vfiokit does not know' });
        let candidate: number;
        if (kind === 'noiommu') {
          if (extension(sys, fd, VFIO_NOIOMMU_IOMMU, device) <= 0) {
            throw new VfioError({ kind: 'not-supported', device, message: 'the kernel does not offer the no-IOMMU VFIO mode (VFIO_NOIOMMU_IOMMU)', hint: NOIOMMU_HINT });
          }
          candidate = VFIO_NOIOMMU_IOMMU;
        } else if (extension(sys, fd, VFIO_TYPE1v2_IOMMU, device) > 0) {
          candidate = VFIO_TYPE1v2_IOMMU;
        } else if (extension(sys, fd, VFIO_TYPE1_IOMMU, device) > 0) {
          candidate = VFIO_TYPE1_IOMMU;
        } else {
          throw new VfioError({ kind: 'not-supported', device, message: 'the kernel offers no type1 IOMMU backend (VFIO_TYPE1v2_IOMMU / VFIO_TYPE1_IOMMU)', hint: "build the kernel with CONFIG_VFIO_IOMMU_TYPE1, or use { iommu: 'iommufd' }" });
        }
        c = new Container(sys, kind, fd, candidate);
      } catch (e) {
        try { sys.close(fd); } catch { /* the first error is the one to report */ }
        throw e;
      }
      reg.containers.set(kind, c);
    }
    c.#refs++;
    return c;
  }

  /** VFIO_SET_IOMMU once, after the first group joined (the kernel requires a group first). */
  setIommuOnce(device: string): void {
    if (this.iommuType !== 0) return;
    try { vfio.setIommu(this.#sys, this.fd, this.#candidate); } catch (e) {
      rethrowWithContext(e, device, {
        message: () => `cannot set the container's IOMMU type (${this.#candidate === VFIO_NOIOMMU_IOMMU ? 'VFIO_NOIOMMU_IOMMU' : this.#candidate === VFIO_TYPE1v2_IOMMU ? 'VFIO_TYPE1v2_IOMMU' : 'VFIO_TYPE1_IOMMU'})`,
        hint: (x) => x.kind === 'permission' && this.kind === 'noiommu' ? 'the no-IOMMU mode needs CAP_SYS_RAWIO (run as root)' : x.hint,
      });
    }
    this.iommuType = this.#candidate;
  }

  /** One reference less; the last closes the fd. */
  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    const reg = registry(this.#sys);
    if (reg.containers.get(this.kind) === this) reg.containers.delete(this.kind);
    this.#sys.close(this.fd);
  }

  info(device: string): DmaInfo {
    if (this.kind === 'noiommu') throw noDma(device);
    const i = ctx(device, () => queryIommuType1Info((b) => { vfio.iommuGetInfo(this.#sys, this.fd, b); }), { message: 'cannot read the type1 IOMMU info' });
    return { pageSizes: i.flags & 1 ? i.iovaPgsizes : undefined, iovaRanges: i.iovaRanges, dmaAvail: i.dmaAvail };
  }

  // The DMA requests are encoded into these, reused: a VMM maps guest RAM in many pieces, and
  // map/unmap allocate nothing and build no string unless they fail (the encoders check what the
  // core's would; they write through word views, shim/bytes.ts StructWords). Made on the first
  // map or unmap, not with the container: a container opens with every first device, and a
  // no-IOMMU one never maps.
  #mapReq: StructWords | undefined;
  #unmapReq: StructWords | undefined;

  map(iova: bigint, vaddr: bigint, size: bigint, read: boolean, write: boolean, device: string): void {
    if (this.kind === 'noiommu') throw noDma(device);
    let req: Uint8Array;
    try { req = encodeDmaMapWords(this.#mapReq ??= structWords(VFIO_LAYOUT.vfio_iommu_type1_dma_map.size), vaddr, iova, size, read, write); } catch (e) { rethrowWithContext(e, device); }
    try { vfio.iommuMapDma(this.#sys, this.fd, req); } catch (e) {
      rethrowWithContext(e, device, {
        message: `cannot map 0x${size.toString(16)} bytes for DMA at IOVA 0x${iova.toString(16)}`,
        hint: (x) => x.errnoName === 'EEXIST' ? 'the IOVA range overlaps an existing DMA mapping; unmap it first'
          : x.errnoName === 'EINVAL' ? `IOVA, address and size must be multiples of the IOMMU page size and inside its IOVA ranges${this.#rangesText(device)}`
          : x.errnoName === 'ENOSPC' ? entryLimitHint() : x.errnoName === 'ENOMEM' ? memlockHint(size) : x.hint,
      });
    }
  }

  /** " (ranges: 0x0-0x7ffffff, ...)" for a hint; empty when they cannot be read. */
  #rangesText(device: string): string {
    try {
      const r = this.info(device).iovaRanges;
      return r ? ` (ranges: ${r.map((x) => `0x${x.start.toString(16)}-0x${x.end.toString(16)}`).join(', ')})` : '';
    } catch { return ''; }
  }

  unmap(iova: bigint, size: bigint, device: string): bigint {
    if (this.kind === 'noiommu') throw noDma(device);
    let req: Uint8Array;
    const words = this.#unmapReq ??= structWords(VFIO_LAYOUT.vfio_iommu_type1_dma_unmap.size);
    try { req = encodeDmaUnmapWords(words, iova, size); } catch (e) { rethrowWithContext(e, device); }
    try { vfio.iommuUnmapDma(this.#sys, this.fd, req); } catch (e) {
      rethrowWithContext(e, device, { message: `cannot unmap 0x${size.toString(16)} bytes of DMA at IOVA 0x${iova.toString(16)}` });
    }
    // The kernel writes back the size unmapped, in the host's byte order: the view's.
    return words.u64[2]!;
  }
}

/** VFIO_CHECK_EXTENSION on a container: > 0 when `type` is offered; a failure gets the device's context. */
function extension(sys: Sys, fd: number, type: number, device: string): number {
  try { return vfio.checkExtension(sys, fd, type); } catch (e) { rethrowWithContext(e, device); }
}

/** The hint of a type1 map refused with ENOSPC: the container holds as many mappings as
 *  vfio_iommu_type1.dma_entry_limit allows (read when it fails, so the hint says how many). */
function entryLimitHint(): string {
  const limit = readText(DMA_ENTRY_LIMIT)?.trim();
  return `the type1 container holds as many DMA mappings as vfio_iommu_type1.dma_entry_limit allows${limit ? ` (${limit})` : ''}: map fewer, larger pieces, unmap some, or raise the limit (${DMA_ENTRY_LIMIT}, or vfio_iommu_type1.dma_entry_limit=N at boot)`;
}

/** The hint of a map refused with ENOMEM: the pinned pages count against this process's
 *  RLIMIT_MEMLOCK (type1 and iommufd both account them) unless it has CAP_IPC_LOCK; the limit is
 *  read when it fails, so the hint says what it is. */
function memlockHint(size: bigint): string {
  const m = /^Max locked memory\s+(\S+)/m.exec(readText('/proc/self/limits') ?? '');
  const soft = m?.[1];
  if (soft === undefined || soft === 'unlimited') return 'the kernel could not pin the pages (out of memory); RLIMIT_MEMLOCK is not what stopped it here (unlimited or unreadable)';
  return `pinning 0x${size.toString(16)} more bytes passes this process's locked-memory limit (RLIMIT_MEMLOCK ${Number(soft) / 1024} KiB, ulimit -l) unless it has CAP_IPC_LOCK: raise the limit (ulimit -l, LimitMEMLOCK= in a systemd unit, /etc/security/limits.conf) to cover the guest's DMA memory, or the kernel is out of memory`;
}
const DMA_ENTRY_LIMIT = '/sys/module/vfio_iommu_type1/parameters/dma_entry_limit';
const readText = (p: string): string | undefined => { try { return readFileSync(p, 'utf8'); } catch { return undefined; } };

export function noDma(device: string): VfioError {
  return new VfioError({ kind: 'not-supported', device, message: 'no IOMMU: DMA cannot be confined', hint: 'a no-IOMMU device can DMA anywhere in physical memory; VFIO offers no DMA mapping for it (use a device behind an IOMMU for DMA)' });
}

/** struct vfio_group_status {argsz, flags}, reused by every group open (a new small typed array
 *  is moved outside V8's heap the first time koffi passes it to C). */
const groupStatus = new Uint8Array(VFIO_LAYOUT.vfio_group_status.size);

/** An IOMMU group's fd, attached to a container. */
export class Group {
  readonly path: string;
  readonly number: number;
  readonly fd: number;
  readonly container: Container;
  #sys: Sys;
  #refs = 0;
  #attached = false;

  private constructor(sys: Sys, path: string, number: number, fd: number, container: Container) {
    this.#sys = sys; this.path = path; this.number = number; this.fd = fd; this.container = container;
  }

  /** The group of `device`, opened, checked for viability and attached on first use. */
  static acquire(sys: Sys, group: number, noiommu: boolean, container: Container, device: string, sysfs?: SysfsOptions): Group {
    const path = `/dev/vfio/${noiommu ? 'noiommu-' : ''}${group}`;
    const reg = registry(sys);
    let g = reg.groups.get(path);
    if (g && g.container !== container) {
      throw new VfioError({ kind: 'bad-state', device, message: `group ${group} is already attached to the ${g.container.kind} container of this process`, hint: 'open every device of a group with the same iommu option' });
    }
    if (!g) {
      // The error contexts are added in the catch blocks, as in Container.acquire.
      let fd: number;
      try { fd = sys.open(path, O_RDWR | O_CLOEXEC); } catch (e) {
        rethrowWithContext(e, device, {
          message: () => `cannot open the VFIO group ${path}`,
          // A no-IOMMU group node answers EPERM to anyone without CAP_SYS_RAWIO, whatever its mode
          // (vfio's rule for the unsafe mode, seen in the lab with the node chowned to the user).
          hint: (x) => x.errnoName === 'EPERM' && noiommu ? `a no-IOMMU group opens only with CAP_SYS_RAWIO, whatever the permissions of ${path}: run as root or give the process that capability`
            : x.kind === 'permission' ? `check the permissions of ${path} (ls -l ${path}); run as root or give this user access with a udev rule or chown`
            : x.kind === 'busy' ? `another process (or an fd opened outside vfiokit) holds ${path}; close it there first`
            : x.kind === 'not-found' ? `${path} appears once the device is bound to its VFIO driver: vfiokit bind ${device}` : undefined,
        });
      }
      g = new Group(sys, path, group, fd, container);
      try {
        const status = encodeGroupStatus(groupStatus);
        try { vfio.groupGetStatus(sys, fd, status); } catch (e) { rethrowWithContext(e, device, { message: () => `cannot read the status of ${path}` }); }
        const flags = u32(status, VFIO_LAYOUT.vfio_group_status.flags);
        if ((flags & VFIO_GROUP_FLAGS_VIABLE) === 0) throw notViable(group, device, sysfs);
        try { vfio.groupSetContainer(sys, fd, container.fd); } catch (e) {
          rethrowWithContext(e, device, {
            message: () => `cannot add ${path} to the process's ${container.kind} container`,
            hint: (x) => x.errnoName === 'EPERM' && container.kind === 'type1' ? 'the group cannot share this container (incompatible IOMMU domain); close the other devices first' : x.hint,
          });
        }
        g.#attached = true;
        container.setIommuOnce(device);
      } catch (e) {
        g.#teardown();
        throw e;
      }
      reg.groups.set(path, g);
    }
    g.#refs++;
    return g;
  }

  #teardown(): void {
    const t = new Teardown();
    // EINVAL: the kernel detached the container itself, as it does when the group's last device
    // is unregistered (an unbind while the device was open: VfioDevice.onRequest); nothing is left to undo.
    if (this.#attached) t.step(() => { try { vfio.groupUnsetContainer(this.#sys, this.fd); } catch (e) { if (!(e instanceof VfioError && e.errnoName === 'EINVAL')) throw e; } });
    this.#attached = false;
    t.step(() => this.#sys.close(this.fd));
    t.finish();
  }

  /** One reference less; the last unsets the container and closes the fd. */
  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    const reg = registry(this.#sys);
    if (reg.groups.get(this.path) === this) reg.groups.delete(this.path);
    this.#teardown();
  }
}

/** 'not-viable' naming the group's devices that are not bound to a VFIO driver, with their drivers. */
export function notViable(group: number, device: string, sysfs?: SysfsOptions): VfioError {
  const vfioDrivers = new Set(Object.values(VFIO_DRIVER));
  const others = groupMembers(group, sysfs).filter((m) => m.name !== device && !(m.driver && vfioDrivers.has(m.driver)));
  const list = others.map((m) => `${m.name} (${m.driver ? `bound to ${m.driver}` : 'no driver'})`).join(', ');
  return new VfioError({
    kind: 'not-viable', device,
    message: `IOMMU group ${group} is not viable${list ? `: ${list} in the same group ${others.length === 1 ? 'is' : 'are'} not bound to a VFIO driver` : ''}`,
    hint: others.length ? `bind ${others.length === 1 ? 'it' : 'them'} to VFIO (${others.map((m) => `vfiokit bind ${m.name}`).join('; ')}) or unbind ${others.length === 1 ? 'it' : 'them'}` : 'bind every device of the group to its VFIO driver (vfiokit bind <name>)',
  });
}

/** The iommufd and its one IOAS, shared by the process's cdev devices. */
export class IommufdSpace implements DmaSpace {
  readonly kind = 'iommufd' as const;
  readonly fd: number;
  readonly ioasId: number;
  #sys: Sys;
  #refs = 0;

  private constructor(sys: Sys, fd: number, ioasId: number) { this.#sys = sys; this.fd = fd; this.ioasId = ioasId; }

  static acquire(sys: Sys, device: string): IommufdSpace {
    const reg = registry(sys);
    let s = reg.iommufd;
    if (!s) {
      const fd = ctx(device, () => sys.open(IOMMUFD_PATH, O_RDWR | O_CLOEXEC), {
        message: `cannot open ${IOMMUFD_PATH}`,
        hint: (e) => e.kind === 'not-found' ? 'the kernel has no iommufd (CONFIG_IOMMUFD); use the legacy container ({ iommu: \'type1\' })' : e.kind === 'permission' ? `give this user access to ${IOMMUFD_PATH} (or run as root)` : undefined,
      });
      try {
        const a = encodeIoasAlloc();
        ctx(device, () => iommufd.ioasAlloc(sys, fd, a), { message: 'cannot allocate an IOAS' });
        s = new IommufdSpace(sys, fd, u32(a, IOMMUFD_LAYOUT.iommu_ioas_alloc.out_ioas_id));
      } catch (e) {
        try { sys.close(fd); } catch { /* report the first error */ }
        throw e;
      }
      reg.iommufd = s;
    }
    s.#refs++;
    return s;
  }

  release(): void {
    if (this.#refs <= 0) return;
    if (--this.#refs > 0) return;
    const reg = registry(this.#sys);
    if (reg.iommufd === this) reg.iommufd = undefined;
    const t = new Teardown();
    t.step(() => { iommufd.destroy(this.#sys, this.fd, encodeIommuDestroy(this.ioasId)); });
    t.step(() => this.#sys.close(this.fd));
    t.finish();
  }

  /** The IOAS's usable IOVA ranges from IOMMU_IOAS_IOVA_RANGES, in its two steps
   *  (queryIoasIovaRanges: ask the count, EMSGSIZE, ask again with an array that large). The kernel
   *  writes the array through a user pointer, so it goes into an anonymous mapping of ours that is
   *  unmapped before this returns. The ranges are those of the IOAS, narrowed by every device
   *  attached to it (an SMMU's MSI window is a hole); they change when devices attach or detach.
   *  iovaAlignment is the kernel's out_iova_alignment. pageSizes is undefined: iommufd has no
   *  cheap page-size bitmap (IOMMU_GET_HW_INFO reports driver-specific registers, not a bitmap).
   *  dmaAvail is type1's only: undefined. Errors: the ioctl's (errno kept), 'kernel-reply' for a
   *  malformed reply (status, offset), mmap's if the array cannot be had. */
  info(device: string): DmaInfo {
    const sys = this.#sys;
    const r = ctx(device, () => queryIoasIovaRanges(this.ioasId, (req) => { iommufd.ioasIovaRanges(sys, this.fd, req); }, (bytes) => {
      const len = BigInt(bytes);
      const addr = sys.mmap(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
      return { addr, bytes: () => new Uint8Array(sys.view(addr, bytes)), free: () => sys.munmap(addr, len) };
    }), { message: () => `cannot read the usable IOVA ranges of IOAS ${this.ioasId}` });
    return { pageSizes: undefined, iovaRanges: r.ranges, dmaAvail: undefined, iovaAlignment: r.iovaAlignment };
  }

  // Reused as the type1 container's are (the iommufd DMA hot path allocates nothing either), and
  // made on first use as theirs are.
  #mapReq: StructWords | undefined;
  #unmapReq: StructWords | undefined;

  map(iova: bigint, vaddr: bigint, size: bigint, read: boolean, write: boolean, device: string): void {
    let a: Uint8Array;
    try { a = encodeIoasMapWords(this.#mapReq ??= structWords(IOMMUFD_LAYOUT.iommu_ioas_map.size), this.ioasId, vaddr, size, iova, read, write); } catch (e) { rethrowWithContext(e, device); }
    try { iommufd.ioasMap(this.#sys, this.fd, a); } catch (e) {
      rethrowWithContext(e, device, {
        message: () => `cannot map 0x${size.toString(16)} bytes for DMA at IOVA 0x${iova.toString(16)} in IOAS ${this.ioasId}`,
        hint: (x) => x.errnoName === 'EEXIST' ? 'the IOVA range overlaps an existing DMA mapping; unmap it first' : x.errnoName === 'ENOMEM' ? memlockHint(size) : x.hint,
      });
    }
  }

  unmap(iova: bigint, size: bigint, device: string): bigint {
    let a: Uint8Array;
    const words = this.#unmapReq ??= structWords(IOMMUFD_LAYOUT.iommu_ioas_unmap.size);
    try { a = encodeIoasUnmapWords(words, this.ioasId, iova, size); } catch (e) { rethrowWithContext(e, device); }
    try { iommufd.ioasUnmap(this.#sys, this.fd, a); } catch (e) {
      rethrowWithContext(e, device, { message: () => `cannot unmap 0x${size.toString(16)} bytes of DMA at IOVA 0x${iova.toString(16)}` });
    }
    return words.u64[2]!; // the kernel writes back the length unmapped (host byte order)
  }
}

/** /dev/vfio/devices/vfioN of a device, from sysfs (vfio-dev/vfioN), or null. */
export function cdevPath(bus: string, name: string, sysfs?: SysfsOptions): string | null {
  try {
    const n = readdirSync(join(sysfs?.sysfs ?? '/sys', 'bus', bus, 'devices', name, 'vfio-dev')).find((e) => /^vfio\d+$/.test(e));
    return n ? `/dev/vfio/devices/${n}` : null;
  } catch { return null; }
}

/** True when the legacy container node exists (for 'auto'). */
export const haveContainer = (): boolean => processPaths().exists(VFIO_CONTAINER_PATH);
export const haveIommufd = (): boolean => processPaths().exists(IOMMUFD_PATH);
