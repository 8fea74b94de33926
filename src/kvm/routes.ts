// KvmIrqRoutes: the GSI routing table of one VM (KVM_SET_GSI_ROUTING replaces the whole table, so
// one owner per VM keeps it): identity irqchip routes for the pins a VMM wires directly (platform
// devices, INTx), and the MSI routes that MSI/MSI-X irqfds inject through.
// Not responsible for: irqfds (the PCI passthrough wires them on the GSIs it gets here), the VM
// itself (the VMM owns its fd and closes it after this table).
import { VfioError } from '../errors.js';

/** Options of {@link KvmIrqRoutes}. */
export interface KvmIrqRoutesOptions {
  /** Identity irqchip routes kept for GSIs [0, irqchipPins) (on arm64, GSI n -> SPI n, as KVM's
   *  default table has them): irqfds on SPIs (platform devices, INTx) keep working once the table
   *  is replaced. */
  irqchipPins: number;
}

/** One MSI message as a KVM route carries it. */
export interface MsiRoute {
  /** The Message Address (64 bits). */
  address: bigint;
  /** The Message Data (32 bits). */
  data: number;
  /** The requester ID for a GICv3 ITS (KVM_MSI_VALID_DEVID): bus << 8 | dev << 3 | fn. */
  devid?: number;
}

/**
 * The GSI routing table of one VM (KVM_SET_GSI_ROUTING): irqchip routes for GSIs
 * [0, irqchipPins) and one GSI per MSI route added. Every change commits the whole table (or, in
 * {@link KvmIrqRoutes.batch}, once at the end). One per VM; hand it to every
 * {@link PciPassthrough} of that VM. close() forgets the table (the VM keeps its last one).
 *
 * @example
 * ```ts
 * import { KvmIrqRoutes } from 'vfiokit';
 *
 * declare const vmFd: number; // the VMM's KVM_CREATE_VM fd, with its vGIC created
 * const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 96 });
 * const gsi = routes.addMsi({ address: 0x0804_0040n, data: 33, devid: 0x18 }); // an ITS doorbell
 * routes.updateMsi(gsi, { address: 0x0804_0040n, data: 34, devid: 0x18 });
 * routes.signalMsi({ address: 0x0804_0040n, data: 34, devid: 0x18 });        // inject once now
 * routes.removeMsi(gsi);
 * routes.close();
 * ```
 */
export class KvmIrqRoutes {
  /** The VM fd the table belongs to (not owned). */
  readonly vmFd: number;
  /** GSIs [0, irqchipPins) are identity irqchip routes. */
  readonly irqchipPins: number;
  #commits = 0;

  /**
   * A table for the VM `vmFd` with the irqchip routes only (not committed until the first MSI
   * route is added).
   * @param vmFd - The VM fd (KVM_CREATE_VM); the VMM keeps owning it.
   * @param opts - `irqchipPins`: how many identity irqchip routes to keep.
   * @throws VfioError 'bad-argument'.
   */
  constructor(vmFd: number, opts: KvmIrqRoutesOptions) {
    this.vmFd = vmFd;
    this.irqchipPins = opts.irqchipPins;
  }

  /** How many times the table was committed (KVM_SET_GSI_ROUTING calls). */
  get commits(): number { return this.#commits; }

  /** A GSI of its own for an MSI route (allocated above the irqchip pins); the table is committed.
   * @throws VfioError 'bad-argument', 'closed', 'no-space', the errno kinds of KVM_SET_GSI_ROUTING. */
  addMsi(route: MsiRoute): number { void route; throw notYet('addMsi'); }

  /** Changes the MSI route of `gsi` (one from addMsi); the table is committed.
   * @throws VfioError 'bad-argument', 'closed', 'not-found', the errno kinds of KVM_SET_GSI_ROUTING. */
  updateMsi(gsi: number, route: MsiRoute): void { void gsi; void route; throw notYet('updateMsi'); }

  /** Removes the MSI route of `gsi` and frees the GSI; the table is committed.
   * @throws VfioError 'bad-argument', 'closed', 'not-found', the errno kinds of KVM_SET_GSI_ROUTING. */
  removeMsi(gsi: number): void { void gsi; throw notYet('removeMsi'); }

  /** Runs `f`; the changes it makes are committed with one KVM_SET_GSI_ROUTING at the end.
   * @throws VfioError 'bad-argument', 'closed', what `f` throws, the errno kinds of KVM_SET_GSI_ROUTING. */
  batch<T>(f: () => T): T { return f(); }

  /** KVM_SIGNAL_MSI: inject one message now (a pending vector delivered at unmask, userspace MSI).
   * @throws VfioError 'bad-argument', 'closed', the errno kinds of KVM_SIGNAL_MSI. */
  signalMsi(route: MsiRoute): void { void route; throw notYet('signalMsi'); }

  /** Forgets the table (the VM keeps the last one committed). Closing twice is harmless. */
  close(): void { /* skeleton */ }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }
}

function notYet(what: string): VfioError {
  return new VfioError({ kind: 'not-supported', message: `KvmIrqRoutes.${what} is not implemented yet` });
}
