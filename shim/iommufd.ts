// One function per iommufd ioctl (include/uapi/linux/iommufd.h) over the checked layer. Every
// struct starts with u32 size; the caller builds it. Failures throw VfioError (see sys.ts).
// Not responsible for: struct layouts, IOAS bookkeeping, fd ownership.
import { argszIoctl, type Sys } from './sys.js';
import { IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP } from './ioctl.js';

/** struct iommu_destroy {size, id} (8 bytes). */
export const destroy = (sys: Sys, iommufd: number, arg: Uint8Array): number =>
  argszIoctl(sys, iommufd, IOMMU_DESTROY, arg, 'IOMMU_DESTROY');
/** struct iommu_ioas_alloc {size, flags, out_ioas_id} (12 bytes): the kernel fills out_ioas_id. */
export const ioasAlloc = (sys: Sys, iommufd: number, arg: Uint8Array): number =>
  argszIoctl(sys, iommufd, IOMMU_IOAS_ALLOC, arg, 'IOMMU_IOAS_ALLOC');
/** struct iommu_ioas_iova_ranges {size, ioas_id, num_iovas, __reserved, allowed_iovas, out_iova_alignment} (32 bytes). */
export const ioasIovaRanges = (sys: Sys, iommufd: number, arg: Uint8Array): number =>
  argszIoctl(sys, iommufd, IOMMU_IOAS_IOVA_RANGES, arg, 'IOMMU_IOAS_IOVA_RANGES');
/** struct iommu_ioas_map {size, flags, ioas_id, __reserved, user_va, length, iova} (40 bytes). */
export const ioasMap = (sys: Sys, iommufd: number, arg: Uint8Array): number =>
  argszIoctl(sys, iommufd, IOMMU_IOAS_MAP, arg, 'IOMMU_IOAS_MAP');
/** struct iommu_ioas_unmap {size, ioas_id, iova, length} (24 bytes): the kernel writes back the length unmapped. */
export const ioasUnmap = (sys: Sys, iommufd: number, arg: Uint8Array): number =>
  argszIoctl(sys, iommufd, IOMMU_IOAS_UNMAP, arg, 'IOMMU_IOAS_UNMAP');
