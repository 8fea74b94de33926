// The MSI or MSI-X vectors of one passed-through function, as the host carries them: per vector a
// userspace eventfd (watched on the main thread) and, with KVM, an irqfd eventfd assigned once on
// an MSI route of the VM's table. The VFIO trigger of a vector is its irqfd while the guest has it
// unmasked (KVM injects without the VMM) and its userspace eventfd while masked (a fire then only
// sets the pending bit, delivered at unmask). A guest masking and unmasking a vector therefore
// costs one VFIO_DEVICE_SET_IRQS each way: the irqfd is never deassigned and reassigned, and its
// route changes only when the guest rewrites the vector's address or data.
// Without KVM every trigger is the userspace eventfd and deliveries go to the VMM's deliverMsi.
// Not responsible for: deciding when a vector is live, pending or routed (the core's MSI-X
// emulation and the passthrough's MSI reading say so), switching the interrupt mode (the IRQ
// machine), the GSI table (KvmIrqRoutes).
//
// Fds per vector: the userspace eventfd from the first enable that covers it, the irqfd from its
// first route (KVM only); both are kept until teardown(), so re-enabling the index reuses them.
import type { Sys } from '../../shim/sys.js';
import { EFD_CLOEXEC, EFD_NONBLOCK } from '../../shim/libc.js';
import { KVM_IRQFD_FLAG_DEASSIGN, encodeKvmIrqfd } from '../../shim/uapi/kvm.js';
import * as vfio from '../../shim/vfio.js';
import * as kvm from '../../shim/kvm.js';
import { ctx, rethrowWithContext, Teardown } from '../device/context.js';
import { dispatcherFor } from '../device/irq.js';
import { encodeIrqSet } from '../vfio/encode.js';
import type { KvmIrqRoutes } from '../kvm/routes.js';

/** What the vectors need of the passthrough: the device, KVM, delivery and counters. */
export interface VectorHost {
  readonly name: string;
  readonly sys: Sys;
  liveFd(): number;
  /** KVM delivery (irqfds on MSI routes), or undefined for userspace delivery. */
  readonly kvm: { vmFd: number; routes: KvmIrqRoutes; devid: number } | undefined;
  /** Userspace delivery of one message (without KVM; with KVM, pending deliveries use signalMsi). */
  deliver(address: bigint, data: number): void;
  /** A vector's userspace eventfd fired (`count` signals): the passthrough asks the core. */
  fired(index: number, vector: number): void;
  /** An error from an eventfd callback (never thrown into the event loop). */
  error(e: unknown): void;
  readonly stats: VectorStats;
}

/** The counters the vectors keep (part of PciPassthroughStats). */
export interface VectorStats {
  vectorMasks: number; vectorUnmasks: number; irqfdAssigns: number; irqfdDeassigns: number;
  triggerSwitches: number; routeUpdates: number; deliveries: number; deliveriesBlocked: number;
}

interface Vector {
  /** The userspace eventfd (-1 until the index is first enabled over this vector). */
  userFd: number;
  /** The irqfd eventfd (KVM; -1 until first routed). */
  kvmFd: number;
  /** The MSI route's GSI (-1 until first routed). */
  gsi: number;
  address: bigint;
  data: number;
  /** The guest has it live (unmasked, enabled): with KVM its trigger is the irqfd. */
  live: boolean;
  /** The trigger VFIO has now: -1 none (the index is disabled or does not cover it). */
  trigger: number;
}

/**
 * One VFIO MSI or MSI-X index's vectors. The IRQ routing enables and disables the index (as the
 * machine decides); route/mask/unmask/deliver come from the core's actions.
 */
export class VectorSet {
  readonly index: number;
  /** Vectors enabled in VFIO now (0: the index is disabled). */
  enabled = 0;
  /** Set by every DISABLE_INDEX: the passthrough clears it before growing, to see a rebuild. */
  rebuilt = false;
  #host: VectorHost;
  #v: Vector[] = [];

  constructor(host: VectorHost, index: number) {
    this.#host = host;
    this.index = index;
  }

  /** The vector's state, created on first use. */
  #at(n: number): Vector {
    let v = this.#v[n];
    if (!v) { v = { userFd: -1, kvmFd: -1, gsi: -1, address: 0n, data: 0, live: false, trigger: -1 }; this.#v[n] = v; }
    return v;
  }

  /** The trigger a vector should have: its irqfd while live and routed (KVM), else its userspace eventfd. */
  #want(v: Vector): number { return v.live && v.kvmFd >= 0 ? v.kvmFd : v.userFd; }

  /** ENABLE_INDEX: triggers for [from, count) in one VFIO_DEVICE_SET_IRQS (userspace eventfds made
   *  for vectors that have none yet). */
  enable(count: number, from: number): void {
    const fds: number[] = [];
    for (let n = from; n < count; n++) {
      const v = this.#at(n);
      if (v.userFd < 0) v.userFd = this.#newUserFd(n);
      fds.push(this.#want(v));
    }
    if (fds.length > 0) this.#setTriggers(from, fds, 'enable vectors of');
    for (let n = from; n < count; n++) this.#v[n]!.trigger = fds[n - from]!;
    this.enabled = count;
  }

  /** DISABLE_INDEX ran: the kernel dropped every trigger (the fds, irqfds and routes stay). */
  disabled(): void {
    this.enabled = 0;
    this.rebuilt = true;
    for (const v of this.#v) if (v) v.trigger = -1;
  }

  /** The vector's message is now address/data: its MSI route is added (and its irqfd assigned,
   *  once) or updated when the message changed. Without KVM only remembered. */
  route(n: number, address: bigint, data: number): void {
    const v = this.#at(n);
    const k = this.#host.kvm;
    if (v.address === address && v.data === data && (!k || v.gsi >= 0)) return; // nothing new
    v.address = address; v.data = data;
    if (!k) return;
    const route = { address, data, devid: k.devid };
    if (v.gsi >= 0) { k.routes.updateMsi(v.gsi, route); this.#host.stats.routeUpdates++; return; }
    const gsi = k.routes.addMsi(route);
    try {
      const fd = ctx(this.#host.name, () => this.#host.sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), { message: 'cannot create an irqfd eventfd' });
      try {
        const req = encodeKvmIrqfd({ fd, gsi });
        ctx(this.#host.name, () => kvm.irqfd(this.#host.sys, k.vmFd, req), {
          message: `cannot assign the irqfd of ${this.#what(n)} at GSI ${gsi}`,
          hint: (e) => e.errnoName === 'EINVAL' ? 'the VM needs an in-kernel interrupt controller with MSI support (on arm64 a vGICv3 with an ITS)' : e.hint,
        });
      } catch (e) { try { this.#host.sys.close(fd); } catch { /* report the first error */ } throw e; }
      v.kvmFd = fd;
    } catch (e) { try { k.routes.removeMsi(gsi); } catch { /* report the first error */ } throw e; }
    v.gsi = gsi;
    this.#host.stats.irqfdAssigns++;
  }

  /** The guest masked the vector (or the function, or disabled the index): its fires must reach
   *  the host. With KVM the trigger switches to the userspace eventfd. */
  mask(n: number): void {
    const v = this.#at(n);
    this.#host.stats.vectorMasks++;
    v.live = false;
    this.#retrigger(n, v);
  }

  /** The guest unmasked the vector: with KVM its trigger goes back to the irqfd. Returns false
   *  when the vector lies beyond the enabled ones (the caller grows the index first). */
  unmask(n: number): boolean {
    const v = this.#at(n);
    this.#host.stats.vectorUnmasks++;
    v.live = true;
    if (n >= this.enabled) return false;
    this.#retrigger(n, v);
    return true;
  }

  /** The message last routed for vector n. */
  message(n: number): { address: bigint; data: number } { const v = this.#at(n); return { address: v.address, data: v.data }; }

  /** Whether vector n is live (unmasked) for the host. */
  live(n: number): boolean { return this.#v[n]?.live ?? false; }
  /** Runs f with the route changes it makes committed once (KVM), or just runs it. */
  batch(f: () => void): void {
    const k = this.#host.kvm;
    if (k) k.routes.batch(f); else f();
  }

  /** The highest vector that is live or has a message, plus one (0 when none). */
  inUse(): number {
    for (let n = this.#v.length - 1; n >= 0; n--) { const v = this.#v[n]; if (v && (v.live || v.address !== 0n)) return n + 1; }
    return 0;
  }

  /** Injects the vector's message now: KVM_SIGNAL_MSI with KVM, deliverMsi without. A message
   *  KVM does not deliver (the guest's ITS is disabled or has no translation for it: KVM answers
   *  0, or EBUSY / EINVAL for a doorbell it does not know) is the guest's state, not the VMM's
   *  failure: it is counted (deliveriesBlocked) and reported to onError, never thrown into the
   *  guest's access that unmasked the vector. */
  deliver(address: bigint, data: number): void {
    const h = this.#host, k = h.kvm;
    h.stats.deliveries++;
    if (!k) { h.deliver(address, data); return; }
    let ok: boolean;
    try { ok = k.routes.signalMsi({ address, data, devid: k.devid }); } catch (e) { h.stats.deliveriesBlocked++; h.error(e); return; }
    if (!ok) h.stats.deliveriesBlocked++;
  }

  #retrigger(n: number, v: Vector): void {
    if (n >= this.enabled || v.trigger < 0) return;
    const want = this.#want(v);
    if (want === v.trigger) return;
    this.#setTriggers(n, [want], 'switch the trigger of');
    v.trigger = want;
    this.#host.stats.triggerSwitches++;
  }

  #setTriggers(start: number, fds: number[], what: string): void {
    const h = this.#host;
    const req = ctx(h.name, () => encodeIrqSet({ index: this.index, start, action: 'trigger', fds }));
    try { vfio.deviceSetIrqs(h.sys, h.liveFd(), req); } catch (e) {
      rethrowWithContext(e, h.name, { message: () => `cannot ${what} ${this.#what(start)}${fds.length > 1 ? `..${start + fds.length - 1}` : ''}` });
    }
  }

  #newUserFd(n: number): number {
    const h = this.#host;
    const fd = ctx(h.name, () => h.sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), { message: 'cannot create an eventfd' });
    try {
      dispatcherFor(h.sys).add(fd, () => { try { h.fired(this.index, n); } catch (e) { h.error(e); } }, `${h.name} ${this.#what(n)}`);
    } catch (e) { try { h.sys.close(fd); } catch { /* report the first error */ } throw e; }
    return fd;
  }

  #what(n: number): string { return `${this.index === 2 ? 'MSI-X' : 'MSI'} vector ${n}`; }

  /** Open eventfds (userspace and irqfd) of these vectors. */
  fds(): number { let c = 0; for (const v of this.#v) if (v) c += (v.userFd >= 0 ? 1 : 0) + (v.kvmFd >= 0 ? 1 : 0); return c; }

  /** After the index is disabled: every irqfd deassigned, every route removed (one table
   *  commit), every eventfd unwatched and closed; the vectors forgotten. Every step runs; the
   *  first failure is thrown at the end. */
  teardown(): void {
    const h = this.#host, t = new Teardown(), k = h.kvm;
    const vs = this.#v.filter((v): v is Vector => v !== undefined);
    for (const v of vs) {
      if (k && v.kvmFd >= 0 && v.gsi >= 0) {
        const fd = v.kvmFd, gsi = v.gsi;
        t.step(() => { kvm.irqfd(h.sys, k.vmFd, encodeKvmIrqfd({ fd, gsi, flags: KVM_IRQFD_FLAG_DEASSIGN })); h.stats.irqfdDeassigns++; });
      }
    }
    if (k && !k.routes.closed) t.step(() => k.routes.batch(() => { for (const v of vs) if (v.gsi >= 0) k.routes.removeMsi(v.gsi); }));
    for (const v of vs) {
      if (v.userFd >= 0) { const fd = v.userFd; t.step(() => dispatcherFor(h.sys).remove(fd)); t.step(() => h.sys.close(fd)); }
      if (v.kvmFd >= 0) { const fd = v.kvmFd; t.step(() => h.sys.close(fd)); }
    }
    this.#v = [];
    this.enabled = 0;
    t.finish();
  }
}
