// `vfiokit bind <device>` and `vfiokit unbind <device>`: hand a device to its bus's VFIO driver
// (driver_override + probe) and back to the kernel's own driver.
import { bind as bindDevice, unbind as unbindDevice } from '../sysfs.js';
import { deviceArg, flag, str, SYSFS_OPTION, type CommandSpec, type Parsed } from './args.js';
import type { Command } from './commands.js';

const spec = (verb: string): CommandSpec => ({
  usage: `vfiokit ${verb} <device> [--json] [--sysfs DIR]`,
  options: { json: { type: 'boolean', help: 'print the result as JSON: {device, bus, previousDriver, driver}' }, sysfs: SYSFS_OPTION },
  positionals: { min: 1, max: 1 },
});
const BIND = spec('bind'), UNBIND = spec('unbind');

const one = (s: CommandSpec, a: Parsed) => ({ name: deviceArg(s, a.positionals[0]!), json: flag(a, 'json'), sysfs: str(a, 'sysfs') });

export const bind: Command = {
  summary: 'bind a device to its VFIO driver (vfio-platform, vfio-amba, vfio-pci)',
  spec: BIND,
  async run(args) {
    const a = one(BIND, args);
    const r = bindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : `${r.device}: ${r.previousDriver ?? 'no driver'} -> ${r.driver}`);
    return 0;
  },
};

export const unbind: Command = {
  summary: 'unbind a device from VFIO and let the kernel probe its own driver again',
  spec: UNBIND,
  async run(args) {
    const a = one(UNBIND, args);
    const r = unbindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : `${r.device}: ${r.previousDriver ?? 'no driver'} -> ${r.driver ?? 'no driver'}`);
    return 0;
  },
};
