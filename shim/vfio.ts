// One function per VFIO ioctl (include/uapi/linux/vfio.h) over the checked layer. Struct
// arguments are caller-built Uint8Array buffers (argsz first, as the uapi requires) that the
// kernel reads and fills in place; integer arguments pass by value. Each function returns what
// the kernel returns: 0, a count, or a new fd. Failures throw VfioError (see sys.ts); a struct
// whose argsz exceeds its buffer is refused before the call (kind bad-argument).
// Not responsible for: struct layouts (the core's encoders/decoders), call order, fd ownership.
import { argszIoctl, type Sys } from './sys.js';
import { setU32 } from './bytes.js';
import {
  VFIO_CHECK_EXTENSION, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_DETACH_IOMMUFD_PT,
  VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS,
  VFIO_GET_API_VERSION, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA, VFIO_SET_IOMMU,
} from './ioctl.js';

/** Container fd: the VFIO API version (VFIO_API_VERSION = 0). */
export const getApiVersion = (sys: Sys, container: number): number =>
  sys.ioctl(container, VFIO_GET_API_VERSION, null, 'VFIO_GET_API_VERSION');
/** Container fd: > 0 when the IOMMU type (VFIO_TYPE1v2_IOMMU, VFIO_NOIOMMU_IOMMU, ...) is supported, 0 if not. */
export const checkExtension = (sys: Sys, container: number, extension: number): number =>
  sys.ioctlValue(container, VFIO_CHECK_EXTENSION, extension, 'VFIO_CHECK_EXTENSION');
/** Container fd: selects the IOMMU type (after a group was added). */
export const setIommu = (sys: Sys, container: number, type: number): number =>
  sys.ioctlValue(container, VFIO_SET_IOMMU, type, 'VFIO_SET_IOMMU');
/** Group fd: fills struct vfio_group_status {argsz, flags} (8 bytes). */
export const groupGetStatus = (sys: Sys, group: number, status: Uint8Array): number =>
  argszIoctl(sys, group, VFIO_GROUP_GET_STATUS, status, 'VFIO_GROUP_GET_STATUS');
/** The container fd SET_CONTAINER points at, reused (calls are synchronous and the kernel keeps
 *  nothing of it): a new small typed array is moved outside V8's heap the first time koffi passes it. */
const containerArg = new Uint8Array(4);
/** Group fd: adds the group to the container (the argument is a pointer to the container fd, an s32). */
export function groupSetContainer(sys: Sys, group: number, container: number): number {
  setU32(containerArg, 0, container);
  return sys.ioctl(group, VFIO_GROUP_SET_CONTAINER, containerArg, 'VFIO_GROUP_SET_CONTAINER');
}
/** Group fd: removes the group from its container. */
export const groupUnsetContainer = (sys: Sys, group: number): number =>
  sys.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, null, 'VFIO_GROUP_UNSET_CONTAINER');
/** The last device name GET_DEVICE_FD was given, NUL-terminated: a process opens the same few
 *  devices again and again (the kernel only reads the string). */
let lastName: { name: string; bytes: Uint8Array } | undefined;
/** Group fd: a new device fd for the device named `name` (e.g. "9010000.pl031", "0000:00:02.0"). */
export function groupGetDeviceFd(sys: Sys, group: number, name: string): number {
  if (lastName?.name !== name) lastName = { name, bytes: Buffer.from(`${name}\0`, 'utf8') };
  return sys.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, lastName.bytes, 'VFIO_GROUP_GET_DEVICE_FD');
}
/** Device fd: fills struct vfio_device_info (argsz, flags, num_regions, num_irqs, cap_offset, pad). */
export const deviceGetInfo = (sys: Sys, device: number, info: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_GET_INFO, info, 'VFIO_DEVICE_GET_INFO');
/** Device fd: fills struct vfio_region_info for the index in it (and its capability chain when argsz allows). */
export const deviceGetRegionInfo = (sys: Sys, device: number, info: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_GET_REGION_INFO, info, 'VFIO_DEVICE_GET_REGION_INFO');
/** Device fd: fills struct vfio_irq_info for the index in it. */
export const deviceGetIrqInfo = (sys: Sys, device: number, info: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_GET_IRQ_INFO, info, 'VFIO_DEVICE_GET_IRQ_INFO');
/** Device fd: struct vfio_irq_set followed by its data (eventfds as s32, or u8 bools). */
export const deviceSetIrqs = (sys: Sys, device: number, irqSet: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_SET_IRQS, irqSet, 'VFIO_DEVICE_SET_IRQS');
/** Device fd: resets the device. */
export const deviceReset = (sys: Sys, device: number): number =>
  sys.ioctl(device, VFIO_DEVICE_RESET, null, 'VFIO_DEVICE_RESET');
/** Container fd (type1): fills struct vfio_iommu_type1_info. */
export const iommuGetInfo = (sys: Sys, container: number, info: Uint8Array): number =>
  argszIoctl(sys, container, VFIO_IOMMU_GET_INFO, info, 'VFIO_IOMMU_GET_INFO');
/** Container fd (type1): struct vfio_iommu_type1_dma_map {argsz, flags, vaddr, iova, size} (32 bytes). */
export const iommuMapDma = (sys: Sys, container: number, map: Uint8Array): number =>
  argszIoctl(sys, container, VFIO_IOMMU_MAP_DMA, map, 'VFIO_IOMMU_MAP_DMA');
/** Container fd (type1): struct vfio_iommu_type1_dma_unmap {argsz, flags, iova, size} (24 bytes); the kernel writes back the size unmapped. */
export const iommuUnmapDma = (sys: Sys, container: number, unmap: Uint8Array): number =>
  argszIoctl(sys, container, VFIO_IOMMU_UNMAP_DMA, unmap, 'VFIO_IOMMU_UNMAP_DMA');
/** Device cdev fd (/dev/vfio/devices/vfioN): struct vfio_device_bind_iommufd; the kernel fills out_devid. */
export const deviceBindIommufd = (sys: Sys, device: number, bind: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_BIND_IOMMUFD, bind, 'VFIO_DEVICE_BIND_IOMMUFD');
/** Device cdev fd: struct vfio_device_attach_iommufd_pt {argsz, flags, pt_id}. */
export const deviceAttachIommufdPt = (sys: Sys, device: number, attach: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT');
/** Device cdev fd: struct vfio_device_detach_iommufd_pt {argsz, flags}. */
export const deviceDetachIommufdPt = (sys: Sys, device: number, detach: Uint8Array): number =>
  argszIoctl(sys, device, VFIO_DEVICE_DETACH_IOMMUFD_PT, detach, 'VFIO_DEVICE_DETACH_IOMMUFD_PT');
