// `vfiokit lab [-- COMMAND]`: boots the project's lab (a Linux 6.12 kernel with VFIO, SMMUv3 and
// KVM under qemu-system-aarch64, docs/LAB.md) and runs the walkthrough in it (`vfiokit
// walkthrough`: device bound, registers mapped and read, an interrupt, a DMA confined by the
// IOMMU, the guest DT node), or COMMAND when given. It is lab/run.mjs, which needs a checkout of
// the repository (it builds the kernel and the initramfs from source); the exit status is the
// guest command's.
// Not responsible for: anything in the guest (lab/init.sh, the walkthrough).
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
  options: { suite: { type: 'boolean', help: 'run the lab test suite (npm run test:lab) instead of the walkthrough' } },
  positionals: { min: 0, max: Infinity },
};

export const lab: Command = {
  summary: 'boot the lab (real VFIO kernel under QEMU) and walk through a passthrough session; -- CMD runs CMD there',
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
