// `vfiokit bind <device>` and `vfiokit unbind <device>`: hand a device to its bus's VFIO driver
// (driver_override + probe) and back to the kernel's own driver.
import { bind as bindDevice, unbind as unbindDevice } from '../sysfs.js';
import { VfioError } from '../errors.js';
import { parseArgs } from './args.js';
import type { Command } from './commands.js';

const one = (verb: string, args: string[]) => {
  const usage = `usage: vfiokit ${verb} <device> [--json] [--sysfs DIR]`;
  const a = parseArgs(args, { flags: ['json', 'help'], options: ['sysfs'] }, usage);
  if (a.flags.has('help')) return { help: usage };
  if (a.positionals.length !== 1) throw new VfioError({ kind: 'bad-argument', message: `${verb} takes one device name`, hint: usage });
  return { name: a.positionals[0]!, json: a.flags.has('json'), sysfs: a.options.get('sysfs') };
};

export const bind: Command = {
  summary: 'bind a device to its VFIO driver (vfio-platform, vfio-amba, vfio-pci)',
  async run(args) {
    const a = one('bind', args);
    if ('help' in a) { console.log(a.help); return 0; }
    const r = bindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : `${r.device}: ${r.previousDriver ?? 'no driver'} -> ${r.driver}`);
    return 0;
  },
};

export const unbind: Command = {
  summary: 'unbind a device from VFIO and let the kernel probe its own driver again',
  async run(args) {
    const a = one('unbind', args);
    if ('help' in a) { console.log(a.help); return 0; }
    const r = unbindDevice(a.name, { sysfs: a.sysfs });
    console.log(a.json ? JSON.stringify(r) : `${r.device}: ${r.previousDriver ?? 'no driver'} -> ${r.driver ?? 'no driver'}`);
    return 0;
  },
};
