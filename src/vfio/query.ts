// The "buffer too small" protocol of VFIO's INFO ioctls: the caller passes argsz; when the reply
// (with its capability chain) needs more, the kernel sets argsz to what it needs and leaves the
// chain out; the caller queries again with a buffer that large. The core decides (VFIO_NEED_ARGSZ);
// this loop only re-queries, within named bounds.
// Not responsible for: the ioctl itself (the `query` callback does it, e.g. through shim/).

import { VfioError } from '../errors.js';
import { decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info, type DeviceInfo, type RegionInfo, type IrqInfo, type IommuType1Info } from './decode.js';
import { LAYOUT, VFIO_NEED_ARGSZ } from './uapi.js';
import type { RegionTable } from '../core/region.js';
import { setU32, u32 } from '../../shim/bytes.js';
import { badArgument, checkBytes, checkFn, checkInt, checkOptInt, checkOptObject } from '../../shim/args.js';

/** Queries per INFO call: the kernel's need changes only when the capabilities change between two
 *  calls (a group joining the container adds reserved IOVA ranges), so 2 suffice and 4 tolerate a
 *  race; a kernel that keeps asking for more is broken. */
export const MAX_ARGSZ_RETRIES = 4;
/** Largest reply accepted: the biggest legitimate one is a type1 info with MAX_IOVA_RANGES ranges
 *  (about 16 KiB); a hostile argsz of gigabytes must not become an allocation. */
export const MAX_REPLY_BYTES = 1 << 20;

/** Options of the query functions ({@link queryDeviceInfo}, ...). */
export interface QueryOptions {
  /** First buffer size (default: the fixed struct plus room for a typical chain). */
  initialSize?: number;
  /** Re-queries allowed when the kernel asks for a larger buffer (default {@link MAX_ARGSZ_RETRIES}). */
  maxRetries?: number;
  /** The caller's buffer for the first query (its length is the first argsz; it is zeroed here
   *  first, and nothing keeps it after the call): a device open queries every region, and V8
   *  allocates a typed array of more than 64 bytes outside its heap, which costs more than the
   *  ioctl under emulation. A larger query the kernel asks for allocates its own. */
  buffer?: Uint8Array;
}

/** Generic loop (`label` names the query in errors; a function is called only then): `fill(buf)`
 *  writes the request fields (argsz at 0 is written here), `query(buf)` runs the ioctl in place,
 *  `decode(buf)` decodes it; repeats with a larger buffer while the decoder answers
 *  VFIO_NEED_ARGSZ. `first`, when given, is the first attempt's buffer (zeroed here; its length
 *  replaces initialSize). Throws kind 'kernel-reply' when the retries run out or argsz passes
 *  MAX_REPLY_BYTES, and whatever query/decode throw. */
export function queryWithArgsz<T>(label: string | (() => string), initialSize: number, fill: (buf: Uint8Array) => void, query: (buf: Uint8Array) => void, decode: (buf: Uint8Array) => T, maxRetries = MAX_ARGSZ_RETRIES, first?: Uint8Array): T {
  if (typeof label !== 'string' && typeof label !== 'function') badArgument('label', label, 'a string or a function');
  checkInt('initialSize', initialSize, 4, MAX_REPLY_BYTES); checkFn('fill', fill); checkFn('query', query); checkFn('decode', decode); checkInt('maxRetries', maxRetries);
  if (first !== undefined) checkBytes('first', first, 4);
  return argszLoop(label, initialSize, fill, query, decode, maxRetries, first);
}

/** queryWithArgsz's loop, its arguments taken as checked (the public functions check them; the
 *  device layer's own calls pass its own). */
function argszLoop<T>(label: string | (() => string), initialSize: number, fill: (buf: Uint8Array) => void, query: (buf: Uint8Array) => void, decode: (buf: Uint8Array) => T, maxRetries: number, first: Uint8Array | undefined): T {
  const what = (): string => (typeof label === 'function' ? label() : label);
  let size = first ? first.length : initialSize;
  for (let attempt = 0; attempt <= maxRetries; attempt++) {
    const buf = attempt === 0 && first ? first.fill(0) : new Uint8Array(size);
    setU32(buf, 0, size);
    fill(buf);
    query(buf);
    try {
      return decode(buf);
    } catch (e) {
      if (!(e instanceof VfioError) || e.status !== VFIO_NEED_ARGSZ) throw e;
      const need = u32(buf, 0);   // the kernel's argsz: what the core named in slot 0
      if (need > MAX_REPLY_BYTES) {
        throw new VfioError({ kind: 'kernel-reply', message: `${what()}: the kernel asks for argsz ${need}, beyond MAX_REPLY_BYTES (${MAX_REPLY_BYTES})`, hint: 'the kernel or driver reports an implausible reply size; report it', status: VFIO_NEED_ARGSZ, statusName: 'VFIO_NEED_ARGSZ', offset: 0 });
      }
      size = need;
    }
  }
  throw new VfioError({ kind: 'kernel-reply', message: `${what()}: the kernel asked for a larger buffer ${maxRetries + 1} times in a row`, hint: 'the capability chain keeps growing between queries; retry later or report it', status: VFIO_NEED_ARGSZ, statusName: 'VFIO_NEED_ARGSZ', offset: 0 });
}


/** The query options, checked (by their names as the caller gave them). */
function queryOpts<T extends QueryOptions>(opts: T | undefined): T {
  const o = checkOptObject<T>('opts', opts);
  checkOptInt('opts.initialSize', o.initialSize, 4, MAX_REPLY_BYTES); checkOptInt('opts.maxRetries', o.maxRetries);
  if (o.buffer !== undefined) checkBytes('opts.buffer', o.buffer, 4);
  return o;
}

/** VFIO_DEVICE_GET_INFO through `query`, growing the buffer as the kernel asks.
 * `query(buf)` issues the ioctl on the caller's fd with `buf` in place and throws on failure (its error passes through). Throws what {@link queryWithArgsz} and the decoder throw.
 */
export function queryDeviceInfo(query: (buf: Uint8Array) => void, opts: QueryOptions = {}): DeviceInfo {
  checkFn('query', query); opts = queryOpts(opts);
  return queryWithArgsz('VFIO_DEVICE_GET_INFO', opts.initialSize ?? 256, noFill, query, decodeDeviceInfo, opts.maxRetries, opts.buffer);
}
const noFill = (): void => {};

// The device layer's own queries (src/device/device.ts, at every open): the same loops and
// decoders as the public functions above, without their argument checks (the device's own
// arguments: an index it counts, its reused buffer, its table), which ran a dozen checks per
// region and IRQ queried. @internal
/** queryDeviceInfo into `first`. @internal */
export const deviceInfoQuery = (query: (buf: Uint8Array) => void, first: Uint8Array): DeviceInfo =>
  argszLoop('VFIO_DEVICE_GET_INFO', first.length, noFill, query, decodeDeviceInfo, MAX_ARGSZ_RETRIES, first);
/** queryRegionInfo of `index` into `first`, recorded in `table`. @internal */
export const regionInfoQuery = (index: number, query: (buf: Uint8Array) => void, first: Uint8Array, table: RegionTable): RegionInfo =>
  argszLoop(() => `VFIO_DEVICE_GET_REGION_INFO(${index})`, first.length, (b) => setU32(b, LAYOUT.vfio_region_info.index, index), query, (b) => table.addReply(index, b), MAX_ARGSZ_RETRIES, first);
/** queryIrqInfo of `index` into `first`. @internal */
export const irqInfoQuery = (index: number, query: (buf: Uint8Array) => void, first: Uint8Array): IrqInfo =>
  argszLoop(() => `VFIO_DEVICE_GET_IRQ_INFO(${index})`, first.length, (b) => setU32(b, LAYOUT.vfio_irq_info.index, index), query, (b) => decodeIrqInfo(b, index), MAX_ARGSZ_RETRIES, first);

/** Options of queryRegionInfo. */
export interface RegionQueryOptions extends QueryOptions {
  /** The device's region table: the reply is decoded and recorded in it in one core call
   *  (RegionTable.addReply); a reply that fails records nothing. */
  table?: RegionTable;
}

/** VFIO_DEVICE_GET_REGION_INFO for `index` through `query` (with `opts.table`, recorded as well).
 * `query(buf)` issues the ioctl on the caller's fd with `buf` in place and throws on failure (its error passes through). Throws what {@link queryWithArgsz} and the decoder throw.
 *
 * @example
 * ```ts
 * import { openDevice } from 'vfiokit';
 * import { queryRegionInfo, vfioUapi } from 'vfiokit/core';
 *
 * declare function ioctl(fd: number, request: number, buf: Uint8Array): void; // yours; throws on failure
 * const dev = openDevice('0000:00:03.0');
 * const bar0 = queryRegionInfo(0, (buf) => ioctl(dev.fd, vfioUapi.VFIO_DEVICE_GET_REGION_INFO, buf));
 * console.log(bar0.size, bar0.sparse);
 * dev.close();
 * ```
 */
export function queryRegionInfo(index: number, query: (buf: Uint8Array) => void, opts: RegionQueryOptions = {}): RegionInfo {
  checkInt('index', index, 0, 0xffff_ffff); checkFn('query', query); opts = queryOpts(opts);
  const t = opts.table;
  if (t !== undefined && typeof (t as { addReply?: unknown } | null)?.addReply !== 'function') badArgument('opts.table', t, 'a RegionTable');
  const decode = t ? (b: Uint8Array) => t.addReply(index, b) : (b: Uint8Array) => decodeRegionInfo(b, index);
  return queryWithArgsz(() => `VFIO_DEVICE_GET_REGION_INFO(${index})`, opts.initialSize ?? 256, (b) => setU32(b, LAYOUT.vfio_region_info.index, index), query, decode, opts.maxRetries, opts.buffer);
}

/** VFIO_DEVICE_GET_IRQ_INFO for `index` through `query`.
 * `query(buf)` issues the ioctl on the caller's fd with `buf` in place and throws on failure (its error passes through). Throws what {@link queryWithArgsz} and the decoder throw.
 */
export function queryIrqInfo(index: number, query: (buf: Uint8Array) => void, opts: QueryOptions = {}): IrqInfo {
  checkInt('index', index, 0, 0xffff_ffff); checkFn('query', query); opts = queryOpts(opts);
  return queryWithArgsz(() => `VFIO_DEVICE_GET_IRQ_INFO(${index})`, opts.initialSize ?? LAYOUT.vfio_irq_info.size, (b) => setU32(b, LAYOUT.vfio_irq_info.index, index), query, (b) => decodeIrqInfo(b, index), opts.maxRetries, opts.buffer);
}

/** VFIO_IOMMU_GET_INFO (type1) through `query`.
 * `query(buf)` issues the ioctl on the caller's fd with `buf` in place and throws on failure (its error passes through). Throws what {@link queryWithArgsz} and the decoder throw.
 */
export function queryIommuType1Info(query: (buf: Uint8Array) => void, opts: QueryOptions = {}): IommuType1Info {
  checkFn('query', query); opts = queryOpts(opts);
  return queryWithArgsz('VFIO_IOMMU_GET_INFO', opts.initialSize ?? 256, () => {}, query, decodeIommuType1Info, opts.maxRetries, opts.buffer);
}
