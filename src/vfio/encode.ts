// Encoders of VFIO request structs, one per struct, each returning the exact bytes to pass to the
// ioctl, argsz included:
// - vfio_irq_set (variable length, its data bounded and checked element by element) through the
//   core's vfio_irq_set_encode; src/device/irq.ts encodes each line's structs once, at routing.
// - vfio_iommu_type1_dma_map / dma_unmap in TypeScript, word-wise into a reused StructWords (the
//   DMA hot path: a Wasm call, its bigint arguments and a copy cost more than the ioctl under
//   emulation), with the checks of the core's vfio_dma_map_encode / vfio_dma_unmap_encode (which
//   stay in the core for hosts in other languages: docs/ABI.md); test/unit/vfio/encode-fast.test.ts
//   holds each to the core's bytes and statuses for any input.
// Not responsible for: issuing the ioctls or owning the eventfds.

import { bindExports, core } from '../core/loader.js';
import { statusError } from '../core/status.js';
import { VfioError } from '../errors.js';
import { setU32, structWords, type StructWords } from '../../shim/bytes.js';
import {
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR, LAYOUT,
} from './uapi.js';
import { checkBigInt, checkBools, checkInt, checkInts, checkObject, checkOneOf, checkOptBool, checkOptInt, TWO_64 } from '../../shim/args.js';

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
const ACTION_NAMES = Object.keys(ACTIONS) as IrqSetAction[];

/** The VfioError of an encoder's status (the core's, or the same status found in TypeScript). */
export function encodeError(st: number, what: string, hint = 'check the arguments against the uapi rules in docs/vfio-region.md'): VfioError {
  return statusError(core(), st, { what, hint });
}
function fail(st: number, what: string): never { throw encodeError(st, what); }

/** struct vfio_irq_set for VFIO_DEVICE_SET_IRQS. Give exactly one of fds, bools or count.
 * Pure: the Wasm core checks and encodes (no syscall); issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which), 'core-bug'.
 *
 * @example
 * ```ts
 * import { encodeIrqSet, vfioUapi } from 'vfiokit/core';
 *
 * // MSI-X vectors 0 and 1 signal these eventfds; -1 would detach a vector.
 * const req = encodeIrqSet({ index: vfioUapi.VFIO_PCI_MSIX_IRQ_INDEX, start: 0, action: 'trigger', fds: [17, 18] });
 * const disable = encodeIrqSet({ index: vfioUapi.VFIO_PCI_MSIX_IRQ_INDEX, action: 'trigger', count: 0 });
 * console.log(req.length, disable.length); // 28, 20
 * ```
 */
export function encodeIrqSet(req: IrqSetRequest): Uint8Array {
  checkObject('req', req); checkInt('req.index', req.index, 0, 0xffff_ffff); checkOptInt('req.start', req.start, 0, 0xffff_ffff); checkOptInt('req.count', req.count, 0, 0xffff_ffff);
  checkOneOf('req.action', req.action, ACTION_NAMES);
  if (req.fds !== undefined) checkInts('req.fds', req.fds, -1, 0x7fff_ffff);
  if (req.bools !== undefined) checkBools('req.bools', req.bools);
  const given = [req.fds, req.bools, req.count].filter((x) => x !== undefined).length;
  if (given !== 1) throw new VfioError({ kind: 'bad-argument', message: 'encodeIrqSet: give exactly one of fds, bools or count', hint: 'fds for DATA_EVENTFD, bools for DATA_BOOL, count for DATA_NONE' });
  const action = ACTIONS[req.action];
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
  const st = bindExports(c, 'vfio_', ['irq_set_encode']).irq_set_encode(out, cap, req.index >>> 0, (req.start ?? 0) >>> 0, count >>> 0, action | dataType, dataPtr, data.length);
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

/** struct vfio_iommu_type1_dma_map for VFIO_IOMMU_MAP_DMA, in a new buffer (encodeDmaMapWords
 *  into a struct of its own). Pure: checked and encoded in TypeScript (no syscall); issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which).
 */
export function encodeDmaMap(req: DmaMapRequest): Uint8Array {
  checkObject('req', req); checkBigInt('req.vaddr', req.vaddr); checkBigInt('req.iova', req.iova); checkBigInt('req.size', req.size);
  checkOptBool('req.read', req.read); checkOptBool('req.write', req.write); checkOptBool('req.updateVaddr', req.updateVaddr);
  return encodeDmaMapWords(structWords(DMA_MAP_SIZE), req.vaddr, req.iova, req.size, req.read ?? true, req.write ?? true, req.updateVaddr ?? false);
}

/** The core's statuses that the TypeScript encoders find themselves (assembly/status.ts). */
const ERR_BAD_ARG = -1, ERR_NO_SPACE = -3, ERR_OVERFLOW = -7;
const DMA_MAP_SIZE = LAYOUT.vfio_iommu_type1_dma_map.size, DMA_UNMAP_SIZE = LAYOUT.vfio_iommu_type1_dma_unmap.size;

/**
 * struct vfio_iommu_type1_dma_map written into `out` (reused by the caller: the type1 container
 * keeps one) through its word views, in the host's byte order, the order the kernel reads. The
 * checks are vfio_dma_map_encode's: a value outside [0, 2^64) (vaddr's first), size 0, iova or
 * vaddr + size past 2^64, and `out` too small throw a VfioError with the core's status; nothing is
 * allocated and no message is built unless one fails. Returns out.bytes.
 */
export function encodeDmaMapWords(out: StructWords, vaddr: bigint, iova: bigint, size: bigint, read: boolean, write: boolean, updateVaddr = false): Uint8Array {
  const st = dmaMapStatus(vaddr, iova, size) || (out.bytes.length < DMA_MAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaMap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = DMA_MAP_SIZE;
  w32[1] = (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0) | (updateVaddr ? VFIO_DMA_MAP_FLAG_VADDR : 0);
  w64[1] = vaddr; w64[2] = iova; w64[3] = size;
  return out.bytes;
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

/** struct vfio_iommu_type1_dma_unmap for VFIO_IOMMU_UNMAP_DMA (no dirty bitmap), in a new buffer
 *  (encodeDmaUnmapWords into a struct of its own). Pure: no syscall; issue the ioctl yourself.
 * @throws VfioError 'bad-argument' (an argument outside the uapi's rules: `statusName` says which).
 */
export function encodeDmaUnmap(req: DmaUnmapRequest): Uint8Array {
  checkObject('req', req); if (req.iova !== undefined) checkBigInt('req.iova', req.iova); if (req.size !== undefined) checkBigInt('req.size', req.size);
  checkOptBool('req.all', req.all); checkOptBool('req.vaddrOnly', req.vaddrOnly);
  const flags = (req.all ? VFIO_DMA_UNMAP_FLAG_ALL : 0) | (req.vaddrOnly ? VFIO_DMA_UNMAP_FLAG_VADDR : 0);
  return encodeDmaUnmapWords(structWords(DMA_UNMAP_SIZE), req.iova ?? 0n, req.size ?? 0n, flags);
}

/** struct vfio_iommu_type1_dma_unmap written into `out` (reused; 24 bytes) through its word views,
 *  as encodeDmaMapWords, with vfio_dma_unmap_encode's checks: with VFIO_DMA_UNMAP_FLAG_ALL iova
 *  and size must be 0; without it size 0 and iova + size past 2^64 are refused. The kernel writes
 *  back the size unmapped into out.u64[2]. */
export function encodeDmaUnmapWords(out: StructWords, iova: bigint, size: bigint, flags = 0): Uint8Array {
  const st = dmaUnmapStatus(iova, size, flags) || (out.bytes.length < DMA_UNMAP_SIZE ? ERR_NO_SPACE : 0);
  if (st < 0) fail(st, `encodeDmaUnmap(iova 0x${iova.toString(16)}, size 0x${size.toString(16)})`);
  const w32 = out.u32, w64 = out.u64;
  w32[0] = DMA_UNMAP_SIZE; w32[1] = flags;
  w64[1] = iova; w64[2] = size;
  return out.bytes;
}

/** Below it a sum of two values cannot pass 2^64, so the usual request is checked by comparisons
 *  alone, with no bigint made (each bigint sum is a new heap object). mapDma's range test uses it too. */
export const TWO_53 = 1n << 53n;

/** The core's check that [start, start + size) ends at or below 2^64, for values already in
 *  [0, 2^64): 0 or OVERFLOW. */
export function endStatus(start: bigint, size: bigint): number {
  return start < TWO_53 && size < TWO_53 ? 0 : start + size > TWO_64 ? ERR_OVERFLOW : 0;
}

/** vfio_dma_map_encode's checks on its values: 0, or the status (BAD_ARG for size 0, OVERFLOW for
 *  an end past 2^64); throws for a value outside [0, 2^64), vaddr's first, as the core's caller did. */
function dmaMapStatus(vaddr: bigint, iova: bigint, size: bigint): number {
  if (vaddr >= 0n && iova >= 0n && size > 0n && vaddr < TWO_53 && iova < TWO_53 && size < TWO_53) return 0;
  u64(vaddr); u64(iova); u64(size);
  return size === 0n ? ERR_BAD_ARG : endStatus(iova, size) || endStatus(vaddr, size);
}

/** vfio_dma_unmap_encode's checks, as dmaMapStatus (iova's range first, then size's). */
function dmaUnmapStatus(iova: bigint, size: bigint, flags: number): number {
  if (flags === 0 && iova >= 0n && size > 0n && iova < TWO_53 && size < TWO_53) return 0;
  u64(iova); u64(size);
  if ((flags & ~(VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)) !== 0) return ERR_BAD_ARG;
  if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) !== 0) return iova !== 0n || size !== 0n ? ERR_BAD_ARG : 0;
  return size === 0n ? ERR_BAD_ARG : endStatus(iova, size);
}

/** Values outside [0, 2^64) are the caller's error (the core takes u64 as BigInt). */
export function u64(v: bigint): bigint {
  if (v < 0n || v >= TWO_64) throw new VfioError({ kind: 'bad-argument', message: `0x${v.toString(16)} is not a u64` });
  return v;
}
