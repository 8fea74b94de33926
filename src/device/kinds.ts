// What differs between the kinds of VFIO device, as one row of data per kind: the names of its
// region and IRQ indexes, whether vfio's REQ/ERR signalling indexes exist, which IRQ machine runs
// its lines and which lines the machine takes by default, and which composition room passes it
// through to a guest. Shared code (device.ts, irq.ts) reads the row; it never asks `kind === ...`.
// A new kind is a new row (and, for a guest, a new room), not a new branch.
// Not responsible for: deciding the kind (device.ts reads vfio_device_info.flags), the rooms
// themselves (platform-passthrough.ts; PCI's room), the IRQ machine's rules (the core).
import type { DeviceKind as MachineKind } from '../core/irq-machine.js';

/** The kind of device, from vfio_device_info.flags: VFIO_DEVICE_FLAGS_PCI, _AMBA, _PLATFORM, or 'other' (ccw, fsl-mc, ...). */
export type VfioDeviceKind = 'pci' | 'platform' | 'amba' | 'other';

/** The facts of one device kind that shared code needs. @internal */
export interface DeviceKindFacts {
  /** Names of the fixed region indexes (vfio-pci's VFIO_PCI_BAR0_REGION_INDEX ...); empty when the indexes are not fixed. */
  readonly regionNames: readonly string[];
  /** The name of an index past `regionNames`: this prefix and the index ("reg0", "region9"). */
  readonly regionPrefix: string;
  /** Names of the fixed IRQ indexes (vfio-pci's VFIO_PCI_INTX_IRQ_INDEX ...). */
  readonly irqNames: readonly string[];
  /** The name of an IRQ index past `irqNames`: this prefix and the index. */
  readonly irqPrefix: string;
  /** vfio-pci's REQ and ERR indexes (VFIO_PCI_REQ_IRQ_INDEX, VFIO_PCI_ERR_IRQ_INDEX) can exist: only vfio-pci has them. */
  readonly eventIrqs: boolean;
  /** The core IRQ machine's kind for routeIrqs(). */
  readonly machine: MachineKind;
  /** What routeIrqs() takes by default: 'intx' (index 0, switched on with the machine's INTx
   *  mode: MSI and MSI-X are vectors, not lines), or 'lines' (every index that can signal an
   *  eventfd, each a line of its own). */
  readonly routedLines: 'intx' | 'lines';
  /** The room that passes the device through to a guest ({@link VfioDevice.platform}, PCI's), or null for none. */
  readonly passthrough: 'pci' | 'platform' | null;
}

/** Names of vfio-pci's fixed region indexes (VFIO_PCI_BAR0_REGION_INDEX ...). */
export const PCI_REGION_NAMES = ['BAR0', 'BAR1', 'BAR2', 'BAR3', 'BAR4', 'BAR5', 'ROM', 'CONFIG', 'VGA'] as const;
/** Names of vfio-pci's IRQ indexes (VFIO_PCI_INTX_IRQ_INDEX ...). */
export const PCI_IRQ_NAMES = ['INTX', 'MSI', 'MSIX', 'ERR', 'REQ'] as const;

/** A platform or AMBA device: `reg` entries and interrupt lines, in the order of its DT node. */
const PLATFORM_LIKE = { regionNames: [], regionPrefix: 'reg', irqNames: [], irqPrefix: 'irq', eventIrqs: false, machine: 'platform', routedLines: 'lines' } as const;

/** One row per kind. @internal */
export const DEVICE_KINDS: Readonly<Record<VfioDeviceKind, DeviceKindFacts>> = {
  pci: { regionNames: PCI_REGION_NAMES, regionPrefix: 'region', irqNames: PCI_IRQ_NAMES, irqPrefix: 'irq', eventIrqs: true, machine: 'pci', routedLines: 'intx', passthrough: 'pci' },
  platform: { ...PLATFORM_LIKE, passthrough: 'platform' },
  amba: { ...PLATFORM_LIKE, passthrough: 'platform' },
  // ccw, fsl-mc, ...: named and routed as lines; no guest room yet.
  other: { ...PLATFORM_LIKE, passthrough: null },
};

/** The name of region `index` of a device of these facts. @internal */
export const regionName = (k: DeviceKindFacts, index: number): string => k.regionNames[index] ?? `${k.regionPrefix}${index}`;
/** The name of IRQ `index` of a device of these facts. @internal */
export const irqName = (k: DeviceKindFacts, index: number): string => k.irqNames[index] ?? `${k.irqPrefix}${index}`;
