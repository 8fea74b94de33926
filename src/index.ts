// The public API of vfiokit (`import ... from 'vfiokit'`): what a VMM needs to take a host device
// through VFIO. Discovery and binding (sysfs), opening a device and its regions, IRQs and DMA,
// the PCI config-space emulation, a platform/AMBA device passed through to a guest (placement,
// memory slots, IRQs and its node in one object), placement on a guest platform bus, the guest's device-tree node,
// device trees, and the one error class. Each line names the module that owns it.
// The core's low-level wrappers (kernel-reply decoders, request encoders, the uapi tables, the
// region table, the IRQ machine on its own) are `vfiokit/core` (src/core-api.ts); the system calls
// a VMM makes on its own fds are `vfiokit/sys` (src/sys-api.ts). docs/API.md says why.
// test/unit/api/exports.test.ts pins every name below: a change to this list is a change to the API.
export { VfioError } from './errors.js';
export type { VfioErrorKind, VfioErrorInit } from './errors.js';
export { listDevices, findDevice, groupMembers, bind, unbind, bindGroup, unbindGroup, validateDeviceName, VFIO_DRIVER } from './sysfs.js';
export type { Bus, DeviceEntry, BindResult, UnbindResult, UnbindOptions, GroupBindResult, SysfsOptions } from './sysfs.js';
export { openDevice, allocDma, VfioDevice } from './device/device.js';
export type { OpenOptions, AllocDmaOptions, IommuOption, VfioDeviceInfo, VfioDeviceKind, DmaMapOptions, DmaMappingRecord } from './device/device.js';
export type { IommuKind, DmaInfo } from './device/iommu.js';
export { DeviceRegion } from './device/region.js';
export type { RegionMap } from './device/region.js';
export { Mapping } from './mapping.js';
export type { Width, MappingSys } from './mapping.js';
export { PlatformPassthrough } from './device/platform-passthrough.js';
export type { PlatformPassthroughOptions, PlatformMemorySlot, PlatformPlacement, PlatformPlacementOptions, PlatformNodeOptions, PlacedPlatformRegion, PlacedPlatformIrq, PlatformPassthroughStats } from './device/platform-passthrough.js';
export { DeviceIrq, IrqRouting } from './device/irq.js';
export type { IrqRoutingOptions, TriggerEventfdOptions } from './device/irq.js';
export type { IrqAction, IrqActionKind } from './core/irq-machine.js';
export { IrqWaiter, IRQ_WAITER_MAX_EVENTS } from './eventfd/waiter.js';
export type { IrqFired, IrqWaiterOptions } from './eventfd/waiter.js';
export { IrqReader, IRQ_READER_WAKE_UNIT } from './eventfd/reader.js';
export type { IrqReaderOptions } from './eventfd/reader.js';
export { REPORT_BURST, ReportThinner, reportNote, reportShown } from './reports.js';
export type { IrqHandler } from './eventfd/dispatcher.js';
export { DmaBuffer, hugePageSize } from './device/dma.js';
export type { DmaBacking } from './device/dma.js';
export {
  VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_VGA_REGION_INDEX,
  VFIO_PCI_INTX_IRQ_INDEX, VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX, VFIO_PCI_ERR_IRQ_INDEX, VFIO_PCI_REQ_IRQ_INDEX,
} from './vfio/uapi.js';
export { PciConfig } from './core/pci.js';
export type { Bar, BarKind, BarSlotKind, BarState, Capability, Capabilities, MsiCapability, MsixCapability, MsixHole, PciAction, PciConfigOptions, PciConfigStats, ForwardOptions } from './core/pci.js';
export { PciMsix } from './core/msix.js';
export type { MsixAction, MsixPart, MsixStats, MsixVectorState } from './core/msix.js';
export { PciPassthrough } from './pci/passthrough.js';
export type { GuestMemorySlot, PciKvmOptions, PciPassthroughOptions, PciPassthroughStats } from './pci/passthrough.js';
export { KvmIrqRoutes } from './kvm/routes.js';
export type { KvmIrqRoutesOptions, MsiRoute } from './kvm/routes.js';
export { PlatformBus } from './core/placement.js';
export type { PlatformBusOptions, PlaceRegionOptions, PlacedRegion, PlacedIrq, BusInfo, DeviceHandle } from './core/placement.js';
export { guestNodeFor, hostNodeOfDevice } from './core/dtnode.js';
export type { GuestNodeRequest, GuestNode } from './core/dtnode.js';
export { guestOverlayFor } from './overlay.js';
export type { GuestOverlayRequest, GuestOverlay } from './overlay.js';
export { parseFdt, Fdt, FdtNode, FdtProperty, FdtBuilder, mergeFdt, fdtMaxPhandle } from './fdt/index.js';
export type { FdtRegEntry, FdtReservation, FdtBuilderOptions } from './fdt/index.js';
