// `vfiokit bind [--group] <device>` and `vfiokit unbind [--group] <device>`: hand a device (or
// every device of its IOMMU group, all or nothing) to its bus's VFIO driver (driver_override +
// probe) and back to the kernel's own driver.
import { bind as bindDevice, unbind as unbindDevice, bindGroup, unbindGroup } from '../sysfs.js';
import { deviceArg, flag, str, SYSFS_OPTION, type CommandSpec, type Parsed } from './args.js';
import type { Command } from './command.js';

const spec = (verb: string, group: string): CommandSpec => ({
  usage: `vfiokit ${verb} [--group] <device> [--json] [--sysfs DIR]`,
  options: {
    group: { type: 'boolean', help: group },
    json: { type: 'boolean', help: 'print the result as JSON (docs/CLI.md)' },
    sysfs: SYSFS_OPTION,
  },
  positionals: { min: 1, max: 1 },
});
const BIND = spec('bind', "every device of the device's IOMMU group, all or nothing (PCI bridges are left as they are)");
const UNBIND = spec('unbind', "every device of the device's IOMMU group that is on a VFIO driver");

const one = (s: CommandSpec, a: Parsed) => ({ name: deviceArg(s, a.positionals[0]!), json: flag(a, 'json'), group: flag(a, 'group'), sysfs: str(a, 'sysfs') });
const change = (r: { device: string; previousDriver: string | null; driver: string | null }) => `${r.device}: ${r.previousDriver ?? 'no driver'} -> ${r.driver ?? 'no driver'}`;

export const bind: Command = {
  summary: 'bind a device to its VFIO driver (vfio-platform, vfio-amba, vfio-pci)',
  spec: BIND,
  async run(args) {
    const a = one(BIND, args);
    if (a.group) {
      const g = bindGroup(a.name, { sysfs: a.sysfs });
      if (a.json) { console.log(JSON.stringify(g)); return 0; }
      console.log(`IOMMU group ${g.group}:`);
      for (const r of g.devices) console.log(`  ${change(r)}`);
      for (const l of g.left) console.log(`  ${l.device}: left on ${l.driver ?? 'no driver'} (${l.reason})`);
      return 0;
    }
    const r = bindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : change(r));
    return 0;
  },
};

export const unbind: Command = {
  summary: 'unbind a device from VFIO and let the kernel probe its own driver again',
  spec: UNBIND,
  async run(args) {
    const a = one(UNBIND, args);
    if (a.group) {
      const g = unbindGroup(a.name, { sysfs: a.sysfs });
      if (a.json) { console.log(JSON.stringify(g)); return 0; }
      console.log(`IOMMU group ${g.group}:${g.devices.length ? '' : ' no member was on a VFIO driver'}`);
      for (const r of g.devices) console.log(`  ${change(r)}`);
      return 0;
    }
    const r = unbindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : change(r));
    return 0;
  },
};
