// KvmIrqRoutes: the GSI routing table of one VM. KVM_SET_GSI_ROUTING replaces the whole table,
// so one owner per VM keeps it: identity irqchip routes for the pins a VMM wires directly
// (platform devices, INTx), and the MSI routes that MSI/MSI-X irqfds inject through.
// KVM re-resolves every irqfd's route when the table is replaced, so an irqfd stays assigned
// while its route changes (a guest rewriting a vector's address/data costs one table commit).
// Not responsible for: irqfds (the PCI passthrough assigns them on the GSIs it gets here), the VM
// itself (the VMM owns its fd and closes it after this table).
import { VfioError } from '../errors.js';
import type { Sys } from '../../shim/sys.js';
import * as kvm from '../../shim/kvm.js';
import { encodeKvmIrqRouting, encodeKvmMsi, KVM_CAP_IRQ_ROUTING, SIZEOF_KVM_MSI, type KvmIrqRoute } from '../../shim/uapi/kvm.js';
import { badArgument, checkBigU64, checkFd, checkFn, checkInt, checkObject } from '../../shim/args.js';
import { ctx, processSys } from '../device/context.js';

/** The most routes a table may hold and the bound of every GSI in it: KVM_MAX_IRQ_ROUTES, 4096 on
 *  arm64 and s390 (1024 elsewhere; the kernel's KVM_CAP_IRQ_ROUTING answer lowers it). */
export const MAX_GSI_ROUTES = 4096;

/** Options of {@link KvmIrqRoutes}. */
export interface KvmIrqRoutesOptions {
  /** Identity irqchip routes kept for GSIs [0, irqchipPins) (on arm64, GSI n -> SPI n, as KVM's
   *  default table has them): irqfds on SPIs (platform devices, INTx) keep working once the table
   *  is replaced. */
  irqchipPins: number;
  /** @internal The syscall layer (unit tests pass createSys(fakeLibc)); default: the real C library. */
  sys?: Sys;
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
 * The GSI routing table of one VM (KVM_SET_GSI_ROUTING): identity irqchip routes for GSIs
 * [0, irqchipPins) and one GSI per MSI route added, allocated above the pins. Every change
 * commits the whole table, or, inside {@link KvmIrqRoutes.batch}, once at the end. One per VM;
 * hand it to every {@link PciPassthrough} of that VM. close() forgets the table (the VM keeps the
 * last one committed, and goes with its fd). Syscalls: KVM_CHECK_EXTENSION at construction,
 * KVM_SET_GSI_ROUTING per commit, KVM_SIGNAL_MSI.
 *
 * @example
 * ```ts
 * import { KvmIrqRoutes } from 'vfiokit';
 *
 * declare const vmFd: number; // the VMM's KVM_CREATE_VM fd, with its vGIC and ITS created
 * const routes = new KvmIrqRoutes(vmFd, { irqchipPins: 96 });
 * const gsi = routes.addMsi({ address: 0x0808_0040n, data: 33, devid: 0x18 }); // the ITS doorbell
 * routes.updateMsi(gsi, { address: 0x0808_0040n, data: 34, devid: 0x18 });
 * routes.signalMsi({ address: 0x0808_0040n, data: 34, devid: 0x18 });        // inject once now
 * routes.removeMsi(gsi);
 * console.log(routes.commits); // 3
 * routes.close();
 * ```
 */
export class KvmIrqRoutes {
  /** The VM fd the table belongs to (not owned). */
  readonly vmFd: number;
  /** GSIs [0, irqchipPins) are identity irqchip routes. */
  readonly irqchipPins: number;
  /** The bound of GSIs: min(MAX_GSI_ROUTES, the kernel's KVM_CAP_IRQ_ROUTING answer). */
  readonly maxRoutes: number;
  #sys: Sys;
  #msi = new Map<number, MsiRoute>();
  #commits = 0;
  #depth = 0;
  #dirty = false;
  #closed = false;
  #msiBuf = new Uint8Array(SIZEOF_KVM_MSI);

  /**
   * A table for the VM `vmFd` with the irqchip routes only; nothing is committed until the first
   * MSI route is added (until then KVM's default table, the same irqchip routes, stands).
   * @param vmFd - The VM fd (KVM_CREATE_VM); the VMM keeps owning it.
   * @param opts - `irqchipPins`: how many identity irqchip routes to keep (0..maxRoutes).
   * @throws VfioError 'bad-argument', 'not-supported' (the kernel has no KVM_CAP_IRQ_ROUTING), the
   *   errno kinds of KVM_CHECK_EXTENSION.
   */
  constructor(vmFd: number, opts: KvmIrqRoutesOptions) {
    checkFd('vmFd', vmFd);
    checkObject('opts', opts);
    const pins = checkInt('opts.irqchipPins', opts.irqchipPins, 0, MAX_GSI_ROUTES);
    this.#sys = opts.sys ?? processSys();
    this.vmFd = vmFd;
    this.irqchipPins = pins;
    const cap = ctx(`VM fd ${this.vmFd}`, () => kvm.checkExtension(this.#sys, vmFd, KVM_CAP_IRQ_ROUTING), { message: 'cannot ask the VM for KVM_CAP_IRQ_ROUTING' });
    if (cap <= 0) throw new VfioError({ kind: 'not-supported', message: 'the VM has no GSI routing (KVM_CAP_IRQ_ROUTING is 0)', hint: 'create the in-kernel interrupt controller (on arm64 a vGICv3) before the routing table' });
    this.maxRoutes = Math.min(MAX_GSI_ROUTES, cap);
    if (pins > this.maxRoutes) badArgument('opts.irqchipPins', pins, `at most ${this.maxRoutes} (the VM's KVM_CAP_IRQ_ROUTING)`);
  }

  /** How many times the table was committed (KVM_SET_GSI_ROUTING calls). */
  get commits(): number { return this.#commits; }
  /** MSI routes in the table. */
  get msiRoutes(): number { return this.#msi.size; }
  /** True once close() has run. */
  get closed(): boolean { return this.#closed; }

  /** A GSI of its own for an MSI route (the lowest free one above the irqchip pins); the table is
   *  committed (or at the end of the enclosing batch).
   * @returns The GSI, for KVM_IRQFD.
   * @throws VfioError 'bad-argument', 'closed', 'no-space' (every GSI below maxRoutes taken), the
   *   errno kinds of KVM_SET_GSI_ROUTING (then the route is not kept).
   */
  addMsi(route: MsiRoute): number {
    this.#live();
    const r = checkRoute('route', route);
    let gsi = this.irqchipPins;
    while (this.#msi.has(gsi)) gsi++;
    if (gsi >= this.maxRoutes) throw new VfioError({ kind: 'no-space', message: `the VM's GSI routing table is full (${this.maxRoutes} routes)`, hint: 'remove MSI routes of vectors no longer used' });
    this.#msi.set(gsi, r);
    this.#change(() => this.#msi.delete(gsi));
    return gsi;
  }

  /** Changes the MSI route of `gsi` (one from addMsi); the table is committed. An irqfd on `gsi`
   *  stays assigned: KVM re-resolves it.
   * @throws VfioError 'bad-argument', 'closed', 'not-found' (not an MSI GSI of this table), the
   *   errno kinds of KVM_SET_GSI_ROUTING (then the old route is kept).
   */
  updateMsi(gsi: number, route: MsiRoute): void {
    this.#live();
    checkInt('gsi', gsi, 0, 0xffff_ffff);
    const r = checkRoute('route', route);
    const old = this.#get(gsi);
    this.#msi.set(gsi, r);
    this.#change(() => this.#msi.set(gsi, old));
  }

  /** Removes the MSI route of `gsi` and frees the GSI; the table is committed. Deassign the irqfd
   *  on it first (KVM would otherwise keep injecting the last route).
   * @throws VfioError 'bad-argument', 'closed', 'not-found', the errno kinds of KVM_SET_GSI_ROUTING
   *   (then the route is kept).
   */
  removeMsi(gsi: number): void {
    this.#live();
    checkInt('gsi', gsi, 0, 0xffff_ffff);
    const old = this.#get(gsi);
    this.#msi.delete(gsi);
    this.#change(() => this.#msi.set(gsi, old));
  }

  /** Runs `f`; the changes it makes are committed with one KVM_SET_GSI_ROUTING at the end (also
   *  when `f` throws: the table then holds what `f` did before it threw). Batches nest.
   * @throws VfioError 'bad-argument', 'closed', what `f` throws, the errno kinds of KVM_SET_GSI_ROUTING.
   */
  batch<T>(f: () => T): T {
    this.#live();
    checkFn('f', f);
    this.#depth++;
    let threw = true;
    try {
      const v = f();
      threw = false;
      return v;
    } finally {
      this.#depth--;
      if (this.#depth === 0 && this.#dirty && !this.#closed) {
        if (threw) { try { this.#commit(); } catch { /* f's error is the one to report */ } } else this.#commit();
      }
    }
  }

  /** KVM_SIGNAL_MSI: inject one message now (a pending vector delivered at unmask, userspace MSI).
   * @returns True when KVM delivered it, false when the guest blocked it (KVM answered 0: e.g. its
   *   ITS is disabled or has no mapping for the event).
   * @throws VfioError 'bad-argument', 'closed', the errno kinds of KVM_SIGNAL_MSI.
   */
  signalMsi(route: MsiRoute): boolean {
    this.#live();
    const r = checkRoute('route', route);
    encodeKvmMsi(r, this.#msiBuf);
    return ctx(`VM fd ${this.vmFd}`, () => kvm.signalMsi(this.#sys, this.vmFd, this.#msiBuf), { message: `cannot inject MSI 0x${r.data.toString(16)} at 0x${r.address.toString(16)}` }) > 0;
  }

  /** Forgets the table (the VM keeps the last one committed). Closing twice is harmless. */
  close(): void { this.#closed = true; this.#msi.clear(); }

  /** close(), for `using`. */
  [Symbol.dispose](): void { this.close(); }

  #live(): void {
    if (this.#closed) throw new VfioError({ kind: 'closed', message: 'the GSI routing table was closed', hint: 'create a new KvmIrqRoutes for the VM' });
  }

  #get(gsi: number): MsiRoute {
    const r = this.#msi.get(gsi);
    if (!r) throw new VfioError({ kind: 'not-found', message: `GSI ${gsi} is not an MSI route of this table`, hint: 'use a GSI that addMsi() returned' });
    return r;
  }

  /** Commits now, or marks the table dirty inside a batch; `undo` restores the model when the
   *  commit fails, so model and kernel agree. */
  #change(undo: () => void): void {
    if (this.#depth > 0) { this.#dirty = true; return; }
    try { this.#commit(); } catch (e) { undo(); throw e; }
  }

  #commit(): void {
    const table: KvmIrqRoute[] = [];
    for (let pin = 0; pin < this.irqchipPins; pin++) table.push({ gsi: pin, type: 'irqchip', irqchip: 0, pin });
    for (const [gsi, r] of [...this.#msi].sort((a, b) => a[0] - b[0])) table.push({ gsi, type: 'msi', address: r.address, data: r.data, devid: r.devid });
    const bytes = encodeKvmIrqRouting(table);
    ctx(`VM fd ${this.vmFd}`, () => kvm.setGsiRouting(this.#sys, this.vmFd, bytes), {
      message: `cannot commit the GSI routing table (${this.irqchipPins} irqchip, ${this.#msi.size} MSI routes)`,
      hint: (e) => e.errnoName === 'EINVAL' ? 'KVM refused a route: an irqchip pin past the vGIC\'s SPIs, or a GSI past KVM_MAX_IRQ_ROUTES' : e.hint,
    });
    this.#dirty = false;
    this.#commits++;
  }
}

/** A route's fields checked (address u64, data u32, devid u32 when given); a copy. */
function checkRoute(name: string, route: MsiRoute): MsiRoute {
  checkObject(name, route);
  const address = checkBigU64(`${name}.address`, route.address);
  const data = checkInt(`${name}.data`, route.data, 0, 0xffff_ffff);
  if (route.devid === undefined) return { address, data };
  return { address, data, devid: checkInt(`${name}.devid`, route.devid, 0, 0xffff_ffff) };
}
