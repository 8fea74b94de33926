// What `vfiokit run` checks before any guest starts, and the bindings it puts back after: for each
// device, its kind (bus) from sysfs, that the --device sub-options suit that kind, that it is on its
// bus's VFIO driver (with `bind`, binding it first), that it is in an IOMMU group and that the group
// is viable (every member on a VFIO driver, on none, or on pcieport/pci-stub), that the group is an
// IOMMU group or a no-IOMMU one (no IOMMU and no noiommu mode: VFIO cannot open it), and then that
// /dev/kvm is there. Each failure is a VfioError with a hint, thrown before anything is opened,
// the devices bound so far put back first.
// Lifetime: a Preflight owns the bindings it made; restore() (or dispose) puts each device back on
// the driver it had (none stays none), newest first, and is harmless twice.
// Not responsible for: opening the devices (runVm), reading the command line (src/cli/run.ts).
import { existsSync } from 'node:fs';
import { bind, findDevice, groupMembers, unbind, VfioError, VFIO_DRIVER, type Bus, type DeviceEntry } from '../index.js';
import { optionsRefusedBy } from './device-spec.js';
import { checkDeviceSpecs, type VmDeviceSpec } from './config.js';
import { checkFn, checkOptBool, checkOptObject, checkString } from '../../shim/args.js';

/** Drivers a group member may be on for the group to be viable: the VFIO drivers, and those the
 *  kernel lets share a group with VFIO because they do no DMA of their own (driver_managed_dma:
 *  pcieport on a bridge, pci-stub). A member on no driver is fine too. */
const VIABLE_DRIVERS: ReadonlySet<string> = new Set([...Object.values(VFIO_DRIVER), 'pcieport', 'pci-stub']);

/** The options of {@link preflight}. */
export interface PreflightOptions {
  /** Bind each device to its bus's VFIO driver first (root), and put it back on restore(). */
  bind?: boolean;
  /** The sysfs root (tests give a fake tree). Default /sys. */
  sysfs?: string;
  /** The KVM device node. Default /dev/kvm. */
  kvm?: string;
  /** Each step as it happens, one line each (the CLI prints them on stderr). */
  onStep?: (line: string) => void;
}

/** One device as the checks found it. */
export interface PreflightDevice {
  /** The device's sysfs name. */
  name: string;
  /** Its bus, which is its kind (platform, amba, pci). */
  bus: Bus;
  /** Its VFIO driver (it is on it once the checks pass). */
  driver: string;
  /** Its IOMMU group number. */
  group: number;
  /** The group is a VFIO no-IOMMU group: the device's DMA is not confined. */
  noiommu: boolean;
  /** The driver it had before `bind` moved it (null: none); undefined when it was on VFIO already. */
  boundFrom?: string | null;
}

/** How one device was put back. */
export interface RestoreResult {
  /** The device's sysfs name. */
  device: string;
  /** The driver it had before the bind (null: none). */
  wanted: string | null;
  /** The driver it is on now (null: none). */
  driver: string | null;
  /** It is on the driver it had. */
  ok: boolean;
  /** Why it could not be put back, when the unbind failed. */
  error?: VfioError;
}

/** The outcome of the checks: the devices, and the bindings to put back. */
export class Preflight {
  #restored = false;
  private constructor(
    /** Every device checked, in the order given, as found (and bound). */
    readonly devices: readonly PreflightDevice[],
    private readonly opts: PreflightOptions,
  ) {}

  /** @internal {@link preflight} builds it, from the devices it checked and its options (restore()
   *  uses the same sysfs and onStep). */
  static of(devices: readonly PreflightDevice[], opts: PreflightOptions): Preflight { return new Preflight(devices, opts); }

  /** Puts every device that `bind` moved back on the driver it had (none: left on none), newest
   *  first; never throws (each outcome is in the result). A second call does nothing. */
  restore(): RestoreResult[] {
    if (this.#restored) return [];
    this.#restored = true;
    return putBack([...this.devices].reverse(), this.opts);
  }

  /** restore(), for `using`. */
  [Symbol.dispose](): void { this.restore(); }
}

function putBack(devices: readonly PreflightDevice[], opts: PreflightOptions): RestoreResult[] {
  const out: RestoreResult[] = [];
  for (const d of devices) {
    if (d.boundFrom === undefined) continue;
    const wanted = d.boundFrom;
    try {
      // Back to none: no re-probe (the kernel would give it its own driver). Back to a driver: the
      // re-probe after clearing driver_override is how the kernel picks it again.
      const r = unbind(d.name, { ...sys(opts), probe: wanted !== null });
      const ok = r.driver === wanted;
      out.push({ device: d.name, wanted, driver: r.driver, ok });
      opts.onStep?.(`${d.name}: ${d.driver} -> ${r.driver ?? 'no driver'}${ok ? ' (as it was)' : ` (it had ${wanted}: bind it back by hand)`}`);
    } catch (e) {
      const error = e instanceof VfioError ? e : new VfioError({ kind: 'syscall', device: d.name, message: String(e), cause: e });
      out.push({ device: d.name, wanted, driver: null, ok: false, error });
      opts.onStep?.(`${d.name}: could not put it back on ${wanted ?? 'no driver'}: ${error.message}`);
    }
  }
  return out;
}

const sys = (o: PreflightOptions) => (o.sysfs === undefined ? {} : { sysfs: o.sysfs });

/**
 * Checks every device of `specs` (and KVM) before a guest is built; with `opts.bind`, binds each to
 * its VFIO driver first. On success the caller owns the result and calls restore() when the guest
 * has ended (also on error and on a signal). On failure every binding made so far is put back
 * before the error is thrown.
 * @throws VfioError 'bad-argument' (a name twice, a sub-option the device's kind does not take),
 *   'not-found' (no such device, no /dev/kvm), 'bad-state' (not on its VFIO driver, without bind),
 *   'not-supported' (in no IOMMU group: no IOMMU and no noiommu mode; or bind failed so),
 *   'not-viable' (another member of its group is on a non-VFIO driver), and what bind throws
 *   ('permission', 'busy', 'syscall').
 */
export function preflight(specs: readonly VmDeviceSpec[], opts: PreflightOptions = {}): Preflight {
  checkDeviceSpecs('specs', specs);
  checkOptObject('opts', opts);
  checkOptBool('opts.bind', opts.bind);
  for (const k of ['sysfs', 'kvm'] as const) if (opts[k] !== undefined) checkString(`opts.${k}`, opts[k]);
  if (opts.onStep !== undefined) checkFn('opts.onStep', opts.onStep);
  const step = opts.onStep ?? (() => {});
  const done: PreflightDevice[] = [];
  try {
    for (const spec of specs) {
      let dev = findDevice(spec.name, sys(opts));
      const target = VFIO_DRIVER[dev.bus];
      const refused = optionsRefusedBy(spec, dev.bus);
      if (refused.length) throw new VfioError({ kind: 'bad-argument', device: spec.name, message: `is a ${dev.bus} device, which does not take ${refused.join(', ')}`, hint: `drop them from --device ${spec.name} (docs/VMM.md lists which kinds take which)` });
      let boundFrom: string | null | undefined;
      if (dev.driver !== target) {
        if (!opts.bind) {
          throw new VfioError({ kind: 'bad-state', device: spec.name, message: `is on ${dev.driver ?? 'no driver'}, not on ${target}`, hint: `bind it first (vfiokit bind ${spec.name}), or add --bind to bind it for this run and put it back after` });
        }
        const r = bind(spec.name, sys(opts));
        boundFrom = r.previousDriver;
        // Recorded at once, so that a later failure puts this one back too.
        done.push({ name: spec.name, bus: dev.bus, driver: target, group: -1, noiommu: false, boundFrom });
        step(`${spec.name}: ${r.previousDriver ?? 'no driver'} -> ${target} (--bind; put back after the run)`);
        dev = findDevice(spec.name, sys(opts));
      }
      const group = checkGroup(dev, opts);
      const entry: PreflightDevice = { name: spec.name, bus: dev.bus, driver: target, group, noiommu: dev.noiommu, ...(boundFrom === undefined ? {} : { boundFrom }) };
      if (boundFrom === undefined) done.push(entry); else done[done.length - 1] = entry;
      step(`${spec.name}: ${dev.bus} device on ${target}, ${dev.noiommu ? `no-IOMMU group ${group} (its DMA is not confined)` : `IOMMU group ${group}`}, viable`);
    }
    // KVM last: what is wrong with a device is worth knowing on a host without KVM too.
    const kvm = opts.kvm ?? '/dev/kvm';
    if (!existsSync(kvm)) throw new VfioError({ kind: 'not-found', message: `no ${kvm}: this host cannot run a KVM guest`, hint: 'load the kvm module, enable virtualization in the firmware, or run where KVM is (npm run lab gives a guest with KVM)' });
    step(`${kvm}: present`);
    return Preflight.of(done, opts);
  } catch (e) {
    putBack([...done].reverse(), opts);
    throw e;
  }
}

/** The device's group, once it is known to be one VFIO can open: present and viable. */
function checkGroup(dev: DeviceEntry, opts: PreflightOptions): number {
  if (dev.iommuGroup === null) {
    throw new VfioError({
      kind: 'not-supported', device: dev.name, message: 'is in no IOMMU group: the kernel has no IOMMU for it and VFIO\'s no-IOMMU mode is off',
      hint: dev.bus === 'pci' ? 'enable the IOMMU (e.g. intel_iommu=on, or the SMMU in the firmware), or boot with vfio.enable_unsafe_noiommu_mode=1 (no DMA protection)' : 'boot with vfio.enable_unsafe_noiommu_mode=1 (platform devices rarely sit behind an IOMMU), then bind it again',
    });
  }
  const others = groupMembers(dev.iommuGroup, sys(opts)).filter((m) => m.name !== dev.name && m.driver !== null && !VIABLE_DRIVERS.has(m.driver));
  if (others.length) {
    throw new VfioError({
      kind: 'not-viable', device: dev.name, message: `IOMMU group ${dev.iommuGroup} is not viable: ${others.map((m) => `${m.name} is on ${m.driver}`).join(', ')}`,
      hint: `bind the whole group to VFIO (vfiokit bind --group ${dev.name}) or unbind ${others.map((m) => m.name).join(', ')}`,
    });
  }
  return dev.iommuGroup;
}
