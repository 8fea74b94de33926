// `vfiokit list [--json]`: the devices on the platform, AMBA and PCI buses with their driver and
// IOMMU group. The table is grouped by IOMMU group (VFIO hands out whole groups, so the members
// that must go together sit together); the --json form is stable: an array of DeviceEntry in
// bus-then-name order (src/sysfs.ts, docs/CLI.md).
import { listDevices, VFIO_DRIVER, type DeviceEntry } from '../sysfs.js';
import { flag, str, SYSFS_OPTION, type CommandSpec } from './args.js';
import type { Command } from './command.js';

const SPEC: CommandSpec = {
  usage: 'vfiokit list [--json] [--sysfs DIR]',
  options: { json: { type: 'boolean', help: 'print the devices as a JSON array (docs/CLI.md)' }, sysfs: SYSFS_OPTION },
  positionals: { min: 0, max: 0 },
};

/** The devices ordered by IOMMU group number (devices in none last), then by bus and name as
 *  listDevices gives them (a stable sort). */
const byGroup = (devices: DeviceEntry[]) => [...devices].sort((a, b) => (a.iommuGroup ?? Infinity) - (b.iommuGroup ?? Infinity) || 0);

/** A PCI ID for the table, as lspci prints it (1234:11e8). */
const bare = (id: string | undefined) => id?.replace(/^0x/, '') ?? '?';

export const list: Command = {
  summary: 'list platform, AMBA and PCI devices with driver and IOMMU group',
  spec: SPEC,
  async run(a) {
    const devices = listDevices({ sysfs: str(a, 'sysfs') });
    if (flag(a, 'json')) { console.log(JSON.stringify(devices, null, 2)); return 0; }
    const rows = byGroup(devices).map((d) => [
      d.iommuGroup === null ? '-' : d.noiommu ? `noiommu-${d.iommuGroup}` : String(d.iommuGroup), d.name, d.bus, d.driver ?? '-',
      d.driver === VFIO_DRIVER[d.bus] ? 'yes' : '', d.bus === 'pci' ? `${bare(d.vendor)}:${bare(d.device)}` : d.compatible.join(','),
    ]);
    printTable(['GROUP', 'DEVICE', 'BUS', 'DRIVER', 'VFIO', 'ID'], rows);
    return 0;
  },
};

export function printTable(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
