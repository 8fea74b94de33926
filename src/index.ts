// The public API of vfiokit. Everything a VMM imports comes from here; each line names the module
// that owns it. Internal modules (core/loader, the shim) are not re-exported.
export { VfioError } from './errors';
export type { VfioErrorKind, VfioErrorInit } from './errors';
export { listDevices, findDevice, groupMembers, bind, unbind, validateDeviceName, VFIO_DRIVER } from './sysfs';
export type { Bus, DeviceEntry, BindResult, UnbindResult, SysfsOptions } from './sysfs';
export { Mapping } from './mapping';
export type { Width } from './mapping';
export { PlatformBus } from './placement';
export type { PlatformBusOptions, PlaceRegionOptions, PlacedRegion, PlacedIrq, BusInfo } from './placement';
export { guestNodeFor, hostNodeOfDevice } from './dtnode';
export type { GuestNodeRequest, GuestNode } from './dtnode';
export { IrqMachine } from './irq/machine';
export { IrqDispatcher } from './irq/dispatcher';
export { IrqWaiter, IRQ_WAITER_MAX_EVENTS } from './irq/waiter';
export type { IrqFired } from './irq/waiter';
export { PciConfig, decodeBars, findCapabilities, msixHoles, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, ROM_INDEX } from './pci/config';
export type { Bar, BarKind, BarSlotKind, BarState, Capability, Capabilities, MsiCapability, MsixCapability, MsixHole, PciAction, PciConfigOptions, PciConfigStats, ForwardOptions } from './pci/config';
export {
  decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info,
  encodeIrqSet, encodeDmaMap, encodeDmaUnmap, encodeIoasMap, encodeIoasUnmap,
  queryWithArgsz, queryDeviceInfo, queryRegionInfo, queryIrqInfo, queryIommuType1Info, MAX_ARGSZ_RETRIES, MAX_REPLY_BYTES,
} from './vfio/index';
export * as vfioUapi from './vfio/uapi';
export type {
  DeviceInfo, DeviceApi, RegionInfo, SparseArea, IrqInfo, IommuType1Info, IovaRange, QueryOptions,
  IrqSetRequest, IrqSetAction, DmaMapRequest, DmaUnmapRequest, IoasMapRequest,
} from './vfio/index';
export { RegionTable } from './region/index';
export type { RegionSpec, RegionEntry, SplitRange, Hole, AccessResult, RegionCounters } from './region/index';
export { parseFdt, Fdt, FdtNode, FdtProperty, FdtBuilder, mergeFdt, fdtMaxPhandle } from './fdt/index';
export type { FdtRegEntry, FdtReservation, FdtBuilderOptions } from './fdt/index';
export { openDevice, allocDma, VfioDevice } from './device/device';
export type { OpenOptions, IommuOption, VfioDeviceInfo, VfioDeviceKind, DmaMapOptions, DmaMappingRecord } from './device/device';
export { DeviceRegion } from './device/region';
export type { RegionMap } from './device/region';
export { DeviceIrq, IrqRouting } from './device/irq';
export type { IrqRoutingOptions } from './device/irq';
export { DmaBuffer, hugePageSize } from './device/dma';
export type { DmaBacking } from './device/dma';
export type { IommuKind, DmaInfo } from './device/iommu';
