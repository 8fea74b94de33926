// A fake sysfs tree in a temporary directory: buses, devices with driver and iommu_group links,
// of_node compatible strings. Writes to driver files land in plain files (no kernel behind them),
// so it shows what we read and write, and the paths where a real kernel would refuse.
// fakeKernel() puts a kernel behind the tree for a test's duration: unbind, driver_override and
// drivers_probe act as the driver core does (see its header).
import fs, { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, readFileSync, readlinkSync, existsSync, unlinkSync, realpathSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface FakeDevice {
  bus: 'platform' | 'amba' | 'pci'; name: string; driver?: string; group?: number; compatible?: string[]; vendor?: string; device?: string; ofName?: string;
  /** PCI class as sysfs gives it ("0x060400" for a PCI-to-PCI bridge). */
  class?: string;
  /** driver_override at the start (default unset). */
  driverOverride?: string;
}

export function makeFakeSysfs(devices: FakeDevice[], groups: Record<number, string> = {}): { root: string; dispose(): void } {
  const root = mkdtempSync(join(tmpdir(), 'vfiokit-sysfs-'));
  for (const bus of ['platform', 'amba', 'pci']) {
    mkdirSync(join(root, 'bus', bus, 'devices'), { recursive: true });
    for (const drv of ['vfio-platform', 'vfio-amba', 'vfio-pci']) mkdirSync(join(root, 'bus', bus, 'drivers', drv), { recursive: true });
    writeFileSync(join(root, 'bus', bus, 'drivers_probe'), '');
  }
  for (const [g, name] of Object.entries(groups)) {
    mkdirSync(join(root, 'kernel', 'iommu_groups', g, 'devices'), { recursive: true });
    writeFileSync(join(root, 'kernel', 'iommu_groups', g, 'name'), `${name}\n`);
  }
  for (const d of devices) {
    const dir = join(root, 'devices', d.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'driver_override'), `${d.driverOverride ?? '(null)'}\n`);
    if (d.class) writeFileSync(join(dir, 'class'), `${d.class}\n`);
    writeFileSync(join(dir, 'uevent'), d.ofName ? `OF_FULLNAME=${d.ofName}\n` : '');
    if (d.driver) {
      mkdirSync(join(root, 'bus', d.bus, 'drivers', d.driver), { recursive: true });
      writeFileSync(join(root, 'bus', d.bus, 'drivers', d.driver, 'unbind'), '');
      symlinkSync(join(root, 'bus', d.bus, 'drivers', d.driver), join(dir, 'driver'));
    }
    if (d.group !== undefined) {
      mkdirSync(join(root, 'kernel', 'iommu_groups', String(d.group), 'devices'), { recursive: true });
      symlinkSync(join(root, 'kernel', 'iommu_groups', String(d.group)), join(dir, 'iommu_group'));
      symlinkSync(dir, join(root, 'kernel', 'iommu_groups', String(d.group), 'devices', d.name));
    }
    if (d.compatible) { mkdirSync(join(dir, 'of_node')); writeFileSync(join(dir, 'of_node', 'compatible'), d.compatible.map((c) => c + '\0').join('')); }
    if (d.vendor) writeFileSync(join(dir, 'vendor'), `0x${d.vendor}\n`);
    if (d.device) writeFileSync(join(dir, 'device'), `0x${d.device}\n`);
    symlinkSync(dir, join(root, 'bus', d.bus, 'devices', d.name));
  }
  return { root, dispose: () => rmSync(root, { recursive: true, force: true }) };
}

/**
 * A kernel behind a fake tree, until disposed: writeFileSync (the call src/sysfs.ts writes sysfs
 * with) is wrapped, for paths under `root`, as the driver core answers them:
 *   .../driver/unbind  the device loses its driver link
 *   driver_override    stored ("\n" clears it, read back as "(null)")
 *   drivers_probe      the device gets driver_override's driver when set and the bus has it, else
 *                      its own driver (`native`, default: the driver it had in the tree), unless
 *                      it is in `refuse` (a VFIO driver whose probe fails): then it stays unbound.
 *                      A device in `groupOnProbe` joins that IOMMU group when a driver takes it
 *                      (as on device-tree machines, where the IOMMU is set up at probe).
 * Every write is logged in `writes` as "path-relative-to-root <- value".
 */
export function fakeKernel(root: string, opts: { refuse?: string[]; native?: Record<string, string>; groupOnProbe?: Record<string, number> } = {}): { writes: string[]; [Symbol.dispose](): void } {
  const real = fs.writeFileSync;
  const writes: string[] = [];
  const native = { ...opts.native };
  const devPath = (bus: string, name: string) => join(root, 'bus', bus, 'devices', name);
  for (const bus of ['platform', 'amba', 'pci']) {
    for (const name of fs.readdirSync(join(root, 'bus', bus, 'devices'))) {
      const d = join(devPath(bus, name), 'driver');
      if (!(name in native) && existsSync(d)) native[name] = basename(readlinkSync(d));
    }
  }
  const fake = ((path: fs.PathOrFileDescriptor, data: string | NodeJS.ArrayBufferView, o?: fs.WriteFileOptions) => {
    const p = String(path);
    if (typeof path !== 'string' || !p.startsWith(root + '/')) return real(path, data, o);
    const value = String(data);
    writes.push(`${p.slice(root.length + 1)} <- ${JSON.stringify(value)}`);
    let m: RegExpExecArray | null;
    if ((m = /\/bus\/(\w+)\/devices\/([^/]+)\/driver\/unbind$/.exec(p))) { unlinkSync(join(devPath(m[1]!, m[2]!), 'driver')); return; }
    if ((m = /\/bus\/(\w+)\/devices\/([^/]+)\/driver_override$/.exec(p))) { real(p, value.trim() ? `${value.trim()}\n` : '(null)\n'); return; }
    if ((m = /\/bus\/(\w+)\/drivers_probe$/.exec(p))) {
      const bus = m[1]!, name = value.trim(), dir = devPath(bus, name);
      if (existsSync(join(dir, 'driver'))) return;
      const override = readFileSync(join(dir, 'driver_override'), 'utf8').trim();
      const want = override && override !== '(null)' ? override : native[name];
      if (!want || !existsSync(join(root, 'bus', bus, 'drivers', want))) return;
      if (opts.refuse?.includes(name) && want.startsWith('vfio')) return;
      symlinkSync(join(root, 'bus', bus, 'drivers', want), join(dir, 'driver'));
      const g = opts.groupOnProbe?.[name];
      if (g !== undefined && !existsSync(join(dir, 'iommu_group'))) {
        const gdir = join(root, 'kernel', 'iommu_groups', String(g));
        mkdirSync(join(gdir, 'devices'), { recursive: true });
        symlinkSync(gdir, join(dir, 'iommu_group'));
        symlinkSync(realpathSync(dir), join(gdir, 'devices', name));
      }
      return;
    }
    return real(path, data, o);
  }) as typeof fs.writeFileSync;
  fs.writeFileSync = fake;
  syncBuiltinESMExports();
  return { writes, [Symbol.dispose]() { fs.writeFileSync = real; syncBuiltinESMExports(); } };
}
