// iommufd's uapi (include/uapi/linux/iommufd.h, Linux 6.2 on) in one place: ioctl numbers, flags,
// struct layouts and an encoder for each small request struct src/ builds. Every struct starts
// with its u32 size. Pinned against the lab kernel's 6.12 tree by
// test/unit/shim/ioctl-numbers.test.ts (the host's 6.1 headers have no iommufd.h).
// Not responsible for: issuing the ioctls (shim/iommufd.ts), IOAS_MAP/UNMAP and IOVA_RANGES
// (src/vfio/iommufd.ts encodes those with their checks).
import { _IO } from './ioc.js';
import { u32Struct } from './struct.js';

export const IOMMUFD_TYPE = 0x3b; // ';'
export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE + 0;
export const IOMMUFD_CMD_IOAS_ALLOC = 0x81;
export const IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84;
export const IOMMUFD_CMD_IOAS_MAP = 0x85;
export const IOMMUFD_CMD_IOAS_UNMAP = 0x86;
export const IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY);
export const IOMMU_IOAS_ALLOC = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC);
export const IOMMU_IOAS_IOVA_RANGES = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES);
export const IOMMU_IOAS_MAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP);
export const IOMMU_IOAS_UNMAP = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP);
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

/** Struct sizes and field offsets (bytes); the leading `size` field is written `size_`. */
export const IOMMUFD_LAYOUT = {
  iommu_destroy: { size: 8, size_: 0, id: 4 },
  iommu_ioas_alloc: { size: 12, size_: 0, flags: 4, out_ioas_id: 8 },
  iommu_ioas_map: { size: 40, size_: 0, flags: 4, ioas_id: 8, __reserved: 12, user_va: 16, length: 24, iova: 32 },
  iommu_ioas_unmap: { size: 24, size_: 0, ioas_id: 4, iova: 8, length: 16 },
  iommu_ioas_iova_ranges: { size: 32, size_: 0, ioas_id: 4, num_iovas: 8, __reserved: 12, allowed_iovas: 16, out_iova_alignment: 24 },
  iommu_iova_range: { size: 16, start: 0, last: 8 },
} as const;

/** struct iommu_destroy for IOMMU_DESTROY of object `id` (an IOAS, a HWPT...). */
export const encodeIommuDestroy = (id: number): Uint8Array => u32Struct(IOMMUFD_LAYOUT.iommu_destroy, 'size_', { id });
/** struct iommu_ioas_alloc for IOMMU_IOAS_ALLOC (flags 0): the kernel fills out_ioas_id. */
export const encodeIoasAlloc = (): Uint8Array => u32Struct(IOMMUFD_LAYOUT.iommu_ioas_alloc, 'size_', {});
