// VFIO's uapi (include/uapi/linux/vfio.h) in one place: ioctl numbers, flags and constants under
// their uapi names, struct layouts (sizes and offsets in bytes), and an encoder for each small
// request struct src/ builds. Every VFIO ioctl is _IO: the struct carries its own argsz.
// Pinned against C: test/unit/shim/ioctl-numbers.test.ts (every number, constant, size and offset
// against the host's 6.1 headers and the lab kernel's 6.12 tree for x86_64 and arm64) and
// test/unit/vfio/layout.test.ts (the host header); test/unit/house/core-uapi.test.ts holds the
// core's own copies (assembly/ cannot import TypeScript) equal to these.
// Not responsible for: issuing the ioctls (shim/vfio.ts), decoding replies (the core), the
// DMA and IRQ request encoders that check their arguments (src/vfio/encode.ts).
import { _IO } from './ioc.js';
import { u32Struct } from './struct.js';

// --- ioctl numbers ---
export const VFIO_API_VERSION = 0;
export const VFIO_TYPE = 0x3b; // ';'
export const VFIO_BASE = 100;
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);
export const VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5);
export const VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6);
export const VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7);
export const VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8);
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9);
export const VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10);
export const VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11);
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);
export const VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18);
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19);
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20);

// --- struct vfio_group_status.flags ---
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

// --- struct vfio_device_info.flags ---
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const VFIO_DEVICE_FLAGS_CDX = 1 << 8;

// --- struct vfio_region_info.flags and its capabilities ---
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

// --- struct vfio_irq_info.flags ---
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

// --- struct vfio_irq_set.flags ---
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

// --- type1 IOMMU ---
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

// --- vfio-pci fixed indexes ---
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

/** Struct sizes and field offsets (bytes), as the uapi header lays them out on every Linux ABI
 *  (fixed-width fields only). `min` is what the kernel itself requires of argsz; a field named
 *  like the size (`size`) is written `size_`. */
export const VFIO_LAYOUT = {
  vfio_info_cap_header: { size: 8, id: 0, version: 2, next: 4 },
  vfio_group_status: { size: 8, argsz: 0, flags: 4 },
  vfio_device_info: { size: 20, min: 16, argsz: 0, flags: 4, num_regions: 8, num_irqs: 12, cap_offset: 16 },
  vfio_region_info: { size: 32, argsz: 0, flags: 4, index: 8, cap_offset: 12, size_: 16, offset: 24 },
  vfio_region_sparse_mmap_area: { size: 16, offset: 0, size_: 8 },
  vfio_region_info_cap_sparse_mmap: { size: 16, nr_areas: 8, reserved: 12, areas: 16 },
  vfio_region_info_cap_type: { size: 16, type: 8, subtype: 12 },
  vfio_irq_info: { size: 16, argsz: 0, flags: 4, index: 8, count: 12 },
  vfio_irq_set: { size: 20, argsz: 0, flags: 4, index: 8, start: 12, count: 16, data: 20 },
  vfio_iommu_type1_info: { size: 24, min: 16, argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16 },
  vfio_iova_range: { size: 16, start: 0, end: 8 },
  vfio_iommu_type1_info_cap_iova_range: { size: 16, nr_iovas: 8, reserved: 12, iova_ranges: 16 },
  vfio_iommu_type1_info_dma_avail: { size: 12, avail: 8 },
  vfio_iommu_type1_dma_map: { size: 32, argsz: 0, flags: 4, vaddr: 8, iova: 16, size_: 24 },
  vfio_iommu_type1_dma_unmap: { size: 24, argsz: 0, flags: 4, iova: 8, size_: 16, data: 24 },
} as const;

/** The VFIO device cdev structs (Linux 6.6 on; not in the host's 6.1 header, so pinned against
 *  the 6.12 tree only). */
export const VFIO_CDEV_LAYOUT = {
  vfio_device_bind_iommufd: { size: 16, argsz: 0, flags: 4, iommufd: 8, out_devid: 12 },
  vfio_device_attach_iommufd_pt: { size: 12, argsz: 0, flags: 4, pt_id: 8 },
  vfio_device_detach_iommufd_pt: { size: 8, argsz: 0, flags: 4 },
} as const;

const L = VFIO_LAYOUT, C = VFIO_CDEV_LAYOUT;

/** struct vfio_group_status for VFIO_GROUP_GET_STATUS: argsz set, flags cleared (the kernel fills
 *  them: read `VFIO_LAYOUT.vfio_group_status.flags`). Into `out` when given (reused). */
export const encodeGroupStatus = (out?: Uint8Array): Uint8Array => u32Struct(L.vfio_group_status, 'argsz', {}, out);
/** struct vfio_device_bind_iommufd for VFIO_DEVICE_BIND_IOMMUFD: the kernel fills out_devid. */
export const encodeBindIommufd = (iommufd: number): Uint8Array => u32Struct(C.vfio_device_bind_iommufd, 'argsz', { iommufd });
/** struct vfio_device_attach_iommufd_pt for VFIO_DEVICE_ATTACH_IOMMUFD_PT (an IOAS or HWPT id). */
export const encodeAttachIommufdPt = (ptId: number): Uint8Array => u32Struct(C.vfio_device_attach_iommufd_pt, 'argsz', { pt_id: ptId });
/** struct vfio_device_detach_iommufd_pt for VFIO_DEVICE_DETACH_IOMMUFD_PT. */
export const encodeDetachIommufdPt = (): Uint8Array => u32Struct(C.vfio_device_detach_iommufd_pt, 'argsz', {});
