// `vfiokit list [--json]`: the devices on the platform, AMBA and PCI buses with their driver and
// IOMMU group. The --json form is stable: an array of DeviceEntry (src/sysfs.ts, docs/CLI.md).
import { listDevices, VFIO_DRIVER } from '../sysfs.js';
import { parseArgs } from './args.js';
import type { Command } from './commands.js';

const USAGE = 'usage: vfiokit list [--json] [--sysfs DIR]';

export const list: Command = {
  summary: 'list platform, AMBA and PCI devices with driver and IOMMU group',
  async run(args) {
    const a = parseArgs(args, { flags: ['json', 'help'], options: ['sysfs'] }, USAGE);
    if (a.flags.has('help')) { console.log(USAGE); return 0; }
    const devices = listDevices({ sysfs: a.options.get('sysfs') });
    if (a.flags.has('json')) { console.log(JSON.stringify(devices, null, 2)); return 0; }
    const rows = devices.map((d) => [
      d.name, d.bus, d.driver ?? '-', d.iommuGroup === null ? '-' : d.noiommu ? `noiommu-${d.iommuGroup}` : String(d.iommuGroup),
      d.driver === VFIO_DRIVER[d.bus] ? 'yes' : '', d.bus === 'pci' ? `${d.vendor}:${d.device}` : d.compatible.join(','),
    ]);
    printTable(['DEVICE', 'BUS', 'DRIVER', 'GROUP', 'VFIO', 'ID'], rows);
    return 0;
  },
};

export function printTable(head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
