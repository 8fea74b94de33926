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
export { openDevice, allocDma, VfioDevice } from './device/device';
export type { OpenOptions, IommuOption, VfioDeviceInfo, VfioDeviceKind, DmaMapOptions, DmaMappingRecord } from './device/device';
export { DeviceRegion } from './device/region';
export type { RegionMap } from './device/region';
export { DeviceIrq, IrqRouting } from './device/irq';
export type { IrqRoutingOptions } from './device/irq';
export { DmaBuffer } from './device/dma';
export type { IommuKind } from './device/iommu';
