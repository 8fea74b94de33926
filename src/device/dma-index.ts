// The DMA mappings one device made, in IOVA order, for mapDma/unmapDma/close (device.ts).
//
// Kept as columns of typed arrays (IOVA, size, host address as u64; flags as bytes) rather than
// one object per mapping: a VMM that maps its RAM in 4 KiB pieces has 65,536 of them per 256 MiB,
// and objects that live that long are copied by every young-generation collection until they are
// promoted, then marked by the old-generation ones; under emulation that collector work was a
// good part of mapDma's cost (docs/BENCH.md, "DMA, fourth round"). A value read back is a new
// bigint that dies young.
//
// Unmapping marks a row dead where it is, so that unmapping never shifts the columns; the dead
// rows are dropped once they outnumber the live ones (amortized O(1) per unmap). A row is found by
// a binary search, or by none when it is the row after the last one found (unmapping piece by
// piece in the order mapped). Mappings never overlap (the kernel refuses it), so IOVA order is an
// order of whole ranges.
// Not responsible for: the ioctls (iommu.ts), the range checks (dma.ts), the buffers' refcounts
// beyond telling the caller which buffer a row used.
import type { DmaBuffer } from './dma.js';

const LIVE = 1, READ = 2, WRITE = 4;
/** Rows first allocated (on the first mapping); the columns double when full. */
const INITIAL_ROWS = 64;
/** The columns of an index that has never held a mapping, shared (zero-length: never written):
 *  every device has an index, and most never map DMA (a no-IOMMU device cannot), so the columns
 *  (four typed arrays, three of them allocated outside V8's heap) wait for the first add(). */
const NO_U64 = new BigUint64Array(0), NO_U8 = new Uint8Array(0);

export interface DmaRow { iova: bigint; size: bigint; hostAddress: bigint; read: boolean; write: boolean }

export class DmaIndex {
  #iova = NO_U64;
  #size = NO_U64;
  #host = NO_U64;
  #flags = NO_U8;
  /** The allocDma buffer of each row, or undefined (a plain array: most rows have none). */
  #buffers: (DmaBuffer | undefined)[] = [];
  #rows = 0;
  #live = 0;
  /** Where indexOf looks first: the row after the last one found. */
  #next = 0;

  /** Live mappings. */
  get live(): number { return this.#live; }
  /** Rows, live and dead (indexes run from 0 to rows - 1). */
  get rows(): number { return this.#rows; }

  iovaAt(i: number): bigint { return this.#iova[i]!; }
  sizeAt(i: number): bigint { return this.#size[i]!; }
  isLive(i: number): boolean { return (this.#flags[i]! & LIVE) !== 0; }

  /** Records a mapping the kernel made: appended when it lies above every row (mapping in
   *  ascending order), else inserted where it belongs. A row at the same IOVA can only be a dead
   *  one (the kernel refuses an overlap) and is reused; a live one there (a kernel that allowed
   *  the overlap) is replaced, and its buffer returned so that the caller can release it. */
  add(iova: bigint, size: bigint, hostAddress: bigint, read: boolean, write: boolean, buffer: DmaBuffer | undefined): DmaBuffer | undefined {
    if (this.#live === 0 && this.#rows > 0) this.clear();     // all dead: start afresh
    const flags = LIVE | (read ? READ : 0) | (write ? WRITE : 0);
    const n = this.#rows;
    if (n === 0 || this.#iova[n - 1]! < iova) {
      // Above every row (mapping in ascending order): appended, written here (the first calls run
      // in V8's interpreter, where each call costs).
      if (n === this.#iova.length) this.#grow();
      this.#iova[n] = iova; this.#size[n] = size; this.#host[n] = hostAddress; this.#flags[n] = flags;
      this.#buffers.push(buffer);
      this.#rows = n + 1;
      this.#live++;
      return undefined;
    }
    const i = this.lowerBound(iova);
    let replaced: DmaBuffer | undefined;
    if (i < n && this.#iova[i] === iova) {
      if (this.#flags[i]! & LIVE) { replaced = this.#buffers[i]; this.#live--; }
    } else {
      this.#open(i);
      this.#rows++;
    }
    this.#set(i, iova, size, hostAddress, flags, buffer);
    this.#live++;
    return replaced;
  }

  /** Marks row i unmapped; returns its buffer (the caller drops its reference). */
  drop(i: number): DmaBuffer | undefined {
    this.#flags[i] = this.#flags[i]! & ~LIVE;
    this.#live--;
    const b = this.#buffers[i];
    if (b) this.#buffers[i] = undefined;
    return b;
  }

  /** The row at exactly `iova` (live or dead), or -1; the next lookup tries the row after it first. */
  indexOf(iova: bigint): number {
    let i = this.#next;
    if (!(i < this.#rows && this.#iova[i] === iova)) {
      i = this.lowerBound(iova);
      if (!(i < this.#rows && this.#iova[i] === iova)) return -1;
    }
    this.#next = i + 1;
    return i;
  }

  /** The live row that is exactly [iova, iova + size), or -1 (indexOf, then its size). */
  indexOfMapping(iova: bigint, size: bigint): number {
    const i = this.indexOf(iova);
    return i >= 0 && (this.#flags[i]! & LIVE) !== 0 && this.#size[i] === size ? i : -1;
  }

  /** The first row whose IOVA is >= x (rows when none). */
  lowerBound(x: bigint): number {
    const col = this.#iova;
    let lo = 0, hi = this.#rows;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (col[mid]! < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  /** Drops the dead rows once they outnumber the live ones (indexes change: call it between walks). */
  compact(): void {
    if (this.#rows <= INITIAL_ROWS || this.#rows <= 2 * this.#live) return;
    let to = 0;
    for (let from = 0; from < this.#rows; from++) {
      if (!(this.#flags[from]! & LIVE)) continue;
      if (to !== from) this.#set(to, this.#iova[from]!, this.#size[from]!, this.#host[from]!, this.#flags[from]!, this.#buffers[from]);
      to++;
    }
    this.#buffers.length = to;
    this.#rows = to;
    this.#next = 0;
  }

  /** The live mappings in IOVA order, each with its buffer. */
  entries(): (DmaRow & { buffer: DmaBuffer | undefined })[] {
    const out: (DmaRow & { buffer: DmaBuffer | undefined })[] = [];
    for (let i = 0; i < this.#rows; i++) {
      const f = this.#flags[i]!;
      if (f & LIVE) out.push({ iova: this.#iova[i]!, size: this.#size[i]!, hostAddress: this.#host[i]!, read: (f & READ) !== 0, write: (f & WRITE) !== 0, buffer: this.#buffers[i] });
    }
    return out;
  }

  /** Forgets every row. */
  clear(): void { this.#rows = this.#live = this.#next = 0; this.#buffers = []; }

  #set(i: number, iova: bigint, size: bigint, host: bigint, flags: number, buffer: DmaBuffer | undefined): void {
    this.#iova[i] = iova; this.#size[i] = size; this.#host[i] = host; this.#flags[i] = flags; this.#buffers[i] = buffer;
  }

  /** Makes room for a row at i (rows i.. move up by one). */
  #open(i: number): void {
    if (this.#rows === this.#iova.length) this.#grow();
    const n = this.#rows;
    this.#iova.copyWithin(i + 1, i, n); this.#size.copyWithin(i + 1, i, n); this.#host.copyWithin(i + 1, i, n); this.#flags.copyWithin(i + 1, i, n);
    this.#buffers.splice(i, 0, undefined);
  }

  #grow(): void {
    const cap = Math.max(INITIAL_ROWS, this.#iova.length * 2);
    const iova = new BigUint64Array(cap), size = new BigUint64Array(cap), host = new BigUint64Array(cap), flags = new Uint8Array(cap);
    iova.set(this.#iova); size.set(this.#size); host.set(this.#host); flags.set(this.#flags);
    this.#iova = iova; this.#size = size; this.#host = host; this.#flags = flags;
  }
}
