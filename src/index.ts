// The public API of vfiokit. Everything a VMM imports comes from here; each line names the module
// that owns it. Internal modules (core/loader, the shim) are not re-exported.
export { VfioError } from './errors.js';
export type { VfioErrorKind, VfioErrorInit } from './errors.js';
export { listDevices, findDevice, groupMembers, bind, unbind, bindGroup, unbindGroup, validateDeviceName, VFIO_DRIVER } from './sysfs.js';
export type { Bus, DeviceEntry, BindResult, UnbindResult, GroupBindResult, SysfsOptions } from './sysfs.js';
export { Mapping } from './mapping.js';
export type { Width } from './mapping.js';
export { PlatformBus } from './placement.js';
export type { PlatformBusOptions, PlaceRegionOptions, PlacedRegion, PlacedIrq, BusInfo } from './placement.js';
export { guestNodeFor, hostNodeOfDevice } from './dtnode.js';
export type { GuestNodeRequest, GuestNode } from './dtnode.js';
export { guestOverlayFor } from './overlay.js';
export type { GuestOverlayRequest, GuestOverlay } from './overlay.js';
export { IrqMachine } from './irq/machine.js';
export { IrqDispatcher } from './irq/dispatcher.js';
export { IrqWaiter, IRQ_WAITER_MAX_EVENTS } from './irq/waiter.js';
export type { IrqFired } from './irq/waiter.js';
export { PciConfig, decodeBars, findCapabilities, msixHoles, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, ROM_INDEX } from './pci/config.js';
export type { Bar, BarKind, BarSlotKind, BarState, Capability, Capabilities, MsiCapability, MsixCapability, MsixHole, PciAction, PciConfigOptions, PciConfigStats, ForwardOptions } from './pci/config.js';
export {
  decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info,
  encodeIrqSet, encodeDmaMap, encodeDmaUnmap, encodeIoasMap, encodeIoasUnmap,
  queryWithArgsz, queryDeviceInfo, queryRegionInfo, queryIrqInfo, queryIommuType1Info, MAX_ARGSZ_RETRIES, MAX_REPLY_BYTES,
} from './vfio/index.js';
export * as vfioUapi from './vfio/uapi.js';
export type {
  DeviceInfo, DeviceApi, RegionInfo, SparseArea, IrqInfo, IommuType1Info, IovaRange, QueryOptions,
  IrqSetRequest, IrqSetAction, DmaMapRequest, DmaUnmapRequest, IoasMapRequest,
} from './vfio/index.js';
export { RegionTable } from './region/index.js';
export type { RegionSpec, RegionEntry, SplitRange, Hole, AccessResult, RegionCounters } from './region/index.js';
export { parseFdt, Fdt, FdtNode, FdtProperty, FdtBuilder, mergeFdt, fdtMaxPhandle } from './fdt/index.js';
export type { FdtRegEntry, FdtReservation, FdtBuilderOptions } from './fdt/index.js';
export { openDevice, allocDma, VfioDevice } from './device/device.js';
export type { OpenOptions, IommuOption, VfioDeviceInfo, VfioDeviceKind, DmaMapOptions, DmaMappingRecord } from './device/device.js';
export { DeviceRegion } from './device/region.js';
export type { RegionMap } from './device/region.js';
export { DeviceIrq, IrqRouting } from './device/irq.js';
export type { IrqRoutingOptions } from './device/irq.js';
export { DmaBuffer, hugePageSize } from './device/dma.js';
export type { DmaBacking } from './device/dma.js';
export type { IommuKind, DmaInfo } from './device/iommu.js';
