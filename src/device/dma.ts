// Memory a device may DMA to and from: page-aligned mappings whose host address is known (a JS
// ArrayBuffer's address is neither known nor page-aligned): anonymous memory, a memfd (shareable
// through its fd), or a memfd of huge pages (physically contiguous per huge page: type1 pins and
// maps memory run by contiguous run, so fewer runs are cheaper, docs/BENCH.md "DMA, fourth
// round"); plus the checked 64-bit arithmetic of DMA requests.
// Not responsible for: the IOMMU mapping itself (iommu.ts), which device owns it (device.ts),
// reserving huge pages (the administrator's vm.nr_hugepages).
import { readFileSync } from 'node:fs';
import { VfioError } from '../errors.js';
import type { Sys } from '../../shim/sys.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, MFD_CLOEXEC, MFD_HUGETLB, PROT_READ, PROT_WRITE } from '../../shim/libc.js';
import { MAX_VIEW_BYTES } from '../mapping.js';
import { systemPageSize } from './context.js';
import { LITTLE_ENDIAN_HOST } from '../../shim/bytes.js';
import { TWO_53 } from '../vfio/encode.js';

export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** Buffers made by allocDma, by their ArrayBuffer, so mapDma({ buffer }) finds the address. */
const known = new WeakMap<ArrayBuffer, DmaBuffer>();

/** What backs a DmaBuffer: 'anonymous' (private anonymous memory, the default), 'memfd' (a memfd
 *  mapped shared: its fd can be handed to another process or a vhost-user backend) or 'hugetlb' (a
 *  memfd of huge pages: one IOMMU run per huge page; needs vm.nr_hugepages reserved). */
export type DmaBacking = 'anonymous' | 'memfd' | 'hugetlb';
export const DMA_BACKINGS: readonly DmaBacking[] = ['anonymous', 'memfd', 'hugetlb'];

/** The huge page size a 'hugetlb' buffer is rounded to: Hugepagesize in /proc/meminfo (2 MiB on
 *  x86-64 and on arm64 with 4 KiB pages when it cannot be read). */
const DEFAULT_HUGE_PAGE = 2 << 20;
let hugePage: number | undefined;
/** The huge page size in bytes that a 'hugetlb' {@link DmaBuffer} is rounded to: Hugepagesize in /proc/meminfo, read once (2 MiB when it cannot be read). */
export function hugePageSize(): number {
  if (hugePage !== undefined) return hugePage;
  hugePage = DEFAULT_HUGE_PAGE;
  try {
    const m = /^Hugepagesize:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) hugePage = Number(m[1]) * 1024;
  } catch { /* no /proc: the default */ }
  return hugePage;
}

/**
 * Page-aligned memory for DMA with a known host address, from {@link allocDma}: anonymous
 * memory, or a memfd (its `fd` can be shared), or a memfd of huge pages. The buffer owns the
 * mapping and the memfd; close() (or `using`) frees both. Map it for a device with
 * {@link VfioDevice.mapDma} (`buffer: buf.bytes`, or a subarray of it at a page-aligned offset);
 * it refuses to be freed while a mapping uses it.
 *
 * @example
 * ```ts
 * import { allocDma } from 'vfiokit';
 *
 * const buf = allocDma(2 << 20, { backing: 'memfd', name: 'vm-ram' });
 * console.log(buf.size, buf.hostAddress.toString(16), buf.fd); // fd: share it with a backend
 * buf.bytes.set([1, 2, 3], 0);
 * buf.close();
 * ```
 */
export class DmaBuffer {
  /** The buffer's address in this process (page-aligned): what the IOMMU maps. */
  readonly hostAddress: bigint;
  /** Bytes mapped: the size asked for rounded up to the page (or, for 'hugetlb', the huge page). */
  readonly size: number;
  /** What backs the memory ('anonymous', 'memfd' or 'hugetlb'). */
  readonly backing: DmaBacking;
  #sys: Sys;
  #bytes: Uint8Array | null;
  /** The memfd of a 'memfd' or 'hugetlb' buffer (-1 for 'anonymous', and once closed). */
  #fd = -1;
  /** Still mapped in our address space: a failed munmap leaves it true for the next close(). */
  #mapped = true;
  /** How many DMA mappings use it: it is not unmapped from the process while any does. @internal */
  dmaRefs = 0;

  /** @internal use allocDma() */
  static alloc(sys: Sys, size: number, backing?: DmaBacking, name?: string): DmaBuffer { return new DmaBuffer(sys, size, backing, name); }
  private constructor(sys: Sys, size: number, backing: DmaBacking = 'anonymous', name = 'vfiokit-dma') {
    if (!DMA_BACKINGS.includes(backing)) throw new VfioError({ kind: 'bad-argument', message: `unknown DMA backing ${JSON.stringify(backing)}`, hint: `use one of ${DMA_BACKINGS.join(', ')}` });
    const page = backing === 'hugetlb' ? hugePageSize() : systemPageSize();
    const rounded = Math.ceil(size / page) * page;
    if (!Number.isSafeInteger(size) || size <= 0 || rounded > MAX_VIEW_BYTES) throw new VfioError({ kind: 'bad-argument', message: `cannot allocate ${size} bytes of DMA memory`, hint: `allocate between 1 and ${MAX_VIEW_BYTES} bytes` });
    this.size = rounded;
    this.backing = backing;
    this.#sys = sys;
    const len = BigInt(this.size);
    if (backing !== 'anonymous') {
      this.#fd = sys.memfdCreate(name, MFD_CLOEXEC | (backing === 'hugetlb' ? MFD_HUGETLB : 0));
      try { sys.ftruncate(this.#fd, len); } catch (e) { this.#closeFd(); throw hugeHint(e, backing, this.size); }
    }
    try {
      this.hostAddress = backing === 'anonymous'
        ? sys.mmap(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n)
        : sys.mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, this.#fd, 0n);
    } catch (e) { this.#closeFd(); throw hugeHint(e, backing, this.size); }
    try {
      this.#bytes = new Uint8Array(sys.view(this.hostAddress, this.size));
    } catch (e) {
      sys.munmap(this.hostAddress, len);
      this.#closeFd();
      throw e;
    }
    known.set(this.#bytes.buffer as ArrayBuffer, this);
  }

  /** The memfd of a 'memfd' or 'hugetlb' buffer, owned by the buffer (close() closes it): share
   *  it, don't close it. undefined for 'anonymous', and after close(). */
  get fd(): number | undefined { return this.#fd >= 0 ? this.#fd : undefined; }

  #closeFd(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#sys.close(fd);
  }

  /** The memory as bytes (zero-copy). Throws 'closed' after close(). */
  get bytes(): Uint8Array {
    if (!this.#bytes) throw new VfioError({ kind: 'closed', message: 'the DMA buffer was freed', hint: 'allocate a new one with allocDma()' });
    return this.#bytes;
  }

  /** True once close() has freed the memory. */
  get closed(): boolean { return this.#bytes === null; }

  /** Frees the memory. Refused ('bad-state') while a DMA mapping still uses it: the device could
   *  still write there. Closing twice is harmless.
   * Syscalls: munmap, and close of the memfd.
   * @throws VfioError 'bad-state' (still mapped for DMA), and the errno kinds of munmap.
   */
  close(): void {
    if (this.#bytes && this.dmaRefs > 0) throw new VfioError({ kind: 'bad-state', message: `the DMA buffer at 0x${this.hostAddress.toString(16)} is still mapped for DMA ${this.dmaRefs} time(s)`, hint: 'unmapDma() it first (or close the device)' });
    this.#bytes = null;
    if (this.#mapped) {
      this.#sys.munmap(this.hostAddress, BigInt(this.size));
      this.#mapped = false;
    }
    this.#closeFd();
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}

/** A huge-page buffer the kernel refused (no huge pages reserved: mmap's ENOMEM, or a size the
 *  hugetlbfs does not take: EINVAL) gets a hint that says what to do; other errors pass as they are. */
function hugeHint(e: unknown, backing: DmaBacking, size: number): unknown {
  if (backing !== 'hugetlb' || !(e instanceof VfioError) || (e.errnoName !== 'ENOMEM' && e.errnoName !== 'EINVAL')) return e;
  const pages = Math.ceil(size / hugePageSize());
  return new VfioError({
    kind: e.kind, errno: e.errno, errnoName: e.errnoName, syscall: e.syscall, cause: e,
    message: `cannot allocate ${size} bytes of huge-page DMA memory (${pages} page(s) of ${hugePageSize() >> 10} KiB)`,
    hint: `reserve huge pages first (as root: echo ${pages} > /proc/sys/vm/nr_hugepages, or more), or use backing 'memfd'`,
  });
}

/** The DmaBuffer that `buf` views (at its byteOffset), or undefined. */
export function dmaBufferOf(buf: ArrayBuffer | Uint8Array): { dma: DmaBuffer; offset: number } | undefined {
  const ab = buf instanceof Uint8Array ? buf.buffer : buf;
  const dma = known.get(ab as ArrayBuffer);
  return dma ? { dma, offset: buf instanceof Uint8Array ? buf.byteOffset : 0 } : undefined;
}

let pageBig: bigint | undefined;

// The low 32 bits of a bigint through one 8-byte scratch word: an alignment test that makes no
// bigint (`x % page` makes one per call, and each is a heap object for the collector).
const scratch64 = new BigUint64Array(1), scratch32 = new Uint32Array(scratch64.buffer);
const LOW_WORD = LITTLE_ENDIAN_HOST ? 0 : 1;

/** The page size less one, for the alignment tests (the system's page size is a power of two). */
let pageMask = -1;

/**
 * True for the usual DMA range, checked by comparisons alone (no bigint is made): iova and size
 * bigints below 2^53, size > 0, both multiples of the page size (a power of two, at most 2^31).
 * Such a range passes checkDmaRange and cannot overflow. False means "not shown by this test":
 * call checkDmaRange, which throws the precise error, or accepts a valid range at or above 2^53.
 * With `host`, the same of [host, host + size) (mapDma checks both ranges in one call).
 */
export function isPlainDmaRange(iova: bigint, size: bigint, host?: bigint): boolean {
  if (typeof iova !== 'bigint' || typeof size !== 'bigint' || !(iova >= 0n && size > 0n && iova < TWO_53 && size < TWO_53)) return false;
  if (pageMask < 0) pageMask = systemPageSize() - 1;
  scratch64[0] = iova;
  if ((scratch32[LOW_WORD]! & pageMask) !== 0) return false;
  scratch64[0] = size;
  if ((scratch32[LOW_WORD]! & pageMask) !== 0) return false;
  if (host === undefined) return true;
  if (typeof host !== 'bigint' || !(host >= 0n && host < TWO_53)) return false;
  scratch64[0] = host;
  return (scratch32[LOW_WORD]! & pageMask) === 0;
}

/** Checks a DMA range: size > 0, both ends inside 2^64 (inclusive end, no overflow), and aligned
 *  to the page size. Returns the inclusive last IOVA. `start` names the start in messages (the
 *  IOVA, or mapDma's hostAddress). */
export function checkDmaRange(iova: bigint, size: bigint, device: string, what: string, start = 'IOVA'): bigint {
  const page = pageBig ??= BigInt(systemPageSize());
  if (typeof iova !== 'bigint' || typeof size !== 'bigint') throw new VfioError({ kind: 'bad-argument', device, message: `${what}: ${typeof iova !== 'bigint' ? start : 'size'} must be a bigint`, hint: 'write 0x100000n, not 0x100000' });
  if (iova < 0n || iova > U64_MAX) throw new VfioError({ kind: 'bad-argument', device, message: `${what}: ${start} ${iova} is not an unsigned 64-bit value` });
  if (size <= 0n || size > U64_MAX) throw new VfioError({ kind: 'bad-argument', device, message: `${what}: size ${size} is not in 1..2^64-1` });
  // Both in range, so the sum is exact (a bigint): one addition gives the end and the overflow test.
  const last = iova + size - 1n;
  if (last > U64_MAX) throw new VfioError({ kind: 'bad-argument', device, message: `${what}: IOVA 0x${iova.toString(16)} + 0x${size.toString(16)} passes 2^64`, hint: 'pick a range that ends below 2^64' });
  if (iova % page !== 0n || size % page !== 0n) throw new VfioError({ kind: 'bad-argument', device, message: `${what}: IOVA 0x${iova.toString(16)} and size 0x${size.toString(16)} must be multiples of the ${page}-byte page` });
  return last;
}
