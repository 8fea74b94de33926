// `vfiokit lab [-- COMMAND]`: boots the project's lab (a Linux 6.12 kernel with VFIO, SMMUv3 and
// KVM under qemu-system-aarch64, docs/LAB.md) and runs the main job in it (`vfiokit run`: the lab's
// kernel as a nested guest with the pl031 and the NVMe passed through; from an installed package,
// which has no nested guest, `vfiokit walkthrough`), or COMMAND when given. It is lab/run.mjs; the
// exit status is the guest command's.
// Not responsible for: anything in the guest (lab/init.sh, vfiokit run, the walkthrough).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VfioError } from '../errors.js';
import { flag, UsageError, helpText, type CommandSpec } from './args.js';
import type { Command } from './command.js';

/** Everything after `--` (or the first positional) is the guest's command: `vfiokit lab --help`
 *  is this help, `vfiokit lab -- ls --help` runs `ls --help` in the guest. */
const SPEC: CommandSpec = {
  usage: 'vfiokit lab [--suite] [-- COMMAND [ARG...]]',
  options: { suite: { type: 'boolean', help: 'run the lab test suite (npm run test:lab) instead of the main job' } },
  positionals: { min: 0, max: Infinity },
};

export const lab: Command = {
  summary: 'boot the lab (real VFIO kernel under QEMU) and run a guest with devices passed through in it; -- CMD runs CMD there',
  spec: SPEC,
  async run(a) {
    const script = fileURLToPath(new URL('../lab/run.mjs', import.meta.url));
    if (!existsSync(script)) {
      throw new VfioError({ kind: 'not-supported', message: `the lab runner ${script} is not here`, hint: 'the lab runs from a checkout of the vfiokit repository: git clone it, npm ci, npm run lab' });
    }
    if (flag(a, 'suite') && a.positionals.length > 0) throw new UsageError('--suite runs the test suite, not a COMMAND', helpText(SPEC));
    return spawnSync(process.execPath, [script, ...(flag(a, 'suite') ? ['--suite'] : a.positionals)], { stdio: 'inherit' }).status ?? 1;
  },
};
