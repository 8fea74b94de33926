// RegionTable: the TypeScript face of the core's region table (assembly/region/table.ts, whose
// header holds the rules). One per device: regions are keyed by their kernel index, and a region
// whose info query failed stays in the table as failed (with its status) instead of shifting the
// indexes of the others. For each region: the split into MAP and TRAP ranges for a page size
// (optionally minus carve-out holes such as the MSI-X table), and the guest access check.
// Not responsible for: the mmap and the pread/pwrite (the device layer does them from the split
// and the checked file offsets), or decoding the kernel's reply (src/vfio/decode.ts).

import { bindExports, core, type Core, type CoreFn } from './loader.js';
import { VfioError } from '../errors.js';
import { statusError, statusParts } from './status.js';
import { decoderError, regionInfoFromResults, stageReply, type RegionInfo, type SparseArea } from '../vfio/decode.js';
import { MAX_REGIONS } from '../vfio/uapi.js';
import { setU64, u32, u64 } from '../../shim/bytes.js';
import { badArgument, checkBigU64, checkBytes, checkFn, checkInt, checkObject, checkOneOf } from '../../shim/args.js';

/** The access widths and directions check() takes. */
const WIDTHS = [1, 2, 4, 8] as const, DIRS = ['read', 'write'] as const;

/** Named bounds of the core's region table (assembly/region/table.ts; pinned by a test). */
export const MAX_TABLES = 16;
export const MAX_HOLES = 8;

/** A region as {@link RegionTable.add} records it: what VFIO_DEVICE_GET_REGION_INFO said (a decoded {@link RegionInfo} fits too). */
export interface RegionSpec {
  /** The index the reply carried; when given it must equal the index passed to add(). */
  index?: number;
  /** vfio_region_info.flags (READ, WRITE, MMAP, CAPS). */
  flags: number;
  /** The region's size in bytes. */
  size: bigint;
  /** Offset of the region in the device fd. */
  offset: bigint;
  /** Sparse mmap areas; undefined when the region has no sparse-mmap capability. */
  sparse?: SparseArea[];
}

/** What a {@link RegionTable} holds at an index ({@link RegionTable.get}). */
export type RegionEntry =
  /** A recorded region: its flags, size, fd offset and sparse areas, as given to add(). */
  | { state: 'ok'; index: number; flags: number; size: bigint; offset: bigint; sparse?: SparseArea[] }
  /** A region whose query failed: the core status it failed with (addFailed), and its name. */
  | { state: 'failed'; index: number; status: number; statusName: string };

/** One range of a region's split ({@link RegionTable.split}, {@link DeviceRegion.split}). */
export interface SplitRange {
  /** Offset in the region, in bytes ('map' ranges are page-aligned). */
  offset: bigint;
  /** Bytes in the range ('map' ranges are whole pages). */
  size: bigint;
  /** 'map': may be mmapped (zero-copy guest access); 'trap': must go through read()/write(). */
  kind: 'map' | 'trap';
}
/** A range of a region that must stay trapped (e.g. an MSI-X table), for {@link RegionTable.split}. */
export interface Hole {
  /** Offset in the region, in bytes. */
  offset: bigint;
  /** Bytes in the hole (rounded out to pages by the split). */
  size: bigint;
}

/** The core's answer to one guest access ({@link RegionTable.check}). */
export type AccessResult =
  /** Allowed: do the access at `fileOffset` in the device fd. */
  | { ok: true; fileOffset: bigint }
  /** Refused and counted: out of the region, not naturally aligned, or not allowed by its flags. */
  | { ok: false; reason: 'out-of-range' | 'misaligned' | 'denied'; /** What a refused read returns: all-ones of the width. */ readValue: bigint };

/** Refused guest accesses to one region ({@link RegionTable.counters}, {@link DeviceRegion.counters}). */
export interface RegionCounters {
  /** Refused reads (answered all-ones). */
  readsRefused: bigint;
  /** Refused writes (dropped). */
  writesDropped: bigint;
  /** Accesses past the region's end. */
  outOfRange: bigint;
  /** Accesses not naturally aligned. */
  misaligned: bigint;
  /** Accesses the region's flags do not allow (a read without READ, a write without WRITE). */
  denied: bigint;
}

const ENTRY = 24;
/** split()'s holes when there are none (a device's mapAll() at every open): nothing to stage. */
const NO_HOLES = new Uint8Array(0);
const REASONS: Record<string, 'out-of-range' | 'misaligned' | 'denied'> = {
  REGION_OUT_OF_RANGE: 'out-of-range', REGION_MISALIGNED: 'misaligned', REGION_DENIED: 'denied',
};

const REGION_EXPORTS = ['table_create', 'table_free', 'add', 'add_info', 'add_failed', 'get', 'area', 'split', 'check', 'counters'] as const;
type RegionFns = Readonly<Record<(typeof REGION_EXPORTS)[number], CoreFn>>;
/** The core's region exports, bound once per core instance: every device open makes a table, and
 *  bindExports builds its cache key (a join of the names) on each call. */
let bound: { c: Core; f: RegionFns } | undefined;
const regionFns = (c: Core): RegionFns => (bound?.c === c ? bound.f : (bound = { c, f: bindExports(c, 'region_', REGION_EXPORTS) }).f);

/**
 * The core's table of one device's regions: for each, the split into ranges to map and ranges to
 * trap for a page size, and the check of every trapped guest access (refused ones counted). A
 * {@link VfioDevice} has one ({@link VfioDevice.regionTable}); a VMM with its own open path can
 * fill one from decoded replies. Holds a slot of the core (16 at most) until close().
 * Errors: VfioError 'not-found' (nothing recorded at the index, or a failed region),
 * 'bad-argument' (a reply that does not fit the rules), 'no-space' (16 tables open), 'closed'.
 *
 * @example
 * ```ts
 * import { RegionTable } from 'vfiokit/core';
 *
 * using t = new RegionTable();
 * t.add(0, { flags: 0x7, size: 0x10000n, offset: 0n, sparse: [{ offset: 0x2000n, size: 0xe000n }] });
 * console.log(t.split(0, 4096n));               // trap [0, 0x2000), map [0x2000, 0x10000)
 * console.log(t.check(0, 0x20000n, 4, 'read')); // { ok: false, reason: 'out-of-range', readValue: 0xffffffffn }
 * ```
 */
export class RegionTable {
  private readonly c: Core;
  private handle: number;
  private readonly f: RegionFns;
  #generation = 0;

  /** Takes a table slot in the core. Throws 'no-space' when all 16 are open. */
  constructor() {
    this.c = core();
    this.f = regionFns(this.c);
    const h = this.f.table_create();
    if (h < 0) throw this.err(h, 'cannot create a region table (every table of the core is open: close the tables of devices you released)');
    this.handle = h;
  }

  /** Fills a table by querying regions 0..numRegions-1; a query that throws a VfioError of kind
   *  'kernel-reply' records that region as failed and the others keep their indexes.
   * Other errors close the table and pass through.
   */
  static fromQueries(numRegions: number, queryRegion: (index: number) => RegionInfo): RegionTable {
    checkInt('numRegions', numRegions, 0, MAX_REGIONS); checkFn('queryRegion', queryRegion);
    const t = new RegionTable();
    try {
      for (let i = 0; i < numRegions; i++) {
        let info: RegionInfo;
        try { info = queryRegion(i); } catch (e) {
          if (e instanceof VfioError && e.kind === 'kernel-reply' && e.status !== undefined) { t.addFailed(i, e.status); continue; }
          throw e;
        }
        t.add(i, info);
      }
    } catch (e) { t.close(); throw e; }
    return t;
  }

  /** True once close() has run. */
  get closed(): boolean { return this.handle === 0; }

  /** Changes whenever an entry is recorded (add, addFailed) or the table closes: a caller that
   *  caches what an entry allows (DeviceRegion's trap fast path) compares it to know the cache
   *  still says what the core would. */
  get generation(): number { return this.#generation; }

  /** Records region `index` (replacing a previous entry; its counters restart at 0).
   * Throws 'bad-argument' (an index that differs from `info.index`, over 32 sparse areas, areas outside the region), 'closed'.
   */
  add(index: number, info: RegionSpec | RegionInfo): void {
    checkInt('index', index, 0, 0xffff_ffff); checkObject('info', info);
    checkInt('info.flags', info.flags, 0, 0xffff_ffff); checkBigU64('info.size', info.size); checkBigU64('info.offset', info.offset);
    if (info.sparse != null) (Array.isArray(info.sparse) ? info.sparse : badArgument('info.sparse', info.sparse, 'an array of areas')).forEach((a, i) => { checkObject(`info.sparse[${i}]`, a); checkBigU64(`info.sparse[${i}].offset`, a.offset); checkBigU64(`info.sparse[${i}].size`, a.size); });
    if (info.index !== undefined && info.index !== index) {
      throw new VfioError({ kind: 'bad-argument', message: `region info for index ${info.index} given as region ${index}`, hint: 'pass the index the info was queried for' });
    }
    const areas = info.sparse ?? [];
    const bytes = new Uint8Array(areas.length * 16);
    areas.forEach((a, i) => { setU64(bytes, 16 * i, a.offset); setU64(bytes, 16 * i + 8, a.size); });
    const p = this.c.put(bytes, 0);
    this.#generation++;
    const st = this.f.add(this.live(), index >>> 0, info.flags >>> 0, BigInt.asUintN(64, info.size), BigInt.asUintN(64, info.offset), info.sparse ? 1 : 0, p, areas.length);
    if (st < 0) throw this.err(st, `cannot record region ${index}`);
  }

  /** Decodes a VFIO_DEVICE_GET_REGION_INFO reply asked for region `index` and records it, in one
   *  core call (region_add_info: the strict decoder, then the table, without the areas leaving
   *  the core and coming back). Throws as decodeRegionInfo does (kernel-reply with the offset of
   *  the fault; no-space with status VFIO_NEED_ARGSZ: query again), recording nothing then. */
  addReply(index: number, bytes: Uint8Array): RegionInfo {
    checkInt('index', index, 0, 0xffff_ffff); checkBytes('bytes', bytes);
    const label = (): string => `VFIO_DEVICE_GET_REGION_INFO reply for region ${index}`;
    const p = stageReply(bytes, label);
    this.#generation++;
    const st = this.f.add_info(this.live(), index >>> 0, p, bytes.length);
    if (st < 0) throw decoderError(st, label, bytes.length);
    return regionInfoFromResults(bytes, st);
  }

  /** Records that region `index`'s query failed with core status `status` (< 0).
   * Throws 'bad-argument' (an index out of range, a status >= 0), 'closed'.
   */
  addFailed(index: number, status: number): void {
    checkInt('index', index, 0, 0xffff_ffff); checkInt('status', status, -0x8000_0000, -1);
    this.#generation++;
    const st = this.f.add_failed(this.live(), index >>> 0, status);
    if (st < 0) throw this.err(st, `cannot record region ${index} as failed`);
  }

  /** What the table holds at `index`; undefined when nothing was recorded there. */
  get(index: number): RegionEntry | undefined {
    if (checkInt('index', index) >= MAX_REGIONS) return undefined;
    const st = this.f.get(this.live(), index);
    if (st < 0 && statusParts(this.c, st).name === 'NOT_FOUND') return undefined;
    if (st < 0) throw this.err(st, `region ${index}`);
    const r = (i: number) => this.c.result(i);
    if (st === 2) {
      const status = Number(BigInt.asIntN(64, r(0)));
      return { state: 'failed', index, status, statusName: statusParts(this.c, status).name };
    }
    const e: RegionEntry = { state: 'ok', index, flags: Number(r(0)), size: r(1), offset: r(2) };
    if (r(3) === 1n) {
      const n = Number(r(4));
      e.sparse = [];
      for (let i = 0; i < n; i++) {
        this.f.area(this.handle, index, i);
        e.sparse.push({ offset: r(0), size: r(1) });
      }
    }
    return e;
  }

  /** The region's MAP and TRAP ranges for `pageSize` (4 KiB..64 KiB), minus `holes` (rounded out
   *  to pages and trapped): covering the region exactly, in order.
   * Throws 'not-found' (nothing at the index, a failed region), 'bad-argument' (a page size that is not a power of two in range, too many holes), 'closed'.
   */
  split(index: number, pageSize: bigint = 4096n, holes: Hole[] = []): SplitRange[] {
    checkInt('index', index, 0, 0xffff_ffff); checkBigU64('pageSize', pageSize);
    if (!Array.isArray(holes)) badArgument('holes', holes, 'an array of holes');
    const hb = holes.length === 0 ? NO_HOLES : new Uint8Array(holes.length * 16);
    holes.forEach((h, i) => { setU64(hb, 16 * i, h.offset); setU64(hb, 16 * i + 8, h.size); });
    const hp = this.c.put(hb, 0);
    const out = this.c.transientPtr + 4096;
    const cap = 64 * 1024;   // (MAX_SPARSE_AREAS + MAX_HOLES) * 2 + 1 entries fit many times
    const st = this.f.split(this.live(), index >>> 0, pageSize, hp, holes.length, out, cap);
    if (st < 0) throw this.err(st, `cannot split region ${index} for ${pageSize}-byte pages`);
    const v = this.c.u8.subarray(out, out + st * ENTRY);
    const res: SplitRange[] = [];
    for (let i = 0; i < st; i++) {
      res.push({ offset: u64(v, i * ENTRY), size: u64(v, i * ENTRY + 8), kind: u32(v, i * ENTRY + 16) === 1 ? 'map' : 'trap' });
    }
    return res;
  }

  /** Checks a guest access; a refused one is counted (the read gives readValue, the write is
   *  dropped). Throws only for a VMM bug: width not 1/2/4/8, unknown or failed region.
   * Those are 'bad-argument' and 'not-found'; 'closed' after close().
   */
  check(index: number, offset: bigint, width: number, dir: 'read' | 'write' = 'read'): AccessResult {
    checkInt('index', index, 0, 0xffff_ffff); checkBigU64('offset', offset); checkOneOf('width', width, WIDTHS); checkOneOf('dir', dir, DIRS);
    const st = this.f.check(this.live(), index >>> 0, BigInt.asUintN(64, offset), width >>> 0, dir === 'write' ? 1 : 0);
    if (st === 0) return { ok: true, fileOffset: this.c.result(0) };
    const { name } = statusParts(this.c, st);
    const reason = REASONS[name];
    if (reason) return { ok: false, reason, readValue: this.c.result(0) };
    throw this.err(st, `cannot check a ${width}-byte ${dir} at 0x${offset.toString(16)} of region ${index}`);
  }

  /** Refused guest accesses to the region since it was added.
   * Throws 'not-found', 'closed'.
   */
  counters(index: number): RegionCounters {
    checkInt('index', index, 0, 0xffff_ffff);
    const st = this.f.counters(this.live(), index >>> 0);
    if (st < 0) throw this.err(st, `region ${index}`);
    const r = (i: number) => this.c.result(i);
    return { readsRefused: r(0), writesDropped: r(1), outOfRange: r(2), misaligned: r(3), denied: r(4) };
  }

  /** Frees the table; closing twice is harmless. */
  close(): void {
    if (this.handle === 0) return;
    this.#generation++;
    this.f.table_free(this.handle);
    this.handle = 0;
  }
  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  private live(): number {
    if (this.handle === 0) throw new VfioError({ kind: 'closed', message: 'the region table is closed', hint: 'create a new RegionTable' });
    return this.handle;
  }

  private err(st: number, what: string): VfioError {
    const failed = statusParts(this.c, st).name === 'REGION_FAILED';
    return statusError(this.c, st, {
      what,
      detail: failed ? ` (its query failed: ${this.c.statusName(Number(BigInt.asIntN(64, this.c.result(0))))})` : '',
      hint: failed ? 'the kernel gave a malformed reply for this region; it cannot be used' : undefined,
    });
  }

}
