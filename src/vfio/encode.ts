// Encoders of VFIO request structs over the core's vfio_*_encode exports (assembly/vfio/index.ts
// checks every argument). Each returns the exact bytes to pass to the ioctl, argsz included.
// Not responsible for: issuing the ioctls or owning the eventfds.

import { core } from '../core/loader.js';
import { VfioError } from '../errors.js';
import { LITTLE_ENDIAN_HOST, setU32, setU64, type StructWords } from '../../shim/bytes.js';
import {
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR, LAYOUT,
} from './uapi.js';

/** What a VFIO_DEVICE_SET_IRQS request does to the vectors: VFIO_IRQ_SET_ACTION_TRIGGER, _MASK or _UNMASK. */
export type IrqSetAction = 'trigger' | 'mask' | 'unmask';

/** A VFIO_DEVICE_SET_IRQS request for {@link encodeIrqSet}: exactly one of `fds`, `bools`, `count` says the data type. */
export interface IrqSetRequest {
  /** IRQ index (e.g. VFIO_PCI_MSIX_IRQ_INDEX). */
  index: number;
  /** First sub-index (vector) the request applies to. */
  start?: number;
  /** What to do to the vectors. */
  action: IrqSetAction;
  /** DATA_EVENTFD: one fd per vector from `start`, -1 to detach (or skip) that vector. */
  fds?: number[];
  /** DATA_BOOL: one flag per vector from `start`. */
  bools?: boolean[];
  /** DATA_NONE: vectors acted on (count 0 with action 'trigger' disables the index). */
  count?: number;
}

const ACTIONS: Record<IrqSetAction, number> = { trigger: VFIO_IRQ_SET_ACTION_TRIGGER, mask: VFIO_IRQ_SET_ACTION_MASK, unmask: VFIO_IRQ_SET_ACTION_UNMASK };
type F = (...a: (number | bigint)[]) => number;

function fail(st: number, what: string): never {
  const full = core().statusName(st);
  throw new VfioError({ kind: st === -1000 ? 'core-bug' : 'bad-argument', message: `${what}: ${full}`, status: st, statusName: full.split(':')[0], hint: 'check the arguments against the uapi rules in docs/vfio-region.md' });
}

/** struct vfio_irq_set for VFIO_DEVICE_SET_IRQS. Give exactly one of fds, bools or count.
 * Pure: the Wasm core checks and encodes (no syscall); issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which), 'core-bug'.
 *
 * @example
 * ```ts
 * import { encodeIrqSet, vfioUapi } from 'vfiokit';
 *
 * // MSI-X vectors 0 and 1 signal these eventfds; -1 would detach a vector.
 * const req = encodeIrqSet({ index: vfioUapi.VFIO_PCI_MSIX_IRQ_INDEX, start: 0, action: 'trigger', fds: [17, 18] });
 * const disable = encodeIrqSet({ index: vfioUapi.VFIO_PCI_MSIX_IRQ_INDEX, action: 'trigger', count: 0 });
 * console.log(req.length, disable.length); // 28, 20
 * ```
 */
export function encodeIrqSet(req: IrqSetRequest): Uint8Array {
  const given = [req.fds, req.bools, req.count].filter((x) => x !== undefined).length;
  if (given !== 1) throw new VfioError({ kind: 'bad-argument', message: 'encodeIrqSet: give exactly one of fds, bools or count', hint: 'fds for DATA_EVENTFD, bools for DATA_BOOL, count for DATA_NONE' });
  const action = ACTIONS[req.action];
  if (action === undefined) throw new VfioError({ kind: 'bad-argument', message: `encodeIrqSet: unknown action ${String(req.action)}` });
  let dataType: number, data: Uint8Array, count: number;
  if (req.fds) {
    dataType = VFIO_IRQ_SET_DATA_EVENTFD; count = req.fds.length;
    data = new Uint8Array(count * 4);
    req.fds.forEach((fd, i) => {
      if (!Number.isInteger(fd) || fd < -1 || fd > 0x7fffffff) throw new VfioError({ kind: 'bad-argument', message: `encodeIrqSet: fds[${i}] = ${fd} is not an fd or -1` });
      setU32(data!, i * 4, fd);
    });
  } else if (req.bools) {
    dataType = VFIO_IRQ_SET_DATA_BOOL; count = req.bools.length;
    data = Uint8Array.from(req.bools, (b) => (b ? 1 : 0));
  } else {
    dataType = VFIO_IRQ_SET_DATA_NONE; count = req.count!; data = new Uint8Array(0);
  }
  const c = core();
  const dataPtr = c.put(data, 0);
  const out = c.transientPtr + Math.ceil(data.length / 16) * 16;   // right after the data
  const cap = LAYOUT.vfio_irq_set.size + data.length;
  const st = c.fn<F>('vfio_irq_set_encode')(out, cap, req.index >>> 0, (req.start ?? 0) >>> 0, count >>> 0, action | dataType, dataPtr, data.length);
  if (st < 0) fail(st, `encodeIrqSet(index ${req.index}, start ${req.start ?? 0}, count ${count})`);
  return c.take(out, st);
}

/** A VFIO_IOMMU_MAP_DMA request for {@link encodeDmaMap}. */
export interface DmaMapRequest {
  /** Process virtual address of the memory (a bigint pointer, as koffi gives). */
  vaddr: bigint;
  /** The IOVA to map at (page-aligned). */
  iova: bigint;
  /** Bytes to map (page-aligned; iova + size - 1 below 2^64). */
  size: bigint;
  /** Device may read the memory (default true). */
  read?: boolean;
  /** Device may write the memory (default true). */
  write?: boolean;
  /** VFIO_DMA_MAP_FLAG_VADDR: update the vaddr of an existing mapping (live update). */
  updateVaddr?: boolean;
}

/** struct vfio_iommu_type1_dma_map for VFIO_IOMMU_MAP_DMA.
 * Pure: the Wasm core checks and encodes (no syscall); issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which), 'core-bug'.
 */
export function encodeDmaMap(req: DmaMapRequest): Uint8Array {
  const flags = (req.read ?? true ? VFIO_DMA_MAP_FLAG_READ : 0) | (req.write ?? true ? VFIO_DMA_MAP_FLAG_WRITE : 0) | (req.updateVaddr ? VFIO_DMA_MAP_FLAG_VADDR : 0);
  const c = core();
  const st = c.fn<F>('vfio_dma_map_encode')(c.transientPtr, LAYOUT.vfio_iommu_type1_dma_map.size, flags, u64(req.vaddr), u64(req.iova), u64(req.size));
  if (st < 0) fail(st, `encodeDmaMap(iova 0x${req.iova.toString(16)}, size 0x${req.size.toString(16)})`);
  return c.take(c.transientPtr, st);
}

/** The core's statuses that the TypeScript twins below return (assembly/status.ts). */
const ERR_BAD_ARG = -1, ERR_NO_SPACE = -3, ERR_OVERFLOW = -7;
const DMA_MAP_SIZE = LAYOUT.vfio_iommu_type1_dma_map.size, DMA_UNMAP_SIZE = LAYOUT.vfio_iommu_type1_dma_unmap.size;

/**
 * encodeDmaMap for the hot path: the same struct, written into `out` (the caller reuses it; 32
 * bytes) instead of a new copy out of the core, with the core's checks of vfio_dma_map_encode
 * done here in TypeScript (a Wasm call, its bigint arguments and the copy cost more than the
 * ioctl under emulation): size 0, a value outside [0, 2^64), iova or vaddr + size past 2^64, and
 * `out` too small fail with the same VfioError as encodeDmaMap (test/unit/vfio/encode-fast.test.ts
 * holds the two to the same answers). Messages are built only on failure.
 */
export function encodeDmaMapInto(out: Uint8Array, vaddr: bigint, iova: bigint, size: bigint, read: boolean, write: boolean): Uint8Array {
  const st = dmaMapStatus(vaddr, iova, size) || (out.length < DMA_MAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaMap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  setU32(out, 0, DMA_MAP_SIZE);
  setU32(out, 4, (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0));
  setU64(out, 8, vaddr); setU64(out, 16, iova); setU64(out, 24, size);
  return out;
}

/** encodeDmaMapInto into a StructWords (what the type1 container reuses): the same checks and
 *  errors, the same bytes (test/unit/vfio/encode-fast.test.ts), written through its word views. */
export function encodeDmaMapWords(out: StructWords, vaddr: bigint, iova: bigint, size: bigint, read: boolean, write: boolean): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) return encodeDmaMapInto(out.bytes, vaddr, iova, size, read, write);
  const st = dmaMapStatus(vaddr, iova, size) || (out.bytes.length < DMA_MAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaMap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = DMA_MAP_SIZE;
  w32[1] = (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0);
  w64[1] = vaddr; w64[2] = iova; w64[3] = size;
  return out.bytes;
}

/** encodeDmaUnmap of a range (no flags) into `out` (24 bytes, reused), with the core's checks
 *  (size 0, outside [0, 2^64), iova + size past 2^64, `out` too small) as for encodeDmaMapInto. */
export function encodeDmaUnmapInto(out: Uint8Array, iova: bigint, size: bigint): Uint8Array {
  const st = dmaUnmapStatus(iova, size) || (out.length < DMA_UNMAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaUnmap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  setU32(out, 0, DMA_UNMAP_SIZE); setU32(out, 4, 0);
  setU64(out, 8, iova); setU64(out, 16, size);
  return out;
}

/** encodeDmaUnmapInto into a StructWords, as encodeDmaMapWords. */
export function encodeDmaUnmapWords(out: StructWords, iova: bigint, size: bigint): Uint8Array {
  if (!LITTLE_ENDIAN_HOST) return encodeDmaUnmapInto(out.bytes, iova, size);
  const st = dmaUnmapStatus(iova, size) || (out.bytes.length < DMA_UNMAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaUnmap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = DMA_UNMAP_SIZE; w32[1] = 0;
  w64[1] = iova; w64[2] = size;
  return out.bytes;
}

/** Below it a sum of two values cannot pass 2^64, so the usual request is checked by comparisons
 *  alone, with no bigint made (each bigint sum is a new heap object). mapDma's range test uses it too. */
export const TWO_53 = 1n << 53n;

/** vfio_dma_map_encode's checks on its values: 0, or the status (BAD_ARG for size 0, OVERFLOW for
 *  an end past 2^64); throws for a value outside [0, 2^64), vaddr's first, as the core does. */
function dmaMapStatus(vaddr: bigint, iova: bigint, size: bigint): number {
  if (vaddr >= 0n && iova >= 0n && size > 0n && vaddr < TWO_53 && iova < TWO_53 && size < TWO_53) return 0;
  u64(vaddr); u64(iova); u64(size);
  return size === 0n ? ERR_BAD_ARG : iova + size > TWO_64 || vaddr + size > TWO_64 ? ERR_OVERFLOW : 0;
}

/** vfio_dma_unmap_encode's checks on a range, as dmaMapStatus. */
function dmaUnmapStatus(iova: bigint, size: bigint): number {
  if (iova >= 0n && size > 0n && iova < TWO_53 && size < TWO_53) return 0;
  u64(iova); u64(size);
  return size === 0n ? ERR_BAD_ARG : iova + size > TWO_64 ? ERR_OVERFLOW : 0;
}

/** A VFIO_IOMMU_UNMAP_DMA request for {@link encodeDmaUnmap}. */
export interface DmaUnmapRequest {
  /** First IOVA of the range to unmap (0n with `all`). */
  iova?: bigint;
  /** Bytes in the range (0n with `all`); type1v2 unmaps whole mappings only. */
  size?: bigint;
  /** VFIO_DMA_UNMAP_FLAG_ALL: every mapping (iova and size must be 0 or omitted). */
  all?: boolean;
  /** VFIO_DMA_UNMAP_FLAG_VADDR: invalidate the vaddr only (live update). */
  vaddrOnly?: boolean;
}

/** struct vfio_iommu_type1_dma_unmap for VFIO_IOMMU_UNMAP_DMA (no dirty bitmap).
 * Pure: the Wasm core checks and encodes (no syscall); issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which), 'core-bug'.
 */
export function encodeDmaUnmap(req: DmaUnmapRequest): Uint8Array {
  const flags = (req.all ? VFIO_DMA_UNMAP_FLAG_ALL : 0) | (req.vaddrOnly ? VFIO_DMA_UNMAP_FLAG_VADDR : 0);
  const c = core();
  const st = c.fn<F>('vfio_dma_unmap_encode')(c.transientPtr, LAYOUT.vfio_iommu_type1_dma_unmap.size, flags, u64(req.iova ?? 0n), u64(req.size ?? 0n));
  if (st < 0) fail(st, `encodeDmaUnmap(iova 0x${(req.iova ?? 0n).toString(16)}, size 0x${(req.size ?? 0n).toString(16)})`);
  return c.take(c.transientPtr, st);
}

/** Core exports take u64 as BigInt; values outside [0, 2^64) are the caller's error. */
const TWO_64 = 1n << 64n;
function u64(v: bigint): bigint {
  if (v < 0n || v >= TWO_64) throw new VfioError({ kind: 'bad-argument', message: `0x${v.toString(16)} is not a u64` });
  return v;
}
