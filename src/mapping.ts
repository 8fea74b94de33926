// A zero-copy mapping of a device region (or part of one): register accessors that use Atomics
// on naturally aligned typed arrays (never a data-view object: it tears 32-bit accesses, see
// docs/NODE.md), the host address for a KVM memslot, and a lifetime that makes a
// touch after munmap impossible: the views are dropped before munmap and every accessor checks
// the state first.
// Not responsible for: deciding what may be mapped (the core's region table does).
import { VfioError } from './errors.js';
import type { MappingSys } from '../shim/sys.js';
export type { MappingSys } from '../shim/sys.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../shim/libc.js';
import { badArgument, checkBigInt, checkBigU64, checkFd, checkFn, checkInt, checkObject, checkString } from '../shim/args.js';

/** Largest single mapping we hand out as JS views: typed arrays index by number; 1 GiB is far
 *  above any MMIO BAR we pass through and keeps offsets exact in a double. */
export const MAX_VIEW_BYTES = 1 << 30;

/** An access width in bytes: 1, 2, 4 or 8 (naturally aligned accesses only). */
export type Width = 1 | 2 | 4 | 8;

/**
 * A zero-copy mapping of a device region, or part of one ({@link DeviceRegion.map}/mapAll):
 * register accessors (Atomics on naturally aligned typed arrays, so a 32-bit access is one
 * 32-bit load or store, never torn), the host address for a KVM memory slot, and a lifetime: the
 * views are dropped before munmap and every accessor checks the state, so no access can reach the
 * pages after close(). The device owns its regions' mappings and closes them first on its close().
 * Accessors throw VfioError 'bad-argument' for an offset outside the mapping or misaligned, and
 * 'closed' after close().
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 *
 * const dev = openDevice('0000:00:03.0');
 * const bar0 = dev.region(0).map();
 * console.log(bar0.read32(0x00).toString(16)); // a 32-bit MMIO load
 * bar0.write32(0x04, 0xffff_ffff);
 * // KVM_SET_USER_MEMORY_REGION with userspace_addr = bar0.hostAddress gives the guest the BAR
 * dev.close(); // unmaps bar0; bar0.read32() now throws 'closed'
 * ```
 */
export class Mapping {
  /** The mapping's address in this process (page-aligned): a KVM memory slot's userspace_addr. */
  readonly hostAddress: bigint;
  /** Bytes mapped (at most 1 GiB). */
  readonly size: number;
  /** The offset in the device fd the mapping starts at (the region's fileOffset plus the range's offset). */
  readonly fileOffset: bigint;
  /** What the mapping is, for messages ('0000:00:03.0 region 0 (BAR0) +0x0'). */
  readonly label: string;
  #sys: MappingSys;
  /** The koffi view of the pages; null once closed. The typed arrays over it are made on first
   *  use of their width (opening a device maps every region, and most are never read). */
  #buf: ArrayBuffer | null;
  #u8: Uint8Array | null = null;
  #u16: Uint16Array | null = null;
  #u32: Uint32Array | null = null;
  #u64: BigUint64Array | null = null;
  /** Still mapped: a munmap that failed leaves it true, and the next close() tries again. */
  #mapped = true;

  /** Maps `size` bytes of `fd` at `fileOffset` shared read/write. Throws VfioError; maps nothing on failure.
   * Callers get mappings from {@link DeviceRegion.map}; `sys` is the syscall layer.
   * @throws VfioError 'bad-argument' (a wrong argument; size not in 1 byte..1 GiB), and the errno kinds of mmap.
   */
  constructor(sys: MappingSys, fd: number, fileOffset: bigint, size: number, label: string, prot = PROT_READ | PROT_WRITE) {
    checkObject('sys', sys);
    checkFn('sys.mmap', sys.mmap); checkFn('sys.munmap', sys.munmap); checkFn('sys.view', sys.view);
    checkFd('fd', fd); checkBigU64('fileOffset', fileOffset); checkString('label', label); checkInt('prot', prot, 0, 0x7fff_ffff);
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_VIEW_BYTES) {
      throw new VfioError({ kind: 'bad-argument', device: label, message: `size ${typeof size === 'number' ? size : `(a ${typeof size})`} is not a byte count the mapping can have`, hint: `map between 1 byte and ${MAX_VIEW_BYTES} bytes` });
    }
    this.#sys = sys;
    this.label = label;
    this.size = size;
    this.fileOffset = fileOffset;
    this.hostAddress = sys.mmap(BigInt(size), prot, MAP_SHARED, fd, fileOffset);
    try {
      this.#buf = sys.view(this.hostAddress, size);
    } catch (e) {
      sys.munmap(this.hostAddress, BigInt(size));
      throw e;
    }
  }

  /** True once close() has run (the views are gone; unmapped may still be false if munmap failed). */
  get closed(): boolean { return this.#buf === null; }
  /** Gone from the address space (closed and munmap succeeded). */
  get unmapped(): boolean { return !this.#mapped; }

  // Each accessor's check is one expression on numbers: `offset >>> 0 === offset` refuses a
  // negative, fractional, NaN or huge offset at once (a mapping is at most 1 GiB), then the end and
  // the natural alignment. The error is built only when the check fails (#fail).
  #ok(offset: number, width: number): boolean {
    return this.#buf !== null && typeof offset === 'number' && offset >>> 0 === offset && offset <= this.size - width && (offset & (width - 1)) === 0;
  }
  #fail(offset: number, width: Width): never {
    if (!this.#buf) throw new VfioError({ kind: 'closed', device: this.label, message: 'the mapping was unmapped', hint: 'map the region again' });
    throw new VfioError({ kind: 'bad-argument', device: this.label, message: `access of ${width} bytes at offset ${offset} is outside the ${this.size}-byte mapping or misaligned`, hint: 'use a naturally aligned offset inside the mapping' });
  }
  /** Loads 1 byte at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  read8(offset: number): number { if (!this.#ok(offset, 1)) this.#fail(offset, 1); return Atomics.load((this.#u8 ??= new Uint8Array(this.#buf!)), offset); }
  /** Loads 2 bytes at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  read16(offset: number): number { if (!this.#ok(offset, 2)) this.#fail(offset, 2); return Atomics.load((this.#u16 ??= new Uint16Array(this.#buf!, 0, this.size >>> 1)), offset >>> 1); }
  /** Loads 4 bytes at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  read32(offset: number): number { if (!this.#ok(offset, 4)) this.#fail(offset, 4); return Atomics.load((this.#u32 ??= new Uint32Array(this.#buf!, 0, this.size >>> 2)), offset >>> 2); }
  /** Loads 8 bytes at byte `offset` (8-aligned) as a bigint. Throws 'bad-argument' or 'closed'. */
  read64(offset: number): bigint { if (!this.#ok(offset, 8)) this.#fail(offset, 8); return Atomics.load((this.#u64 ??= new BigUint64Array(this.#buf!, 0, this.size >>> 3)), offset >>> 3); }
  /** Stores the low 8 bits of `value` at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  write8(offset: number, value: number): void { if (!Number.isInteger(value)) badArgument('value', value, 'an integer'); if (!this.#ok(offset, 1)) this.#fail(offset, 1); Atomics.store((this.#u8 ??= new Uint8Array(this.#buf!)), offset, value); }
  /** Stores the low 16 bits of `value` at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  write16(offset: number, value: number): void { if (!Number.isInteger(value)) badArgument('value', value, 'an integer'); if (!this.#ok(offset, 2)) this.#fail(offset, 2); Atomics.store((this.#u16 ??= new Uint16Array(this.#buf!, 0, this.size >>> 1)), offset >>> 1, value); }
  /** Stores the low 32 bits of `value` at byte `offset` (naturally aligned). Throws 'bad-argument' or 'closed'. */
  write32(offset: number, value: number): void { if (!Number.isInteger(value)) badArgument('value', value, 'an integer'); if (!this.#ok(offset, 4)) this.#fail(offset, 4); Atomics.store((this.#u32 ??= new Uint32Array(this.#buf!, 0, this.size >>> 2)), offset >>> 2, value >>> 0); }
  /** Stores `value` (taken modulo 2^64) at byte `offset` (8-aligned). Throws 'bad-argument' or 'closed'. */
  write64(offset: number, value: bigint): void { if (typeof value !== 'bigint') badArgument('value', value, 'a bigint'); if (!this.#ok(offset, 8)) this.#fail(offset, 8); Atomics.store((this.#u64 ??= new BigUint64Array(this.#buf!, 0, this.size >>> 3)), offset >>> 3, BigInt.asUintN(64, value)); }

  /** Reads `width` bytes as a bigint (for generic trap/forward paths). */
  read(offset: number, width: Width): bigint {
    switch (width) { case 1: return BigInt(this.read8(offset)); case 2: return BigInt(this.read16(offset)); case 4: return BigInt(this.read32(offset)); case 8: return this.read64(offset); default: return badArgument('width', width, 'one of 1, 2, 4, 8'); }
  }
  /** Stores the low `width` bytes of `value` (for generic trap/forward paths). Throws 'bad-argument' or 'closed'. */
  write(offset: number, width: Width, value: bigint): void {
    checkBigInt('value', value);
    switch (width) { case 1: return this.write8(offset, Number(value & 0xffn)); case 2: return this.write16(offset, Number(value & 0xffffn)); case 4: return this.write32(offset, Number(value & 0xffffffffn)); case 8: return this.write64(offset, value); default: return badArgument('width', width, 'one of 1, 2, 4, 8'); }
  }

  /** Unmaps. The views are dropped first so nothing can reach the pages; closing twice is harmless. */
  /** Drops the views (no access is possible from here on), then unmaps. If munmap fails the error
   *  is thrown and the mapping stays recorded, so a second close() tries again; closing a closed
   *  mapping is harmless. */
  close(): void {
    this.#buf = null; this.#u8 = null; this.#u16 = null; this.#u32 = null; this.#u64 = null;
    if (!this.#mapped) return;
    this.#sys.munmap(this.hostAddress, BigInt(this.size));
    this.#mapped = false;
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}
