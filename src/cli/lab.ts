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
import type { Command } from './commands.js';

export const lab: Command = {
  summary: 'boot the lab (real VFIO kernel under QEMU) and walk through a passthrough session; -- CMD runs CMD there',
  async run(args) {
    const script = fileURLToPath(new URL('../lab/run.mjs', import.meta.url));
    if (!existsSync(script)) {
      throw new VfioError({ kind: 'not-supported', message: `the lab runner ${script} is not here`, hint: 'the lab runs from a checkout of the vfiokit repository: git clone it, npm ci, npm run lab' });
    }
    const rest = args[0] === '--' ? args.slice(1) : args;
    return spawnSync(process.execPath, [script, ...rest], { stdio: 'inherit' }).status ?? 1;
  },
};
