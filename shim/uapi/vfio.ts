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
/** The ioctl type byte of VFIO (';', 0x3b). */
export const VFIO_TYPE = 0x3b; // ';'
/** The first VFIO ioctl number (100); each VFIO ioctl is VFIO_BASE + n. */
export const VFIO_BASE = 100;
/** VFIO_GET_API_VERSION on the container fd: answers VFIO_API_VERSION (0). */
export const VFIO_GET_API_VERSION = _IO(VFIO_TYPE, VFIO_BASE + 0);
/** VFIO_CHECK_EXTENSION on the container fd: whether an IOMMU type (VFIO_TYPE1v2_IOMMU, ...) is supported. */
export const VFIO_CHECK_EXTENSION = _IO(VFIO_TYPE, VFIO_BASE + 1);
/** VFIO_SET_IOMMU on the container fd: chooses its IOMMU type, once a group is attached. */
export const VFIO_SET_IOMMU = _IO(VFIO_TYPE, VFIO_BASE + 2);
/** VFIO_GROUP_GET_STATUS on a group fd: viable (every device bound to VFIO) and container set. */
export const VFIO_GROUP_GET_STATUS = _IO(VFIO_TYPE, VFIO_BASE + 3);
/** VFIO_GROUP_SET_CONTAINER on a group fd: attaches the group to a container fd. */
export const VFIO_GROUP_SET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 4);
/** VFIO_GROUP_UNSET_CONTAINER on a group fd: detaches it from its container. */
export const VFIO_GROUP_UNSET_CONTAINER = _IO(VFIO_TYPE, VFIO_BASE + 5);
/** VFIO_GROUP_GET_DEVICE_FD on a group fd: opens a device of the group by name. */
export const VFIO_GROUP_GET_DEVICE_FD = _IO(VFIO_TYPE, VFIO_BASE + 6);
/** VFIO_DEVICE_GET_INFO on a device fd: struct vfio_device_info (flags, region and IRQ counts, capabilities). */
export const VFIO_DEVICE_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 7);
/** VFIO_DEVICE_GET_REGION_INFO on a device fd: struct vfio_region_info of one region index. */
export const VFIO_DEVICE_GET_REGION_INFO = _IO(VFIO_TYPE, VFIO_BASE + 8);
/** VFIO_DEVICE_GET_IRQ_INFO on a device fd: struct vfio_irq_info of one IRQ index. */
export const VFIO_DEVICE_GET_IRQ_INFO = _IO(VFIO_TYPE, VFIO_BASE + 9);
/** VFIO_DEVICE_SET_IRQS on a device fd: triggers, masks, unmasks or sets eventfds of an IRQ index's vectors. */
export const VFIO_DEVICE_SET_IRQS = _IO(VFIO_TYPE, VFIO_BASE + 10);
/** VFIO_DEVICE_RESET on a device fd (when VFIO_DEVICE_FLAGS_RESET is set). */
export const VFIO_DEVICE_RESET = _IO(VFIO_TYPE, VFIO_BASE + 11);
/** VFIO_IOMMU_GET_INFO on a type1 container: page sizes and capabilities (IOVA ranges, DMA mappings available). */
export const VFIO_IOMMU_GET_INFO = _IO(VFIO_TYPE, VFIO_BASE + 12);
/** VFIO_IOMMU_MAP_DMA on a type1 container: maps process memory at an IOVA. */
export const VFIO_IOMMU_MAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 13);
/** VFIO_IOMMU_UNMAP_DMA on a type1 container: unmaps an IOVA range. */
export const VFIO_IOMMU_UNMAP_DMA = _IO(VFIO_TYPE, VFIO_BASE + 14);
export const VFIO_DEVICE_BIND_IOMMUFD = _IO(VFIO_TYPE, VFIO_BASE + 18);
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 19);
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = _IO(VFIO_TYPE, VFIO_BASE + 20);

// --- struct vfio_group_status.flags ---
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

// --- struct vfio_device_info.flags ---
/** vfio_device_info.flags: the device supports VFIO_DEVICE_RESET. */
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
/** vfio_device_info.flags: a PCI device (vfio-pci). */
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
/** vfio_device_info.flags: a platform device (vfio-platform). */
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
/** vfio_device_info.flags: an AMBA device (vfio-amba). */
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
/** vfio_device_info.flags: an s390 channel I/O device. */
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
/** vfio_device_info.flags: an s390 AP (crypto) device. */
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
/** vfio_device_info.flags: a Freescale fsl-mc device. */
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
/** vfio_device_info.flags: the reply has a capability chain (cap_offset). */
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
/** vfio_device_info.flags: an AMD CDX device. */
export const VFIO_DEVICE_FLAGS_CDX = 1 << 8;

// --- struct vfio_region_info.flags and its capabilities ---
/** vfio_region_info.flags: the region may be read (pread on the device fd). */
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
/** vfio_region_info.flags: the region may be written. */
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
/** vfio_region_info.flags: the region (or its sparse areas) may be mmapped. */
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
/** vfio_region_info.flags: the reply has a capability chain (cap_offset). */
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
/** Region capability ID: the areas of the region that may be mmapped. */
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
/** Region capability ID: a device-specific region's type and subtype. */
export const VFIO_REGION_INFO_CAP_TYPE = 2;
/** Region capability ID: the MSI-X table in this BAR may be mmapped. */
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

// --- struct vfio_irq_info.flags ---
/** vfio_irq_info.flags: the index can signal an eventfd. */
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
/** vfio_irq_info.flags: the index can be masked and unmasked. */
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
/** vfio_irq_info.flags: a level line, masked by the kernel on delivery until unmasked. */
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
/** vfio_irq_info.flags: the vector count cannot change while enabled (MSI-X must be disabled first). */
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

// --- struct vfio_irq_set.flags ---
/** vfio_irq_set.flags: no data (trigger, mask or unmask the vectors; count 0 disables). */
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
/** vfio_irq_set.flags: one u8 per vector says whether to act on it. */
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
/** vfio_irq_set.flags: one s32 eventfd per vector (-1: remove). */
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
/** vfio_irq_set.flags: mask the vectors. */
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
/** vfio_irq_set.flags: unmask the vectors (with DATA_EVENTFD: an eventfd that unmasks when signalled). */
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
/** vfio_irq_set.flags: trigger the vectors (with DATA_EVENTFD: set the eventfds they signal). */
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

// --- type1 IOMMU ---
/** IOMMU type: type1 (the first version; vfiokit uses VFIO_TYPE1v2_IOMMU). */
export const VFIO_TYPE1_IOMMU = 1;
/** IOMMU type: type1v2 (unmaps whole mappings only), what vfiokit's containers use. */
export const VFIO_TYPE1v2_IOMMU = 3;
/** IOMMU type: no IOMMU (unsafe mode; no DMA mapping). */
export const VFIO_NOIOMMU_IOMMU = 8;
/** vfio_iommu_type1_info.flags: iova_pgsizes is valid. */
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
/** vfio_iommu_type1_info.flags: the reply has a capability chain (cap_offset). */
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
/** type1 info capability ID: the usable IOVA ranges. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
/** type1 info capability ID: dirty-page tracking for migration. */
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
/** type1 info capability ID: how many more DMA mappings the container allows. */
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
/** vfio_iommu_type1_dma_map.flags: the device may read the memory. */
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
/** vfio_iommu_type1_dma_map.flags: the device may write the memory. */
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
/** vfio_iommu_type1_dma_map.flags: update the host address of an existing mapping (live update). */
export const VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;
/** vfio_iommu_type1_dma_unmap.flags: return the dirty bitmap of the range. */
export const VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1 << 0;
/** vfio_iommu_type1_dma_unmap.flags: unmap every mapping (iova and size 0). */
export const VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;
/** vfio_iommu_type1_dma_unmap.flags: invalidate host addresses, keep the mappings (live update). */
export const VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

// --- vfio-pci fixed indexes ---
/** vfio-pci region index of BAR0 (BAR1..BAR5 follow). */
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
/** vfio-pci region index of the expansion ROM. */
export const VFIO_PCI_ROM_REGION_INDEX = 6;
/** vfio-pci region index of config space. */
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
/** vfio-pci region index of the legacy VGA ranges (VGA devices only). */
export const VFIO_PCI_VGA_REGION_INDEX = 8;
/** How many fixed region indexes vfio-pci has (device-specific ones follow). */
export const VFIO_PCI_NUM_REGIONS = 9;
/** vfio-pci IRQ index of INTx. */
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
/** vfio-pci IRQ index of MSI. */
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
/** vfio-pci IRQ index of MSI-X. */
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
/** vfio-pci IRQ index of the error (AER) notification (PCIe functions only). */
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
/** vfio-pci IRQ index of the device-release request. */
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
/** How many IRQ indexes vfio-pci has. */
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
