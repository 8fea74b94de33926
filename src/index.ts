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
export { PciConfig, decodeBars, findCapabilities, msixHoles, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX, ROM_INDEX } from './pci/config';
export type { Bar, BarKind, BarSlotKind, BarState, Capability, Capabilities, MsiCapability, MsixCapability, MsixHole, PciAction, PciConfigOptions, PciConfigStats, ForwardOptions } from './pci/config';
