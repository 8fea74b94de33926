// One region of an open device (a PCI BAR, config space, a platform "reg" entry): the trap path
// (pread/pwrite on the device fd, each access checked by the core's region table first) and
// zero-copy mappings of the ranges the core's map/trap split allows.
// Not responsible for: deciding what is mappable (the core's region table), the device's
// lifetime (the VfioDevice closes its regions' mappings first).
import { VfioError } from '../errors.js';
import { Mapping, type Width } from '../mapping.js';
import type { Sys } from '../../shim/sys.js';
import { ctx, rethrowWithContext, withContext } from './context.js';
import { badArgument } from '../../shim/args.js';
import type { AccessResult, RegionCounters, RegionTable, SplitRange } from '../core/region.js';
import { setU16, setU32, setU64, u16, u32, u64 } from '../../shim/bytes.js';

// vfio_region_info.flags: one home, shim/uapi/vfio.ts (re-exported here as before).
import { VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_MMAP } from '../../shim/uapi/vfio.js';
export { VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_CAPS } from '../../shim/uapi/vfio.js';

/** What a region needs from its device: the fd, the sys, the core's table, and a liveness check. */
export interface RegionOwner {
  readonly name: string;
  readonly sys: Sys;
  /** The device fd; throws 'closed' once the device is closed. */
  liveFd(): number;
  readonly regionTable: RegionTable;
  readonly pageSize: number;
  /** Registers a mapping so that the device unmaps it first on close. */
  adopt(m: Mapping): void;
}

/** One mapped range of a region, from {@link DeviceRegion.mapAll}: `size` bytes at `offset` in the region, as a {@link Mapping} the device owns (unmapped at its close). */
export interface RegionMap {
  /** Offset of the mapped range inside the region. */
  offset: bigint;
  /** Bytes mapped (a multiple of the page size). */
  size: bigint;
  /** The zero-copy mapping; its offsets count from `offset`. */
  mapping: Mapping;
}

/** @internal What VfioDevice knows of a region when it builds one. */
export interface RegionInit { index: number; name: string; ok: boolean; error?: VfioError | (() => VfioError); flags?: number; size?: bigint; fileOffset?: bigint; sparse?: { offset: bigint; size: bigint }[] | null; capType?: { type: number; subtype: number } | null; msixMappable?: boolean }

/**
 * One region of an open device: a PCI BAR, the ROM, config space or VGA (by vfio-pci's fixed
 * index), or a platform/AMBA device's `reg` entry. Two ways in: the trap path (read()/write():
 * pread/pwrite on the device fd, each access checked by the core's region table first: a refused
 * one reads all-ones and writes nothing, and is counted) and zero-copy mappings (map()/mapAll():
 * mmap of the page-aligned ranges the core's split allows). Built by {@link openDevice}; lives and
 * dies with its {@link VfioDevice}: after the device closes, every method throws 'closed'.
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 *
 * const dev = openDevice('0000:00:03.0');
 * const cfg = dev.regions.find((r) => r.name === 'CONFIG');
 * if (cfg?.ok) console.log('vendor', cfg.read(0, 2).toString(16));
 * const bar0 = dev.region(0);
 * if (bar0.mmappable) {
 *   for (const { offset, mapping } of bar0.mapAll()) console.log(offset, mapping.hostAddress);
 * }
 * console.log(bar0.counters()); // accesses the table refused so far
 * dev.close();
 * ```
 */
export class DeviceRegion {
  /** The kernel's region index (for PCI, VFIO_PCI_BAR0_REGION_INDEX.. VFIO_PCI_VGA_REGION_INDEX). */
  readonly index: number;
  /** "BAR0".."VGA" for PCI, "reg0".. for platform/AMBA devices. */
  readonly name: string;
  /** False when the kernel's reply for this index failed to decode or the ioctl failed: the index
   *  is kept (later indexes do not shift) and `error` says why. */
  readonly ok: boolean;
  /** Why the index is unusable (built on first read when the kernel simply refused the query). */
  get error(): VfioError | undefined { if (typeof this.#error === 'function') this.#error = this.#error(); return this.#error; }
  #error: VfioError | (() => VfioError) | undefined;
  /** vfio_region_info.flags: VFIO_REGION_INFO_FLAG_READ, _WRITE, _MMAP, _CAPS (see readable, writable, mmappable). */
  readonly flags: number;
  /** The region's size in bytes (0 for an index the device does not implement). */
  readonly size: bigint;
  /** The region's offset in the device fd (for pread/pwrite/mmap). */
  readonly fileOffset: bigint;
  /** Sparse mmap areas (VFIO_REGION_INFO_CAP_SPARSE_MMAP), or null when the region has none. */
  readonly sparse: readonly { offset: bigint; size: bigint }[] | null;
  /** The region's VFIO_REGION_INFO_CAP_TYPE (type, subtype: a device-specific region), or null. */
  readonly capType: { type: number; subtype: number } | null;
  /** VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: the MSI-X table inside this BAR may be mmapped too (the split then maps over it). */
  readonly msixMappable: boolean;
  #owner: RegionOwner;
  #buf = new Uint8Array(8);

  /** @internal built by VfioDevice */
  static of(owner: RegionOwner, init: RegionInit): DeviceRegion { return new DeviceRegion(owner, init); }
  private constructor(owner: RegionOwner, init: RegionInit) {
    this.#owner = owner;
    this.index = init.index; this.name = init.name; this.ok = init.ok; this.#error = init.error;
    this.flags = init.flags ?? 0; this.size = init.size ?? 0n; this.fileOffset = init.fileOffset ?? 0n;
    this.sparse = init.sparse ?? null; this.capType = init.capType ?? null; this.msixMappable = init.msixMappable ?? false;
  }

  /** VFIO_REGION_INFO_FLAG_READ: the kernel allows reads (the trap path refuses them otherwise). */
  get readable(): boolean { return (this.flags & VFIO_REGION_INFO_FLAG_READ) !== 0; }
  /** VFIO_REGION_INFO_FLAG_WRITE: the kernel allows writes. */
  get writable(): boolean { return (this.flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0; }
  /** VFIO_REGION_INFO_FLAG_MMAP: some of the region may be mmapped (see split() for which ranges). */
  get mmappable(): boolean { return (this.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0; }

  #live(): number {
    const fd = this.#owner.liveFd();
    if (!this.ok) throw new VfioError({ kind: 'not-found', device: this.#owner.name, message: `region ${this.index} could not be read from the kernel: ${this.error?.message ?? 'unknown'}`, hint: 'this region is unusable; the others are fine' });
    return fd;
  }

  /** The core's split of this region into ranges to map and ranges to trap, for the page size.
   * Offsets are relative to the region, in bytes; 'map' ranges are page-aligned.
   * @throws VfioError 'closed', 'not-found' (an index the kernel would not describe).
   */
  split(): SplitRange[] {
    this.#live();
    try { return this.#owner.regionTable.split(this.index, BigInt(this.#owner.pageSize)); } catch (e) { rethrowWithContext(e, this.#owner.name); }
  }

  /**
   * Reads `width` bytes at `offset` through the device fd (pread). An access the region table
   * refuses (outside the region, misaligned, or a region without READ) returns all-ones of the
   * width and is counted (see counters()): what a guest reads from nothing. Throws 'closed' after
   * the device closed, and the syscall error (with the device and region) if pread fails.
   * @param offset - Byte offset in the region.
   * @param width - 1, 2, 4 or 8 bytes; the access must be naturally aligned.
   * @returns The value read (zero-extended), or all-ones of the width when refused.
   * @throws VfioError 'closed', 'not-found' (an unusable index), 'syscall' (a failed or short pread),
   *   and the other errno kinds of pread.
   */
  read(offset: number | bigint, width: Width): bigint {
    if (width === 8) {
      if (!this.#transfer(offset, 8, 'read')) return this.#refused;
      return u64(this.#buf, 0);
    }
    return BigInt(this.#readNumber(offset, width));
  }

  /** read() of 4 bytes as a number.
   * Same rules and errors as read(); the hot path of a trapped 32-bit register.
   */
  read32(offset: number | bigint): number { return this.#readNumber(offset, 4); }

  /** The trap-path read of up to 4 bytes as a number (no bigint on the way: read32 is hot). */
  #readNumber(offset: number | bigint, width: 1 | 2 | 4): number {
    const fd = this.#owner.liveFd();
    if (typeof offset === 'number' && this.#allowed(offset, width, VFIO_REGION_INFO_FLAG_READ)) {
      this.#fastIo(fd, offset, width, 'read');
    } else if (!this.#transfer(offset, width, 'read')) return Number(this.#refused);
    return width === 1 ? this.#buf[0]! : width === 2 ? u16(this.#buf, 0) : u32(this.#buf, 0);
  }

  /**
   * Writes `width` bytes at `offset` through the device fd (pwrite). An access the region table
   * refuses is dropped and counted; returns false then, true when written.
   * @param offset - Byte offset in the region.
   * @param width - 1, 2, 4 or 8 bytes, naturally aligned; only the low `width` bytes of `value` are written.
   * @throws VfioError 'closed', 'not-found' (an unusable index), 'syscall' (a failed or short
   *   pwrite), and the other errno kinds of pwrite.
   */
  write(offset: number | bigint, width: Width, value: number | bigint): boolean {
    if (typeof value === 'number' ? !Number.isInteger(value) : typeof value !== 'bigint') badArgument('value', value, 'an integer or a bigint');
    if (width === 8) {
      setU64(this.#buf, 0, BigInt(value));
      return this.#transfer(offset, 8, 'write');
    }
    // Numbers stay numbers: only the low `width` bytes are written (as the bigint path did).
    return this.#writeNumber(offset, width, typeof value === 'number' ? value : Number(BigInt.asUintN(32, value)));
  }

  /** write() of 4 bytes from a number; same rules and errors. Returns false when refused. */
  write32(offset: number | bigint, value: number): boolean {
    if (!Number.isInteger(value)) badArgument('value', value, 'an integer');
    return this.#writeNumber(offset, 4, value);
  }

  #writeNumber(offset: number | bigint, width: 1 | 2 | 4, v: number): boolean {
    const fd = this.#owner.liveFd();
    if (width === 1) this.#buf[0] = v & 0xff;
    else if (width === 2) setU16(this.#buf, 0, v);
    else setU32(this.#buf, 0, v);
    if (typeof offset === 'number' && this.#allowed(offset, width, VFIO_REGION_INFO_FLAG_WRITE)) {
      this.#fastIo(fd, offset, width, 'write');
      return true;
    }
    return this.#transfer(offset, width, 'write');
  }

  // The trap fast path. The core's region table is the rule (region_check: inside the region,
  // naturally aligned, READ or WRITE in the flags); an access it accepts changes no counter, so
  // the same answer for accepted accesses can be cached per region as plain numbers, taken from
  // the core's own entry, and checked here with a few compares: no Wasm call, no bigint, no
  // closure, no string. Anything the cache does not accept (refused, a bigint offset, a region
  // beyond 2^53, a table changed since) goes the checked way through the core, which counts it.
  /** RegionTable.generation the cache was filled at (-1: never). */
  #gen = -1;
  /** Region size, file offset and flags from the core's entry; size 0 when the cache cannot apply. */
  #fastSize = 0;
  #fastFile = 0;
  #fastFlags = 0;

  /** Whether the core would accept this access: the cached form of region_check's rule. */
  #allowed(offset: number, width: number, flag: number): boolean {
    if (this.#owner.regionTable.generation !== this.#gen) this.#refill();
    // offset % width also refuses fractions, NaN and the infinities; -0 and negatives fail >= 0.
    // A width other than 1, 2 or 4 (a caller outside TypeScript) is left to the core, which refuses it.
    return (width === 4 || width === 1 || width === 2) && (this.#fastFlags & flag) !== 0 && offset >= 0 && offset % width === 0 && offset <= this.#fastSize - width;
  }

  #refill(): void {
    const t = this.#owner.regionTable;
    this.#gen = t.generation;
    this.#fastSize = 0; this.#fastFile = 0; this.#fastFlags = 0;
    if (!this.ok || t.closed) return;
    const e = t.get(this.index);
    // Every file offset the fast path computes must be exact in a double.
    if (e?.state !== 'ok' || e.offset + e.size > BigInt(Number.MAX_SAFE_INTEGER)) return;
    this.#fastSize = Number(e.size); this.#fastFile = Number(e.offset); this.#fastFlags = e.flags;
  }

  /** pread/pwrite of an access #allowed() accepted, with the same errors as the checked way. */
  #fastIo(fd: number, offset: number, width: 1 | 2 | 4, dir: 'read' | 'write'): void {
    const sys = this.#owner.sys;
    let n: number;
    try {
      n = dir === 'read' ? sys.pread(fd, this.#buf, this.#fastFile + offset, width) : sys.pwrite(fd, this.#buf, this.#fastFile + offset, width);
    } catch (e) { withContext(e, this.#owner.name, { message: this.#where(offset, width, dir) }); }
    if (n !== width) throw this.#short(offset, width, dir, n);
  }

  /** The all-ones value of the last refused read. */
  #refused = 0n;

  /** Checks the access with the core's region table, then preads into or pwrites from the bounce
   *  buffer. false: the table refused the access (counted; #refused holds what a read returns). */
  #transfer(offset: number | bigint, width: Width, dir: 'read' | 'write'): boolean {
    const fd = this.#live();
    const chk = this.#check(offset, width, dir);
    if (!chk.ok) { this.#refused = chk.readValue; return false; }
    let n: number;
    try {
      n = dir === 'read' ? this.#owner.sys.pread(fd, this.#buf, chk.fileOffset, width) : this.#owner.sys.pwrite(fd, this.#buf, chk.fileOffset, width);
    } catch (e) { withContext(e, this.#owner.name, { message: this.#where(offset, width, dir) }); }
    if (n !== width) throw this.#short(offset, width, dir, n);
    return true;
  }

  #where(offset: number | bigint, width: number, dir: 'read' | 'write'): string {
    return `region ${this.index} (${this.name}) ${dir} of ${width} bytes at 0x${BigInt(offset).toString(16)}`;
  }

  #short(offset: number | bigint, width: number, dir: 'read' | 'write', n: number): VfioError {
    return new VfioError({ kind: 'syscall', device: this.#owner.name, syscall: dir === 'read' ? 'pread' : 'pwrite', message: `${this.#where(offset, width, dir)}: a short ${dir} (${n} of ${width} bytes)`, hint: 'the driver does not allow this access width here; check dmesg' });
  }

  /** The core's check of one access; an offset outside [0, 2^64) is out of range like any other. */
  #check(offset: number | bigint, width: Width, dir: 'read' | 'write'): AccessResult {
    // The checked way is where every access the fast path did not take arrives: the argument
    // checks live here, off the hot path (the fast path's compares already refuse NaN and fractions).
    if (typeof offset === 'number' ? !Number.isInteger(offset) : typeof offset !== 'bigint') badArgument('offset', offset, 'an integer or a bigint');
    if (width !== 1 && width !== 2 && width !== 4 && width !== 8) badArgument('width', width, 'one of 1, 2, 4, 8');
    const off = BigInt(offset);
    if (off < 0n || off > 0xffff_ffff_ffff_ffffn) return this.#check(0xffff_ffff_ffff_ffffn, width, dir);
    return ctx(this.#owner.name, () => this.#owner.regionTable.check(this.index, off, width, dir));
  }

  /** Refused accesses counted by the core since the device opened.
   * @throws VfioError 'closed', 'not-found' (an unusable index).
   */
  counters(): RegionCounters {
    this.#live();
    return ctx(this.#owner.name, () => this.#owner.regionTable.counters(this.index));
  }

  /**
   * Maps every range the split marks 'map' (zero-copy; the device unmaps them when it closes).
   * Throws 'not-supported' for a region without VFIO_REGION_INFO_FLAG_MMAP or with nothing
   * mappable at this page size.
   * Syscall: mmap of the device fd (MAP_SHARED) per range; on failure nothing stays mapped.
   * @throws VfioError 'closed', 'not-found' (an unusable index), 'not-supported', 'bad-argument' (a
   *   range over 1 GiB), and the errno kinds of mmap ('permission', 'syscall', ...).
   */
  mapAll(): RegionMap[] {
    const fd = this.#live();
    if (!this.mmappable) throw this.#notMappable('the kernel does not allow mmap of it (no VFIO_REGION_INFO_FLAG_MMAP)');
    const ranges = this.split().filter((e) => e.kind === 'map');
    if (ranges.length === 0) throw this.#notMappable(`no page-aligned range of it can be mapped with ${this.#owner.pageSize}-byte pages`);
    const out: RegionMap[] = [];
    try {
      for (const r of ranges) {
        const label = `${this.#owner.name} region ${this.index} (${this.name}) +0x${r.offset.toString(16)}`;
        let mapping: Mapping;
        try { mapping = new Mapping(this.#owner.sys, fd, this.fileOffset + r.offset, Number(r.size), label); } catch (e) { rethrowWithContext(e, this.#owner.name, { message: () => `cannot map region ${this.index} (${this.name})` }); }
        this.#owner.adopt(mapping);
        out.push({ offset: r.offset, size: r.size, mapping });
      }
    } catch (e) {
      for (const m of out) m.mapping.close();
      throw e;
    }
    return out;
  }

  /**
   * Maps the region when its mappable part is one range (the common case: a whole BAR, a platform
   * register page). Offsets in the Mapping are relative to that range; the Mapping's `fileOffset`
   * less the region's says where it starts in the region (0 unless sparse). Several ranges: use mapAll().
   * @throws VfioError as mapAll(), and 'not-supported' when the region maps as several ranges.
   */
  map(): Mapping {
    const all = this.mapAll();
    if (all.length !== 1) {
      for (const m of all) m.mapping.close();
      throw new VfioError({ kind: 'not-supported', device: this.#owner.name, message: `region ${this.index} (${this.name}) maps as ${all.length} separate ranges`, hint: 'use region.mapAll() and the offset of each range' });
    }
    return all[0]!.mapping;
  }

  #notMappable(why: string): VfioError {
    return new VfioError({ kind: 'not-supported', device: this.#owner.name, message: `region ${this.index} (${this.name}) cannot be mapped: ${why}`, hint: 'use region.read()/write() (the trap path) instead' });
  }
}
