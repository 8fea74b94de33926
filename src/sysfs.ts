// Discovery and driver binding through sysfs: which devices exist on the platform, AMBA and PCI
// buses, which driver holds each, which IOMMU group it is in, and binding a device to its VFIO
// driver with driver_override (and back). Every path is built from a validated name.
// Not responsible for: opening anything under /dev (src/device/ does that).
import { readFileSync, readdirSync, readlinkSync, writeFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { VfioError } from './errors.js';
import { checkInt, checkObject, checkOptBool, checkString } from '../shim/args.js';
import { processPaths } from '../shim/paths.js';

/** A bus vfiokit passes devices through from, named as in /sys/bus. */
export type Bus = 'platform' | 'amba' | 'pci';
export const BUSES: readonly Bus[] = ['amba', 'pci', 'platform'];

/** The VFIO driver of each bus: decisions as data. */
export const VFIO_DRIVER: Readonly<Record<Bus, string>> = { amba: 'vfio-amba', pci: 'vfio-pci', platform: 'vfio-platform' };

/** Longest device name we accept: sysfs names are bounded by NAME_MAX (255); real ones are < 40. */
export const MAX_DEVICE_NAME = 128;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@,+-]*$/;

/** Where sysfs is, for every function that reads it. */
export interface SysfsOptions {
  /** Root of sysfs; tests pass a fake tree. Default /sys. */
  sysfs?: string;
}

/** One device as sysfs shows it ({@link listDevices}, {@link findDevice}). */
export interface DeviceEntry {
  /** The device's sysfs name ('0000:00:03.0', '9010000.pl031'). */
  name: string;
  /** The bus it sits on. */
  bus: Bus;
  /** The driver bound now, or null. */
  driver: string | null;
  /** driver_override as set now, or null when unset. */
  driverOverride: string | null;
  /** The IOMMU group number, or null when the device is in none. */
  iommuGroup: number | null;
  /** True when the group is a VFIO no-IOMMU group (its name is vfio-noiommu). */
  noiommu: boolean;
  /** compatible strings of the device-tree node (platform/AMBA), [] for none. */
  compatible: string[];
  /** The device-tree node path (from of_node), or null. */
  ofNode: string | null;
  /** PCI vendor ID as sysfs gives it ("0x1234"; inspect --json uses the same form); undefined elsewhere. */
  vendor?: string;
  /** PCI device ID as sysfs gives it ("0x11e8"); undefined elsewhere. */
  device?: string;
}

/** Throws 'bad-argument' unless `name` is a plain device name (no path, no traversal).
 * Letters, digits and `._:@,+-`, starting with a letter or digit, without "..", at most 128
 * characters. Returns the name. Every function here calls it before building a path.
 */
export function validateDeviceName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_DEVICE_NAME || !NAME_RE.test(name) || name.includes('..')) {
    throw new VfioError({ kind: 'bad-argument', message: `'${String(name).slice(0, 60)}' is not a device name`, hint: 'use a name from `vfiokit list`, e.g. 9010000.pl031 or 0000:00:02.0' });
  }
  return name;
}

/** The sysfs root of the options (every public function here reads it first: its argument check). */
function root(o?: SysfsOptions): string {
  const sysfs = o === undefined ? undefined : checkObject<SysfsOptions>('opts', o).sysfs;
  return sysfs === undefined ? '/sys' : checkString('opts.sysfs', sysfs);
}
const readText = (p: string): string | null => { try { return readFileSync(p, 'utf8'); } catch { return null; } };
const linkName = (p: string): string | null => { try { return basename(readlinkSync(p)); } catch { return null; } };

function entryFor(bus: Bus, name: string, o?: SysfsOptions): DeviceEntry {
  const dir = join(root(o), 'bus', bus, 'devices', name);
  const override = readText(join(dir, 'driver_override'))?.trim();
  const groupText = linkName(join(dir, 'iommu_group'));
  const iommuGroup = groupText !== null && /^\d+$/.test(groupText) ? Number(groupText) : null;
  const groupName = iommuGroup === null ? null : readText(join(root(o), 'kernel', 'iommu_groups', String(iommuGroup), 'name'))?.trim();
  const compat = readText(join(dir, 'of_node', 'compatible'));
  const ofFull = readText(join(dir, 'uevent'))?.match(/^OF_FULLNAME=(.*)$/m)?.[1] ?? null;
  const entry: DeviceEntry = {
    name, bus,
    driver: linkName(join(dir, 'driver')),
    driverOverride: override && override !== '(null)' ? override : null,
    iommuGroup,
    noiommu: groupName === 'vfio-noiommu',
    compatible: compat ? compat.split('\0').filter(Boolean) : [],
    ofNode: ofFull,
  };
  if (bus === 'pci') {
    entry.vendor = readText(join(dir, 'vendor'))?.trim();
    entry.device = readText(join(dir, 'device'))?.trim();
  }
  return entry;
}

/** Every device on the platform, AMBA and PCI buses, sorted by bus then name.
 * Reads /sys/bus/{amba,pci,platform}/devices; a bus that is absent is skipped. Never throws
 * for a missing file (the field is null or empty).
 *
 * @example
 * ```ts
 * import { listDevices } from 'vfiokit';
 *
 * for (const d of listDevices()) {
 *   if (d.iommuGroup !== null) console.log(d.bus, d.name, d.driver ?? '-', `group ${d.iommuGroup}`);
 * }
 * ```
 */
export function listDevices(o?: SysfsOptions): DeviceEntry[] {
  const sysRoot = root(o);
  const out: DeviceEntry[] = [];
  for (const bus of BUSES) {
    let names: string[];
    try { names = readdirSync(join(sysRoot, 'bus', bus, 'devices')); } catch { continue; }
    for (const name of names.sort()) if (NAME_RE.test(name)) out.push(entryFor(bus, name, o));
  }
  return out;
}

/** The entry of one device; 'not-found' when no bus has it.
 * @throws VfioError 'bad-argument' (not a device name), 'not-found'.
 */
export function findDevice(name: string, o?: SysfsOptions): DeviceEntry {
  validateDeviceName(name);
  for (const bus of BUSES) if (existsSync(join(root(o), 'bus', bus, 'devices', name))) return entryFor(bus, name, o);
  throw new VfioError({ kind: 'not-found', device: name, message: 'no such device on the platform, AMBA or PCI bus', hint: 'list the devices with `vfiokit list`' });
}

/** What openDevice needs to know of a device. */
export type OpenEntry = Pick<DeviceEntry, 'name' | 'bus' | 'driver' | 'iommuGroup' | 'noiommu'>;

/**
 * findDevice for openDevice: the same answers for the fields open uses, with only the lookups
 * they need (which bus has it, its driver link, its iommu_group link and that group's name, as the
 * C reference does). findDevice also reads driver_override, compatible, uevent and the PCI IDs:
 * a file read each, which open never uses and which cost more than the ioctls under emulation.
 * The lookups go through the shim's C library calls (shim/paths.ts: readlink, open + read +
 * close), not node's fs, which cost 1.1-2.8 times as much per open in the lab (docs/BENCH.md).
 * Throws what findDevice throws ('bad-argument', 'not-found').
 */
export function findDeviceForOpen(name: string, o?: SysfsOptions): OpenEntry {
  validateDeviceName(name);
  // Paths by concatenation, not path.join: its normalization loop over every character is most of
  // this function's own time under emulation, and these parts are a validated name, a bus, a
  // number and the root (extra slashes in a root the caller gave mean nothing to the kernel).
  const sys = root(o);
  const paths = processPaths();
  for (const bus of BUSES) {
    const dir = `${sys}/bus/${bus}/devices/${name}`;
    if (!paths.exists(dir)) continue;
    const groupText = paths.linkName(`${dir}/iommu_group`);
    const iommuGroup = groupText !== null && /^\d+$/.test(groupText) ? Number(groupText) : null;
    const groupName = iommuGroup === null ? null : paths.text(`${sys}/kernel/iommu_groups/${iommuGroup}/name`)?.trim();
    return { name, bus, driver: paths.linkName(`${dir}/driver`), iommuGroup, noiommu: groupName === 'vfio-noiommu' };
  }
  throw new VfioError({ kind: 'not-found', device: name, message: 'no such device on the platform, AMBA or PCI bus', hint: 'list the devices with `vfiokit list`' });
}

/** The devices in an IOMMU group with their drivers (for viability errors).
 * Sorted by name; [] when the group does not exist. Never throws.
 */
export function groupMembers(group: number, o?: SysfsOptions): { name: string; driver: string | null }[] {
  checkInt('group', group);
  const sysRoot = root(o);
  let names: string[];
  try { names = readdirSync(join(sysRoot, 'kernel', 'iommu_groups', String(group), 'devices')); } catch { return []; }
  return names.sort().map((name) => {
    const bus = BUSES.find((b) => existsSync(join(root(o), 'bus', b, 'devices', name)));
    return { name, driver: bus ? linkName(join(root(o), 'bus', bus, 'devices', name, 'driver')) : null };
  });
}

function sysWrite(path: string, value: string, device: string, what: string): void {
  try { writeFileSync(path, value); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const kind = err.code === 'EACCES' || err.code === 'EPERM' ? 'permission' : err.code === 'EBUSY' ? 'busy' : err.code === 'ENODEV' || err.code === 'ENOENT' ? 'not-found' : 'syscall';
    throw new VfioError({
      kind, device, message: `could not ${what}`, syscall: `write ${path}`, errnoName: err.code, errno: typeof err.errno === 'number' ? -err.errno : undefined, cause: e,
      hint: kind === 'permission' ? 'run as root (writing sysfs driver files needs CAP_SYS_ADMIN)' : `check dmesg for what the driver said about ${device}`,
    });
  }
}

/** What {@link bind} did. */
export interface BindResult {
  /** The device's name. */
  device: string;
  /** Its bus. */
  bus: Bus;
  /** The driver it had before (null: none; equal to `driver` when it was bound already). */
  previousDriver: string | null;
  /** The VFIO driver it is bound to now. */
  driver: string;
}

/**
 * Binds a device to its bus's VFIO driver: unbinds the current driver, sets driver_override,
 * probes. Idempotent when already bound to it. On failure the previous override is put back and
 * the device re-probed, so it is left as it was found.
 * Writes sysfs as root: driver/unbind, driver_override, drivers_probe.
 * @throws VfioError 'bad-argument', 'not-found' (no such device), 'not-supported' (no VFIO driver
 *   for the bus in this kernel, or it did not take the device), 'permission' (not root),
 *   'busy', 'syscall' (a sysfs write failed otherwise; `syscall` names the file).
 *
 * @example
 * ```ts
 * import { bind, openDevice, unbind } from 'vfiokit';
 *
 * const r = bind('0000:00:03.0');               // as root
 * console.log(`${r.previousDriver} -> ${r.driver}`);
 * const dev = openDevice('0000:00:03.0');       // may need no root, given access to /dev/vfio/N
 * dev.close();
 * unbind('0000:00:03.0');                       // back to the device's own driver
 * ```
 */
export function bind(name: string, o?: SysfsOptions): BindResult {
  const dev = findDevice(name, o);
  const target = VFIO_DRIVER[dev.bus];
  if (dev.driver === target) return { device: name, bus: dev.bus, previousDriver: target, driver: target };
  const dir = join(root(o), 'bus', dev.bus, 'devices', name);
  if (!existsSync(join(root(o), 'bus', dev.bus, 'drivers', target))) {
    throw new VfioError({ kind: 'not-supported', device: name, message: `the kernel has no ${target} driver`, hint: `load it (modprobe ${target}) or build the kernel with it` });
  }
  try {
    if (dev.driver) sysWrite(join(dir, 'driver', 'unbind'), name, name, `unbind it from ${dev.driver}`);
    sysWrite(join(dir, 'driver_override'), target, name, `set driver_override to ${target}`);
    sysWrite(join(root(o), 'bus', dev.bus, 'drivers_probe'), name, name, `probe ${target}`);
    const now = linkName(join(dir, 'driver'));
    if (now !== target) {
      throw new VfioError({ kind: 'not-supported', device: name, message: `${target} did not take the device (driver now: ${now ?? 'none'})`, hint: `see dmesg: ${target} may refuse it (for noiommu platform devices boot with vfio.enable_unsafe_noiommu_mode=1)` });
    }
  } catch (e) {
    restore(dir, dev, o);
    throw e;
  }
  return { device: name, bus: dev.bus, previousDriver: dev.driver, driver: target };
}

function restore(dir: string, dev: DeviceEntry, o?: SysfsOptions): void {
  try { if (linkName(join(dir, 'driver')) && linkName(join(dir, 'driver')) !== dev.driver) writeFileSync(join(dir, 'driver', 'unbind'), dev.name); } catch { /* best effort: the original error is what matters */ }
  try { writeFileSync(join(dir, 'driver_override'), dev.driverOverride ?? '\n'); } catch { /* idem */ }
  try { if (dev.driver && !linkName(join(dir, 'driver'))) writeFileSync(join(root(o), 'bus', dev.bus, 'drivers_probe'), dev.name); } catch { /* idem */ }
}

/** PCI classes (class >> 8, from sysfs `class`) whose devices vfio-pci refuses: bridges, whose
 *  config header is not type 0 (PCI_CLASS_BRIDGE_PCI, PCI_CLASS_BRIDGE_CARDBUS in the kernel's
 *  pci_ids.h). VFIO accepts them in a group with no driver or with pcieport, so a group bind
 *  leaves them as they are. */
export const PCI_BRIDGE_CLASSES: ReadonlySet<number> = new Set([0x0604, 0x0607]);

/** What {@link bindGroup} did: the group, each member it bound (or found bound), each it left. */
export interface GroupBindResult {
  /** The IOMMU group number. */
  group: number;
  /** Each member bound (or already bound) to its bus's VFIO driver, in name order. */
  devices: BindResult[];
  /** Members left as they are, and why (a PCI bridge, which vfio-pci does not take). */
  left: { device: string; bus: Bus; driver: string | null; reason: string }[];
}

/** True for a PCI bridge (PCI_BRIDGE_CLASSES). */
function isPciBridge(dev: DeviceEntry, o?: SysfsOptions): boolean {
  if (dev.bus !== 'pci') return false;
  const cls = readText(join(root(o), 'bus', 'pci', 'devices', dev.name, 'class'))?.trim();
  return cls !== undefined && /^0x[0-9a-f]{6}$/i.test(cls) && PCI_BRIDGE_CLASSES.has(parseInt(cls, 16) >> 8);
}

/**
 * Binds every device of `name`'s IOMMU group to its bus's VFIO driver, all or nothing: VFIO opens
 * a group only when each member is on a VFIO driver or on none (a PCI bridge may keep pcieport).
 * Members already on their VFIO driver are left bound; PCI bridges are left as they are (see
 * `left`). When one member refuses, every member bound so far is put back as it was (its driver
 * and driver_override), and the error names the member that refused and what was put back.
 * A device the kernel has not probed may be in no group yet (on device-tree machines the IOMMU is
 * set up for a device when a driver probes it): then `name` is bound first, which puts it in its
 * group, and the group is read after. Only the members the kernel lists count (a device it has
 * never probed is in no group, and VFIO does not count it either).
 * @throws VfioError 'not-supported' (the device is still in no IOMMU group once bound, a member is
 * on a bus other than platform/AMBA/PCI, a VFIO driver is missing or refuses a member),
 * 'not-found', 'permission', 'busy', 'syscall' (a sysfs write failed: errno kept), 'bad-argument'
 * (not a device name).
 * @example
 * ```ts
 * import { bindGroup } from 'vfiokit';
 *
 * const g = bindGroup('0000:00:04.0');
 * for (const d of g.devices) console.log(`${d.device}: ${d.previousDriver ?? 'no driver'} -> ${d.driver}`);
 * ```
 */
export function bindGroup(name: string, o?: SysfsOptions): GroupBindResult {
  const first = findDevice(name, o);
  const devices: BindResult[] = [], left: GroupBindResult['left'] = [];
  const changed: DeviceEntry[] = [];
  let group = first.iommuGroup;
  if (group === null) {
    const r = bind(name, o);
    devices.push(r);
    if (r.previousDriver !== r.driver) changed.push(first);
    group = findDevice(name, o).iommuGroup;
    if (group === null) {
      rollBack(changed, o);
      throw new VfioError({ kind: 'not-supported', device: name, message: `is in no IOMMU group, even on ${VFIO_DRIVER[first.bus]} (put back on ${first.driver ?? 'no driver'})`, hint: 'the kernel gave it no IOMMU; for platform and AMBA devices boot with vfio.enable_unsafe_noiommu_mode=1, or bind it alone (vfiokit bind)' });
    }
  }
  const g = group;
  // Every member is found before anything (more) is changed, so an unknown member changes nothing.
  let members: DeviceEntry[];
  try {
    members = groupMembers(g, o).map((m) => {
      try { return findDevice(m.name, o); } catch (e) {
        throw new VfioError({ kind: 'not-supported', device: m.name, message: `is in IOMMU group ${g} with ${name} but on none of the platform, AMBA or PCI buses`, hint: 'bind it to a VFIO driver by hand, or leave the group whole to the kernel', cause: e });
      }
    });
  } catch (e) {
    rollBack(changed, o);
    throw e;
  }
  for (const m of members) {
    if (devices.some((d) => d.device === m.name)) continue;
    if (isPciBridge(m, o)) { left.push({ device: m.name, bus: m.bus, driver: m.driver, reason: 'a PCI bridge: vfio-pci does not take bridges, and VFIO accepts one in the group as it is' }); continue; }
    try {
      const r = bind(m.name, o);
      devices.push(r);
      if (r.previousDriver !== r.driver) changed.push(m);
    } catch (e) {
      throw groupFailure(g, m, members.length, e, rollBack(changed, o));
    }
  }
  devices.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  return { group: g, devices, left };
}

/** Puts each device back as it was (newest first); what could not be put back, as text. */
function rollBack(changed: DeviceEntry[], o?: SysfsOptions): { back: string[]; stuck: string[] } {
  const back: string[] = [], stuck: string[] = [];
  for (const dev of [...changed].reverse()) {
    const dir = join(root(o), 'bus', dev.bus, 'devices', dev.name);
    restore(dir, dev, o);
    const now = linkName(join(dir, 'driver'));
    (now === dev.driver ? back : stuck).push(`${dev.name} (${now === dev.driver ? dev.driver ?? 'no driver' : `driver now ${now ?? 'none'}, was ${dev.driver ?? 'none'}`})`);
  }
  return { back: back.reverse(), stuck: stuck.reverse() };
}

function groupFailure(group: number, m: DeviceEntry, count: number, e: unknown, r: { back: string[]; stuck: string[] }): VfioError {
  const why = e instanceof VfioError ? e : undefined;
  const undone = r.back.length ? `; put back: ${r.back.join(', ')}` : '';
  const stuck = r.stuck.length ? `; could NOT put back: ${r.stuck.join(', ')}` : '';
  // The member's own error already names it, the syscall and what to do.
  return new VfioError({
    kind: why?.kind ?? 'syscall',
    message: `IOMMU group ${group} (${count} devices) not bound, ${m.name} refused: ${why ? why.message : String(e)}${undone}${stuck}`,
    errno: why?.errno, errnoName: why?.errnoName, cause: e,
  });
}

/** What {@link unbind} did. */
export interface UnbindResult {
  /** The device's name. */
  device: string;
  /** Its bus. */
  bus: Bus;
  /** The driver it had before (null: none). */
  previousDriver: string | null;
  /** The driver the kernel bound after the re-probe, or null. */
  driver: string | null;
}

/** The options of {@link unbind}. */
export interface UnbindOptions extends SysfsOptions {
  /** Re-probe after the unbind so the kernel binds the device's own driver (default true); false
   *  leaves it on no driver (for a device that had none before it was bound to VFIO). */
  probe?: boolean;
}

/**
 * Unbinds a device from its driver, clears driver_override and re-probes, so the kernel binds the
 * device's own driver again (if it has one): the driver it had before `bind`. With `probe: false`
 * the device is left on no driver.
 * @throws VfioError 'bad-argument', 'not-found', 'permission', 'busy', 'syscall' (as bind).
 */
export function unbind(name: string, o?: UnbindOptions): UnbindResult {
  validateDeviceName(name);
  const probe = checkOptBool('opts.probe', root(o) && (o as UnbindOptions | undefined)?.probe) ?? true;
  const dev = findDevice(name, o);
  const dir = join(root(o), 'bus', dev.bus, 'devices', name);
  if (dev.driver) sysWrite(join(dir, 'driver', 'unbind'), name, name, `unbind it from ${dev.driver}`);
  sysWrite(join(dir, 'driver_override'), '\n', name, 'clear driver_override');
  if (probe) try { writeFileSync(join(root(o), 'bus', dev.bus, 'drivers_probe'), name); } catch { /* no driver wants it: fine */ }
  return { device: name, bus: dev.bus, previousDriver: dev.driver, driver: linkName(join(dir, 'driver')) };
}

/**
 * Unbinds every member of `name`'s IOMMU group that is on its bus's VFIO driver (unbind above:
 * each goes back to the driver the kernel picks, or none); the others are not touched.
 * @throws VfioError 'bad-argument', 'not-found', 'permission', 'busy', 'syscall' (as findDevice and
 * unbind), 'not-supported' (the device is in no IOMMU group).
 */
export function unbindGroup(name: string, o?: SysfsOptions): { group: number; devices: UnbindResult[] } {
  const first = findDevice(name, o);
  if (first.iommuGroup === null) throw new VfioError({ kind: 'not-supported', device: name, message: 'is in no IOMMU group', hint: `unbind it alone (vfiokit unbind ${name})` });
  const devices: UnbindResult[] = [];
  for (const m of groupMembers(first.iommuGroup, o)) {
    const dev = findDevice(m.name, o);
    if (dev.driver === VFIO_DRIVER[dev.bus]) devices.push(unbind(m.name, o));
  }
  return { group: first.iommuGroup, devices };
}
