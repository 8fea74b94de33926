// iommufd request encoders (include/uapi/linux/iommufd.h) over the core's vfio_ioas_*_encode:
// IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP, the iommufd counterparts of type1's MAP_DMA / UNMAP_DMA.
// Layouts are pinned by test/unit/vfio/iommufd.test.ts against the header when the host has one.
// Not responsible for: opening /dev/iommu, allocating the IOAS, or issuing the ioctls.

import { core } from '../core/loader';
import { VfioError } from '../errors';
import { _IO } from './uapi';

export const IOMMUFD_TYPE = 0x3b; // ';'
export const IOMMUFD_CMD_IOAS_MAP = 0x85;
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
export const IOMMU_IOAS_MAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP);
export const IOMMU_IOAS_UNMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

export const IOMMUFD_LAYOUT = {
  iommu_ioas_map: { size: 40, size_: 0, flags: 4, ioas_id: 8, __reserved: 12, user_va: 16, length: 24, iova: 32 },
  iommu_ioas_unmap: { size: 24, size_: 0, ioas_id: 4, iova: 8, length: 16 },
} as const;

export interface IoasMapRequest {
  ioasId: number;
  userVa: bigint;
  length: bigint;
  /** Place the mapping exactly here; omitted: the kernel picks the IOVA and writes it back. */
  iova?: bigint;
  /** Device may read (default true). */
  read?: boolean;
  /** Device may write (default true). */
  write?: boolean;
}

type F = (...a: (number | bigint)[]) => number;
function fail(st: number, what: string): never {
  const full = core().statusName(st);
  throw new VfioError({ kind: st === -1000 ? 'core-bug' : 'bad-argument', message: `${what}: ${full}`, status: st, statusName: full.split(':')[0], hint: 'check the arguments against docs/vfio-region.md' });
}
const u64 = (v: bigint) => {
  if (v < 0n || v >= 1n << 64n) throw new VfioError({ kind: 'bad-argument', message: `0x${v.toString(16)} is not a u64` });
  return v;
};

/** struct iommu_ioas_map for IOMMU_IOAS_MAP. The kernel writes the chosen IOVA at offset 32. */
export function encodeIoasMap(req: IoasMapRequest): Uint8Array {
  const flags = (req.iova !== undefined ? IOMMU_IOAS_MAP_FIXED_IOVA : 0) | (req.read ?? true ? IOMMU_IOAS_MAP_READABLE : 0) | (req.write ?? true ? IOMMU_IOAS_MAP_WRITEABLE : 0);
  const c = core();
  const st = c.fn<F>('vfio_ioas_map_encode')(c.transientPtr, IOMMUFD_LAYOUT.iommu_ioas_map.size, flags, req.ioasId >>> 0, u64(req.userVa), u64(req.length), u64(req.iova ?? 0n));
  if (st < 0) fail(st, `encodeIoasMap(ioas ${req.ioasId}, length 0x${req.length.toString(16)})`);
  return c.take(c.transientPtr, st);
}

/** struct iommu_ioas_unmap for IOMMU_IOAS_UNMAP; `all` unmaps everything (iova 0, length 2^64-1). */
export function encodeIoasUnmap(req: { ioasId: number; iova?: bigint; length?: bigint; all?: boolean }): Uint8Array {
  const iova = req.all ? 0n : req.iova ?? 0n;
  const length = req.all ? (1n << 64n) - 1n : req.length ?? 0n;
  const c = core();
  const st = c.fn<F>('vfio_ioas_unmap_encode')(c.transientPtr, IOMMUFD_LAYOUT.iommu_ioas_unmap.size, req.ioasId >>> 0, u64(iova), u64(length));
  if (st < 0) fail(st, `encodeIoasUnmap(ioas ${req.ioasId})`);
  return c.take(c.transientPtr, st);
}
