// ioctl request numbers and the uapi constants that go with them, under their uapi names: the
// shim's view of shim/uapi/ (one home per subsystem: vfio.ts, iommufd.ts, kvm.ts, with the _IOC
// helpers in ioc.ts), and the tables the pinning test and error messages read.
// Not responsible for: struct layouts (shim/uapi/ has them), calling anything.
export { IOC_NONE, IOC_WRITE, IOC_READ, _IOC, _IO, _IOR, _IOW, _IOWR } from './uapi/ioc.js';
export {
  VFIO_API_VERSION, VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, VFIO_TYPE, VFIO_BASE,
  VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER, VFIO_GROUP_GET_DEVICE_FD, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO,
  VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_ACTION_MASK,
  VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_ACTION_TRIGGER,
} from './uapi/vfio.js';
export {
  IOMMUFD_TYPE, IOMMUFD_CMD_BASE, IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP, IOMMU_IOAS_MAP_FIXED_IOVA, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP_READABLE,
} from './uapi/iommufd.js';
export * from './uapi/kvm.js';
import * as V from './uapi/vfio.js';
import * as I from './uapi/iommufd.js';
import * as K from './uapi/kvm.js';

const pick = (from: object, names: string[]): Record<string, number> =>
  Object.fromEntries(names.map((n) => [n, (from as Record<string, number>)[n]!]));

/** Every request number above by uapi name: the pinning test and error messages read it. */
export const IOCTL_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  ...pick(V, [
    'VFIO_GET_API_VERSION', 'VFIO_CHECK_EXTENSION', 'VFIO_SET_IOMMU', 'VFIO_GROUP_GET_STATUS',
    'VFIO_GROUP_SET_CONTAINER', 'VFIO_GROUP_UNSET_CONTAINER', 'VFIO_GROUP_GET_DEVICE_FD', 'VFIO_DEVICE_GET_INFO',
    'VFIO_DEVICE_GET_REGION_INFO', 'VFIO_DEVICE_GET_IRQ_INFO', 'VFIO_DEVICE_SET_IRQS', 'VFIO_DEVICE_RESET',
    'VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA', 'VFIO_DEVICE_BIND_IOMMUFD',
    'VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'VFIO_DEVICE_DETACH_IOMMUFD_PT',
  ]),
  ...pick(I, [
    'IOMMU_DESTROY', 'IOMMU_IOAS_ALLOC', 'IOMMU_IOAS_IOVA_RANGES', 'IOMMU_IOAS_MAP', 'IOMMU_IOAS_UNMAP',
  ]),
  ...pick(K, [
    'KVM_GET_API_VERSION', 'KVM_CREATE_VM', 'KVM_CHECK_EXTENSION', 'KVM_GET_VCPU_MMAP_SIZE', 'KVM_CREATE_VCPU',
    'KVM_SET_USER_MEMORY_REGION', 'KVM_IRQ_LINE', 'KVM_IRQFD', 'KVM_RUN', 'KVM_GET_ONE_REG', 'KVM_SET_ONE_REG',
    'KVM_ARM_VCPU_INIT', 'KVM_ARM_PREFERRED_TARGET', 'KVM_CREATE_DEVICE', 'KVM_SET_DEVICE_ATTR', 'KVM_SET_GSI_ROUTING',
    'KVM_SIGNAL_MSI', 'KVM_ENABLE_CAP', 'KVM_SET_VCPU_EVENTS',
  ]),
});

/** The uapi constants beside them (values the kernel reads or returns), pinned the same way. */
export const UAPI_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  ...pick(V, [
    'VFIO_API_VERSION', 'VFIO_TYPE1_IOMMU', 'VFIO_TYPE1v2_IOMMU', 'VFIO_NOIOMMU_IOMMU', 'VFIO_GROUP_FLAGS_VIABLE',
    'VFIO_GROUP_FLAGS_CONTAINER_SET', 'VFIO_DMA_MAP_FLAG_READ', 'VFIO_DMA_MAP_FLAG_WRITE', 'VFIO_IRQ_SET_DATA_NONE',
    'VFIO_IRQ_SET_DATA_BOOL', 'VFIO_IRQ_SET_DATA_EVENTFD', 'VFIO_IRQ_SET_ACTION_MASK', 'VFIO_IRQ_SET_ACTION_UNMASK',
    'VFIO_IRQ_SET_ACTION_TRIGGER',
  ]),
  ...pick(I, [
    'IOMMU_IOAS_MAP_FIXED_IOVA', 'IOMMU_IOAS_MAP_WRITEABLE', 'IOMMU_IOAS_MAP_READABLE',
  ]),
  ...pick(K, [
    'KVM_API_VERSION', 'KVM_CAP_IRQFD', 'KVM_CAP_IRQFD_RESAMPLE', 'KVM_CAP_DEVICE_CTRL', 'KVM_DEV_TYPE_VFIO',
    'KVM_DEV_VFIO_FILE', 'KVM_DEV_VFIO_FILE_ADD', 'KVM_DEV_VFIO_FILE_DEL', 'KVM_IRQFD_FLAG_DEASSIGN',
    'KVM_IRQFD_FLAG_RESAMPLE', 'KVM_CREATE_DEVICE_TEST', 'KVM_CAP_IRQ_ROUTING', 'KVM_CAP_SIGNAL_MSI', 'KVM_CAP_MSI_DEVID',
    'KVM_IRQ_ROUTING_IRQCHIP', 'KVM_IRQ_ROUTING_MSI', 'KVM_MSI_VALID_DEVID', 'KVM_CAP_ARM_NISV_TO_USER', 'KVM_CAP_ARM_INJECT_EXT_DABT',
  ]),
});

/** Request number -> uapi name, for messages ("ioctl(VFIO_GROUP_GET_STATUS)"). Numbers shared by
 *  two names do not occur among the above (pinned by the test). */
export function ioctlName(request: number): string {
  for (const [name, value] of Object.entries(IOCTL_NUMBERS)) if (value === request) return name;
  return `0x${request.toString(16)}`;
}
