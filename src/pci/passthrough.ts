// PciPassthrough: the composition room of a PCI function handed to a guest. The VMM's ECAM /
// config-space handler and its MMIO exit handler call it; it runs the guest's accesses through the
// core's decisions (PciConfig: the shadow config space and THE RULE of BAR mappings; PciMsix: the
// MSI-X table and PBA; IrqMachine: INTx/MSI/MSI-X modes) and carries out their actions with VFIO,
// KVM and the VMM's callbacks (memslots, userspace delivery).
// Not responsible for: the VM (its fd, memslot numbers, the interrupt controller: the VMM owns
// them), the GSI routing table (KvmIrqRoutes, one per VM), deciding anything the core decides.
import { VfioError } from '../errors.js';
import type { VfioDevice } from '../device/device.js';
import type { KvmIrqRoutes } from '../kvm/routes.js';

/** One guest memory slot of a BAR piece: `size` bytes of host memory at `hostAddress` (a mapping
 *  of the device's region) seen by the guest at `gpa`. */
export interface GuestMemorySlot {
  /** The BAR (0..5) the piece belongs to. */
  bar: number;
  /** The guest physical address of the piece. */
  gpa: bigint;
  /** Bytes in the piece (whole host pages). */
  size: bigint;
  /** The host virtual address of the piece (the device's mmap). */
  hostAddress: bigint;
}

/** KVM delivery of a {@link PciPassthrough}'s interrupts. */
export interface PciKvmOptions {
  /** The VM fd (irqfds are assigned on it). */
  vmFd: number;
  /** The VM's GSI routing table: MSI/MSI-X vectors get MSI routes there. */
  routes: KvmIrqRoutes;
  /** The function's requester ID as the guest's ITS sees it: bus << 8 | dev << 3 | fn. */
  devid: number;
  /** The GSI of the guest's INTx line (irqfd + resample); without it INTx goes through setIntx. */
  intxGsi?: number;
}

/** Options of {@link VfioDevice.pci}. */
export interface PciPassthroughOptions {
  /** Install `size` bytes of host memory at `hostAddress` as guest memory at `gpa` (a KVM memslot):
   *  called for each mappable, page-aligned piece of a memory BAR when the guest enables it
   *  (never for MSI-X table/PBA pages, whatever MSIX_MAPPABLE says). */
  mapMemory(slot: GuestMemorySlot): void;
  /** Remove a slot that mapMemory installed (BAR moved, decoding off, reset, close). */
  unmapMemory(slot: GuestMemorySlot): void;
  /** KVM delivery: MSI/MSI-X vectors as irqfds on MSI routes in `routes` (devid = the function's
   *  requester ID as the guest's ITS sees it: bus << 8 | dev << 3 | fn), INTx as irqfd + resample
   *  at `intxGsi`. Without `kvm`: userspace delivery through deliverMsi / setIntx. */
  kvm?: PciKvmOptions;
  /** Userspace MSI/MSI-X delivery (without `kvm`): inject the message `data` at `address`. */
  deliverMsi?(address: bigint, data: number): void;
  /** Userspace INTx (without `kvm.intxGsi`): set the guest's INTx line to `level`. */
  setIntx?(level: boolean): void;
  /** 'auto' (default): relocate the MSI-X table/PBA where the core says it shares a host page with
   *  registers; 'off': trap them where they are. */
  msixRelocation?: 'auto' | 'off';
  /** Errors while carrying out actions from an event callback (default console.error). */
  onError?(error: unknown): void;
}

/** The counters of a {@link PciPassthrough} ({@link PciPassthrough.stats}). */
export interface PciPassthroughStats {
  /** Guest config reads. */
  configReads: number;
  /** Guest config writes. */
  configWrites: number;
  /** Guest accesses to trapped BAR ranges that went to the device (region trap path). */
  barTraps: number;
  /** Guest accesses to the MSI-X table or PBA. */
  msixAccesses: number;
  /** Vectors the guest masked (the host stopped direct delivery). */
  vectorMasks: number;
  /** Vectors the guest unmasked (direct delivery again). */
  vectorUnmasks: number;
  /** KVM_IRQFD assigns. */
  irqfdAssigns: number;
  /** KVM_IRQFD deassigns. */
  irqfdDeassigns: number;
  /** VFIO trigger switches of one vector between its irqfd eventfd and its userspace eventfd. */
  triggerSwitches: number;
  /** MSI route updates (KvmIrqRoutes.updateMsi) after the guest rewrote a vector's address/data. */
  routeUpdates: number;
  /** mapMemory calls. */
  slotsMapped: number;
  /** unmapMemory calls. */
  slotsUnmapped: number;
}

/**
 * The composition room of a PCI function passed through to a guest ({@link VfioDevice.pci}).
 * The VMM's ECAM handler calls configRead/configWrite, its MMIO exit handler mmioRead/mmioWrite
 * for the trapped parts of the BARs; this object carries out what the core decides: BAR pieces
 * become memory slots (mapMemory/unmapMemory), MSI/MSI-X vectors become VFIO eventfds delivered by
 * KVM irqfds on MSI routes (or by deliverMsi), INTx an irqfd with resample (or setIntx).
 *
 * @example
 * ```ts
 * import { openDevice, KvmIrqRoutes } from 'vfiokit';
 *
 * declare const vmFd: number;
 * declare function addMemslot(gpa: bigint, size: bigint, host: bigint): void;
 * declare function removeMemslot(gpa: bigint): void;
 * const dev = openDevice('0000:00:03.0');
 * const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 96 });
 * const pci = dev.pci({
 *   mapMemory: (s) => addMemslot(s.gpa, s.size, s.hostAddress),
 *   unmapMemory: (s) => removeMemslot(s.gpa),
 *   kvm: { vmFd, routes, devid: 0x18, intxGsi: 36 },
 * });
 * // the VMM's ECAM handler and MMIO exit handler:
 * const id = pci.configRead(0x00, 4);
 * pci.configWrite(0x04, 2, 0x0006);
 * if (pci.claims(0x1000_0000n)) pci.mmioWrite(0x1000_0000n, 4, 1n);
 * console.log(id.toString(16), pci.stats().irqfdAssigns);
 * dev.close(); // closes pci first
 * routes.close();
 * ```
 */
export class PciPassthrough {
  /** The device passed through. */
  readonly device: VfioDevice;

  /** @internal use VfioDevice.pci() */
  static of(device: VfioDevice, opts: PciPassthroughOptions): PciPassthrough { return new PciPassthrough(device, opts); }

  private constructor(device: VfioDevice, opts: PciPassthroughOptions) {
    this.device = device;
    void opts;
    throw notYet('VfioDevice.pci');
  }

  /** The guest's config read (the VMM's ECAM handler): offset 0..4095, width 1/2/4. Never throws
   *  for what a guest can do (a bad access reads all-ones and is counted).
   * @throws VfioError 'closed', 'bad-argument' (not a number). */
  configRead(offset: number, width: number): number { void offset; void width; throw notYet('configRead'); }

  /** The guest's config write: offset 0..4095, width 1/2/4. Never throws for what a guest can do
   *  (a bad write is dropped and counted); the core's actions are carried out before it returns.
   * @throws VfioError 'closed', 'bad-argument' (not a number), the errors of carrying out an action. */
  configWrite(offset: number, width: number, value: number): void { void offset; void width; void value; throw notYet('configWrite'); }

  /** True when gpa lies inside one of the device's BARs as the guest placed and enabled them.
   * @throws VfioError 'closed', 'bad-argument'. */
  claims(gpa: bigint): boolean { void gpa; throw notYet('claims'); }

  /** A trapped guest read inside a placed BAR (MSI-X table/PBA, or any non-mappable part);
   *  undefined when gpa is not the device's.
   * @throws VfioError 'closed', 'bad-argument'. */
  mmioRead(gpa: bigint, width: number): bigint | undefined { void gpa; void width; throw notYet('mmioRead'); }

  /** A trapped guest write inside a placed BAR; false when gpa is not the device's.
   * @throws VfioError 'closed', 'bad-argument'. */
  mmioWrite(gpa: bigint, width: number, value: bigint): boolean { void gpa; void width; void value; throw notYet('mmioWrite'); }

  /** VFIO_DEVICE_RESET and the guest-visible state with it (slots unmapped, vectors torn down).
   * @throws VfioError 'closed', 'not-supported' (no reset), the errno kinds of the ioctl. */
  reset(): void { throw notYet('reset'); }

  /** The counters. @throws VfioError 'closed'. */
  stats(): PciPassthroughStats { throw notYet('stats'); }

  /** True once close() has run. */
  get closed(): boolean { return true; }

  /** Tears down in a fixed order (vectors, INTx, memory slots, mappings, shadow). Closing twice
   *  is harmless; the device's close() calls it first. */
  close(): void { /* skeleton */ }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}

function notYet(what: string): VfioError {
  return new VfioError({ kind: 'not-supported', message: `${what} is not implemented yet` });
}
