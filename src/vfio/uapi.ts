// VFIO uapi constants (include/uapi/linux/vfio.h) under their uapi names, for the vfio wrappers
// and the public `vfioUapi` namespace. One home: shim/uapi/vfio.ts defines them and their layouts
// (pinned against C there and by test/unit/vfio/layout.test.ts); this module re-exports them and
// adds the core's own bounds and statuses that go with the VFIO replies.
// Not responsible for: issuing ioctls (shim/) or decoding (src/vfio/decode.ts).

export {
  _IO, VFIO_TYPE, VFIO_BASE, VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET, VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA,
} from '../../shim/ioctl.js';
export {
  VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_PLATFORM, VFIO_DEVICE_FLAGS_AMBA,
  VFIO_DEVICE_FLAGS_CCW, VFIO_DEVICE_FLAGS_AP, VFIO_DEVICE_FLAGS_FSL_MC, VFIO_DEVICE_FLAGS_CAPS,
  VFIO_DEVICE_FLAGS_CDX, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE, VFIO_REGION_INFO_FLAG_MMAP,
  VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_CAP_TYPE,
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, VFIO_IRQ_INFO_EVENTFD, VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_AUTOMASKED,
  VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD,
  VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_IOMMU_INFO_PGSIZES, VFIO_IOMMU_INFO_CAPS,
  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_DMA_MAP_FLAG_VADDR, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
  VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR, VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX,
  VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX, VFIO_PCI_NUM_REGIONS, VFIO_PCI_INTX_IRQ_INDEX,
  VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
  VFIO_PCI_NUM_IRQS,
  VFIO_LAYOUT as LAYOUT,
} from '../../shim/uapi/vfio.js';

/** Named bounds the core applies to replies (assembly/vfio/bounds.ts, where the reasons are). */
export const MAX_REGIONS = 32;
/** Most IRQ indexes the core accepts in a device info reply. */
export const MAX_IRQ_INDEXES = 32;
/** Most vectors of one IRQ index (MSI-X's 2048). */
export const MAX_IRQS = 2048;
/** Most sparse mmap areas of one region. */
export const MAX_SPARSE_AREAS = 32;
/** Most IOVA ranges in a type1 or iommufd reply. */
export const MAX_IOVA_RANGES = 1024;
/** Largest IOVA alignment accepted from iommufd (256 KiB). */
export const MAX_IOVA_ALIGNMENT = 256 * 1024;

/** Status codes of the core's vfio module (assembly/vfio/status.ts). */
export const VFIO_NEED_ARGSZ = -200;
/** Core status: the reply buffer is shorter than the structure it must hold. */
export const VFIO_ERR_SHORT_BUFFER = -202;
