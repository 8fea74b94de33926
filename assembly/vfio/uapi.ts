// Flag bits of include/uapi/linux/vfio.h that more than one core module reads, defined once for
// the core (src/vfio/uapi.ts holds the same values for the TypeScript side).

// struct vfio_region_info.flags
export const VFIO_REGION_INFO_FLAG_READ: u32 = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE: u32 = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP: u32 = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS: u32 = 1 << 3;

// struct vfio_irq_info.flags
export const VFIO_IRQ_INFO_EVENTFD: u32 = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE: u32 = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED: u32 = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE: u32 = 1 << 3;
