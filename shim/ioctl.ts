// ioctl request numbers and the uapi constants that go with them, under their uapi names.
// The numbers are computed with the _IOC helpers of include/uapi/asm-generic/ioctl.h, which both
// x86_64 (the build host) and arm64 (the lab guest) use: 8 bits nr, 8 bits type, 14 bits size,
// 2 bits direction (_IOC_WRITE = 1, _IOC_READ = 2). A number can still differ between the two
// only through the size of the struct it names: every struct named below has the same layout on
// both (fixed-width fields, natural alignment), and test/unit/shim/ioctl-numbers.test.ts pins
// every value against a C program compiled with the kernel's uapi headers for both targets.
// Not responsible for: struct layouts (the core encodes and decodes them) nor calling anything.

const IOC_NRBITS = 8, IOC_TYPEBITS = 8, IOC_SIZEBITS = 14;
const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;      // 8
const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;  // 16
const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;   // 30
export const IOC_NONE = 0, IOC_WRITE = 1, IOC_READ = 2;

/** _IOC(dir, type, nr, size). Computed with multiplication, not `<<`: dir << 30 overflows a JS
 *  int32 into a negative number, and the request is an unsigned long. Throws RangeError for a
 *  field that does not fit (a bug in this file, never input). */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (dir < 0 || dir > 3 || type < 0 || type > 0xff || nr < 0 || nr > 0xff || size < 0 || size >= 1 << IOC_SIZEBITS) {
    throw new RangeError(`_IOC(${dir}, ${type}, ${nr}, ${size}): a field does not fit`);
  }
  return dir * 2 ** IOC_DIRSHIFT + size * 2 ** IOC_SIZESHIFT + type * 2 ** IOC_TYPESHIFT + nr * 2 ** IOC_NRSHIFT;
}
/** The kernel's _IO(type, nr): an ioctl number with no size and no direction (every VFIO ioctl is one: its struct carries argsz). */
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
export const _IOWR = (type: number, nr: number, size: number): number => _IOC(IOC_READ | IOC_WRITE, type, nr, size);

// ---- VFIO (include/uapi/linux/vfio.h). Every VFIO ioctl is _IO: the struct carries its own argsz.
export const VFIO_API_VERSION = 0;
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;
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

export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

// ---- iommufd (include/uapi/linux/iommufd.h): the same type ';', commands from 0x80.
export const IOMMUFD_TYPE = 0x3b; // ';'
export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMU_DESTROY = _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 0);
export const IOMMU_IOAS_ALLOC = _IO(IOMMUFD_TYPE, 0x81);
export const IOMMU_IOAS_IOVA_RANGES = _IO(IOMMUFD_TYPE, 0x84);
export const IOMMU_IOAS_MAP = _IO(IOMMUFD_TYPE, 0x85);
export const IOMMU_IOAS_UNMAP = _IO(IOMMUFD_TYPE, 0x86);
export const IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0;
export const IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
export const IOMMU_IOAS_MAP_READABLE = 1 << 2;

// ---- KVM (include/uapi/linux/kvm.h, arch/arm64/include/uapi/asm/kvm.h). KVMIO = 0xAE.
// Struct sizes, identical on x86_64 and arm64 (fixed-width fields only):
export const SIZEOF_KVM_IRQFD = 32;                       // u32 fd, gsi, flags, resamplefd; u8 pad[16]
export const SIZEOF_KVM_CREATE_DEVICE = 12;               // u32 type, fd, flags
export const SIZEOF_KVM_DEVICE_ATTR = 24;                 // u32 flags, group; u64 attr, addr
export const SIZEOF_KVM_USERSPACE_MEMORY_REGION = 32;     // u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr
export const SIZEOF_KVM_VCPU_INIT = 32;                   // u32 target; u32 features[7] (arm64 only)
export const SIZEOF_KVM_ONE_REG = 16;                     // u64 id, addr
export const SIZEOF_KVM_IRQ_LEVEL = 8;                    // union { u32 irq; s32 status }; u32 level
export const KVMIO = 0xae;
export const KVM_API_VERSION = 12;
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION);
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, SIZEOF_KVM_IRQ_LEVEL);
export const KVM_IRQFD = _IOW(KVMIO, 0x76, SIZEOF_KVM_IRQFD);
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, SIZEOF_KVM_ONE_REG);
export const KVM_SET_ONE_REG = _IOW(KVMIO, 0xac, SIZEOF_KVM_ONE_REG);
export const KVM_ARM_VCPU_INIT = _IOW(KVMIO, 0xae, SIZEOF_KVM_VCPU_INIT);
export const KVM_ARM_PREFERRED_TARGET = _IOR(KVMIO, 0xaf, SIZEOF_KVM_VCPU_INIT);
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, SIZEOF_KVM_CREATE_DEVICE);
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, SIZEOF_KVM_DEVICE_ATTR);

export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_DEVICE_CTRL = 89;
export const KVM_DEV_TYPE_VFIO = 4;       // enum kvm_device_type
export const KVM_DEV_VFIO_FILE = 1;       // attribute group; before 6.6 named KVM_DEV_VFIO_GROUP
export const KVM_DEV_VFIO_FILE_ADD = 1;   // before 6.6 named KVM_DEV_VFIO_GROUP_ADD (same value)
export const KVM_DEV_VFIO_FILE_DEL = 2;
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;
export const KVM_CREATE_DEVICE_TEST = 1;

/** Every request number above by uapi name: the pinning test and error messages read it. */
export const IOCTL_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT,
  IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP,
  KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, KVM_CREATE_VCPU,
  KVM_SET_USER_MEMORY_REGION, KVM_IRQ_LINE, KVM_IRQFD, KVM_RUN, KVM_GET_ONE_REG, KVM_SET_ONE_REG,
  KVM_ARM_VCPU_INIT, KVM_ARM_PREFERRED_TARGET, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR,
});

/** The uapi constants beside them (values the kernel reads or returns), pinned the same way. */
export const UAPI_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  VFIO_API_VERSION, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE, VFIO_IRQ_SET_DATA_NONE,
  VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_ACTION_TRIGGER, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP_READABLE,
  KVM_API_VERSION, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE, KVM_CAP_DEVICE_CTRL, KVM_DEV_TYPE_VFIO,
  KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL, KVM_IRQFD_FLAG_DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE, KVM_CREATE_DEVICE_TEST,
});

/** Request number -> uapi name, for messages ("ioctl(VFIO_GROUP_GET_STATUS)"). Numbers shared by
 *  two names do not occur among the above (pinned by the test). */
export function ioctlName(request: number): string {
  for (const [name, value] of Object.entries(IOCTL_NUMBERS)) if (value === request) return name;
  return `0x${request.toString(16)}`;
}
