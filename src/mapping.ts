// A zero-copy mapping of a device region (or part of one): register accessors that use Atomics
// on naturally aligned typed arrays (never a data-view object: it tears 32-bit accesses, see
// ../shared/toolchain-notes.md), the host address for a KVM memslot, and a lifetime that makes a
// touch after munmap impossible: the views are dropped before munmap and every accessor checks
// the state first.
// Not responsible for: deciding what may be mapped (the core's region table does).
import { VfioError } from './errors';

/** What a Mapping needs from the shim: the mmap family only. */
export interface MappingSys {
  mmap(len: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  munmap(addr: bigint, len: bigint): void;
  view(addr: bigint, len: number): ArrayBuffer;
}

export const PROT_READ = 0x1, PROT_WRITE = 0x2, MAP_SHARED = 0x1;
/** Largest single mapping we hand out as JS views: typed arrays index by number; 1 GiB is far
 *  above any MMIO BAR we pass through and keeps offsets exact in a double. */
export const MAX_VIEW_BYTES = 1 << 30;

export type Width = 1 | 2 | 4 | 8;
type Views = { u8: Uint8Array; u16: Uint16Array; u32: Uint32Array; u64: BigUint64Array };

export class Mapping {
  readonly hostAddress: bigint;
  readonly size: number;
  readonly fileOffset: bigint;
  readonly label: string;
  #sys: MappingSys;
  #views: Views | null;
  /** Still mapped: a munmap that failed leaves it true, and the next close() tries again. */
  #mapped = true;

  /** Maps `size` bytes of `fd` at `fileOffset` shared read/write. Throws VfioError; maps nothing on failure. */
  constructor(sys: MappingSys, fd: number, fileOffset: bigint, size: number, label: string, prot = PROT_READ | PROT_WRITE) {
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_VIEW_BYTES) {
      throw new VfioError({ kind: 'bad-argument', device: label, message: `cannot map ${size} bytes`, hint: `map between 1 byte and ${MAX_VIEW_BYTES} bytes` });
    }
    this.#sys = sys;
    this.label = label;
    this.size = size;
    this.fileOffset = fileOffset;
    this.hostAddress = sys.mmap(BigInt(size), prot, MAP_SHARED, fd, fileOffset);
    try {
      const buf = sys.view(this.hostAddress, size);
      this.#views = { u8: new Uint8Array(buf), u16: new Uint16Array(buf, 0, size >>> 1), u32: new Uint32Array(buf, 0, size >>> 2), u64: new BigUint64Array(buf, 0, size >>> 3) };
    } catch (e) {
      sys.munmap(this.hostAddress, BigInt(size));
      throw e;
    }
  }

  get closed(): boolean { return this.#views === null; }
  /** Gone from the address space (closed and munmap succeeded). */
  get unmapped(): boolean { return !this.#mapped; }

  #check(offset: number, width: Width): Views {
    const v = this.#views;
    if (!v) throw new VfioError({ kind: 'closed', device: this.label, message: 'the mapping was unmapped', hint: 'map the region again' });
    if (!Number.isInteger(offset) || offset < 0 || offset > this.size - width || offset % width !== 0) {
      throw new VfioError({ kind: 'bad-argument', device: this.label, message: `access of ${width} bytes at offset ${offset} is outside the ${this.size}-byte mapping or misaligned`, hint: 'use a naturally aligned offset inside the mapping' });
    }
    return v;
  }
  read8(offset: number): number { return Atomics.load(this.#check(offset, 1).u8, offset); }
  read16(offset: number): number { return Atomics.load(this.#check(offset, 2).u16, offset >>> 1); }
  read32(offset: number): number { return Atomics.load(this.#check(offset, 4).u32, offset >>> 2); }
  read64(offset: number): bigint { return Atomics.load(this.#check(offset, 8).u64, offset >>> 3); }
  write8(offset: number, value: number): void { Atomics.store(this.#check(offset, 1).u8, offset, value); }
  write16(offset: number, value: number): void { Atomics.store(this.#check(offset, 2).u16, offset >>> 1, value); }
  write32(offset: number, value: number): void { Atomics.store(this.#check(offset, 4).u32, offset >>> 2, value >>> 0); }
  write64(offset: number, value: bigint): void { Atomics.store(this.#check(offset, 8).u64, offset >>> 3, BigInt.asUintN(64, value)); }

  /** Reads `width` bytes as a bigint (for generic trap/forward paths). */
  read(offset: number, width: Width): bigint {
    switch (width) { case 1: return BigInt(this.read8(offset)); case 2: return BigInt(this.read16(offset)); case 4: return BigInt(this.read32(offset)); default: return this.read64(offset); }
  }
  write(offset: number, width: Width, value: bigint): void {
    switch (width) { case 1: return this.write8(offset, Number(value & 0xffn)); case 2: return this.write16(offset, Number(value & 0xffffn)); case 4: return this.write32(offset, Number(value & 0xffffffffn)); default: return this.write64(offset, value); }
  }

  /** Unmaps. The views are dropped first so nothing can reach the pages; closing twice is harmless. */
  /** Drops the views (no access is possible from here on), then unmaps. If munmap fails the error
   *  is thrown and the mapping stays recorded, so a second close() tries again; closing a closed
   *  mapping is harmless. */
  close(): void {
    this.#views = null;
    if (!this.#mapped) return;
    this.#sys.munmap(this.hostAddress, BigInt(this.size));
    this.#mapped = false;
  }
  [Symbol.dispose](): void { this.close(); }
}
