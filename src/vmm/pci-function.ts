// One PCI function handed to the guest with vfiokit's public API, as a VMM embeds it: openDevice,
// guest RAM mapped for the device's DMA at IOVA = guest physical address (mapDma with the RAM's
// host address), and a PciPassthrough (dev.pci) placed on the VMM's ECAM host bridge. The
// passthrough decides; this file carries out what it hands the VMM:
//   - mapMemory / unmapMemory: a KVM memslot per mappable BAR piece, through the VM's BarSlots
//     (one registry for every function: a piece the guest placed outside the window or over another
//     BAR is refused and counted there, not handed to KVM);
//   - MSI/MSI-X: irqfds on MSI routes in the VM's KvmIrqRoutes, devid = the requester ID at which
//     the guest enumerates the function (the tree's msi-map is the identity, so it is the ITS's
//     DeviceID);
//   - INTx: irqfd + resample on the SPI the tree's interrupt-map gives the function's pin.
// Trapped BAR accesses (the MSI-X table and PBA, anything not mappable) come here from the VMM's
// MMIO exit handler and are counted apart: MSI-X ones and the rest.
// Close order (close()): the passthrough (its irqfds deassigned while the VM fd is open, its slots
// removed while the VM is open), then, after the VM is closed (its KVM-VFIO device lets go of the
// device's file), the device (the DMA mapping of guest RAM, regions, fds): closeDevice().
// Guest RAM for the device's DMA is the caller's (attach.ts maps it once per IOMMU space).
// Not responsible for: the VM and its routing table (run.ts owns them), config decoding (pci.ts),
// the passthrough's own decisions (vfiokit).
import { VFIO_PCI_CONFIG_REGION_INDEX, type GuestMemorySlot, type KvmIrqRoutes, type PciPassthrough, type PciPassthroughStats, type VfioDevice } from '../index.js';
import type { BarSlots } from './bar-slots.js';
import type { Vm } from './kvm.js';
import { intxSpi, PCI_INTERRUPT_PIN, requesterId, type EcamHost } from './ecam.js';

export interface PciFunctionOptions {
  /** The host's name of the function (a PCI address, e.g. "0000:00:03.0"), bound to vfio-pci. */
  device: string;
  /** Where the guest enumerates it on the VMM's host bridge. */
  at: { bus: number; dev: number; fn: number };
  vm: Vm;
  routes: KvmIrqRoutes;
  ecam: EcamHost;
  /** The VM's BAR memslots (shared by every function of the VM). */
  slots: BarSlots;
  /** SPIs of INTA..INTD (the tree's interrupt-map). */
  intxSpis: readonly number[];
  /** KVM irqfds (default true); false: userspace delivery (KVM_SIGNAL_MSI, KVM_IRQ_LINE) from
   *  vfiokit's eventfd watchers on the event loop. */
  irqfd?: boolean;
  /** Each error the passthrough reports (PciPassthroughOptions.onError); default its thinned console.error. */
  onError?(error: unknown): void;
}

/** What the guest's accesses cost the VMM, by kind, on top of the passthrough's own counters. */
export interface PciFunctionCounts {
  /** MMIO exits inside the function's BARs that were MSI-X table/PBA accesses. */
  msixExits: number;
  /** MMIO exits inside the BARs that were not (other trapped parts). */
  barExits: number;
  /** Memory slots installed. */
  slotsMapped: number;
  /** Memory slots removed. */
  slotsRemoved: number;
  /** The most slots installed at once. */
  slotsMax: number;
  /** BAR pieces the VM's BarSlots refused (placed outside the window or over another BAR). */
  slotsRefused: number;
}

export class PciFunction {
  readonly name: string;
  readonly at: { bus: number; dev: number; fn: number };
  /** The requester ID the guest's MSIs carry, and the ITS DeviceID (msi-map is the identity). */
  readonly devid: number;
  /** The SPI (= GSI) of the function's INTx pin; undefined when it has no pin. */
  readonly intxGsi: number | undefined;
  readonly dev: VfioDevice;
  readonly pci: PciPassthrough;
  readonly counts: PciFunctionCounts = { msixExits: 0, barExits: 0, slotsMapped: 0, slotsRemoved: 0, slotsMax: 0, slotsRefused: 0 };
  /** BAR pieces of this function installed now. */
  #installed = 0;
  #closed = false;

  private constructor(dev: VfioDevice, opts: PciFunctionOptions) {
    this.dev = dev;
    this.name = dev.name;
    this.at = opts.at;
    this.devid = requesterId(opts.at.bus, opts.at.dev, opts.at.fn);
    // The pin as the device reports it (read-only in config space): which interrupt-map SPI it lands on.
    const pin = Number(dev.regions[VFIO_PCI_CONFIG_REGION_INDEX]!.read(PCI_INTERRUPT_PIN, 1));
    this.intxGsi = intxSpi(pin, opts.intxSpis);
    const vm = opts.vm;
    const intxGsi = this.intxGsi;
    this.pci = dev.pci({
      mapMemory: (s) => this.#map(opts.slots, s),
      unmapMemory: (s) => this.#unmap(opts.slots, s),
      ...(opts.irqfd ?? true
        ? { kvm: { vmFd: vm.fd, routes: opts.routes, devid: this.devid, ...(intxGsi === undefined ? {} : { intxGsi }) } }
        : { deliverMsi: (address: bigint, data: number) => vm.signalMsi(address, data, this.devid), ...(intxGsi === undefined ? {} : { setIntx: (level: boolean) => vm.irqLine(intxGsi, level) }) }),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    opts.ecam.attach(opts.at, this.pci);
  }

  /** Hands a device the caller opened (and closes, with closeDevice(), also on failure) to the
   *  guest at `opts.at`, its file added to KVM's VFIO device. The VM must be ready (vGIC
   *  initialised: INTx gets its irqfd now) and `routes` committed after that; guest RAM for its DMA
   *  is the caller's to map. */
  static attach(dev: VfioDevice, opts: PciFunctionOptions): PciFunction {
    opts.vm.addVfioFile(dev.kvmVfioFile);
    return new PciFunction(dev, opts);
  }

  #map(slots: BarSlots, s: GuestMemorySlot): void {
    if (!slots.map(s)) { this.counts.slotsRefused++; return; }
    this.#installed++;
    this.counts.slotsMapped++;
    this.counts.slotsMax = Math.max(this.counts.slotsMax, this.#installed);
  }
  #unmap(slots: BarSlots, s: GuestMemorySlot): void {
    if (!slots.unmap(s)) return;   // a piece BarSlots refused: never installed
    this.#installed--;
    this.counts.slotsRemoved++;
  }
  /** Memory slots installed now. */
  get slotsInstalled(): number { return this.#installed; }

  /** One MMIO exit: the function's when the guest placed and enabled a BAR there. A read answers
   *  `reply`; `msix` says whether the access was to the MSI-X table or PBA. */
  mmio(gpa: bigint, len: number, isWrite: boolean, data: bigint): { handled: boolean; reply?: bigint; msix?: boolean } {
    if (!this.pci.claims(gpa)) return { handled: false };
    const before = this.pci.stats().msixAccesses;
    let reply: bigint | undefined;
    if (isWrite) this.pci.mmioWrite(gpa, len, data); else reply = this.pci.mmioRead(gpa, len);
    const msix = this.pci.stats().msixAccesses !== before;
    if (msix) this.counts.msixExits++; else this.counts.barExits++;
    return { handled: true, ...(reply === undefined ? {} : { reply }), msix };
  }

  stats(): PciPassthroughStats { return this.pci.stats(); }

  /** The passthrough: irqfds deassigned, memslots removed (the VM must still be open). Twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.pci.close();
  }
  /** The device itself, after the VM is closed: the DMA mapping of guest RAM, regions, fds. */
  closeDevice(): void { this.close(); this.dev.close(); }
}
