// A fake sysfs tree in a temporary directory: buses, devices with driver and iommu_group links,
// of_node compatible strings. Writes to driver files land in plain files (no kernel behind them),
// so it shows what we read and write, and the paths where a real kernel would refuse.
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeDevice { bus: 'platform' | 'amba' | 'pci'; name: string; driver?: string; group?: number; compatible?: string[]; vendor?: string; device?: string; ofName?: string }

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
    writeFileSync(join(dir, 'driver_override'), '(null)\n');
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
