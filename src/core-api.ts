// `vfiokit/core`: the core's low-level wrappers, for hosts that drive VFIO themselves or test
// against the kernel's structs: the kernel-reply decoders and request encoders, the argsz query
// protocol, the uapi numbers and layouts, the region table (map/trap split, guest access checks),
// the IRQ state machine on its own, and the PCI config-space helpers. The device API
// (`vfiokit`, src/index.ts) is built on these; a VMM that uses it needs none of them.
// test/unit/api/exports.test.ts pins every name below.
export {
  decodeDeviceInfo, decodeRegionInfo, decodeIrqInfo, decodeIommuType1Info,
  encodeIrqSet, encodeDmaMap, encodeDmaUnmap, encodeIoasMap, encodeIoasUnmap,
  queryWithArgsz, queryDeviceInfo, queryRegionInfo, queryIrqInfo, queryIommuType1Info, MAX_ARGSZ_RETRIES, MAX_REPLY_BYTES,
} from './vfio/index.js';
export type {
  DeviceInfo, DeviceApi, RegionInfo, SparseArea, IrqInfo, IommuType1Info, IovaRange, QueryOptions,
  IrqSetRequest, IrqSetAction, DmaMapRequest, DmaUnmapRequest, IoasMapRequest,
} from './vfio/index.js';
/** The VFIO uapi constants (include/uapi/linux/vfio.h) by their kernel names: ioctl numbers, flags, vfio-pci's fixed indexes, the core's bounds on replies. */
export * as vfioUapi from './vfio/uapi.js';
export { RegionTable } from './core/region.js';
export type { RegionSpec, RegionEntry, SplitRange, Hole, AccessResult, RegionCounters } from './core/region.js';
export { IrqMachine } from './core/irq-machine.js';
export type { DeviceKind, PciIrqMode, LineState, MachineState, LineInfo, MachineInfo } from './core/irq-machine.js';
export { decodeBars, findCapabilities, msixHoles, PCI_CAP_ID_MSI, PCI_CAP_ID_MSIX } from './core/pci.js';
export type { RegionQueryOptions } from './vfio/query.js';
export { msixRelocation, msixGuestView } from './core/msix.js';
export type { MsixRelocation, MsixShared, MsixGuestView } from './core/msix.js';
