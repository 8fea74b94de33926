#!/usr/bin/env node
// `npm run lab` (or `vfiokit lab`): boots the lab guest and runs the README's main job in it:
// `vfiokit run`, vfiokit's VMM, booting the lab's own kernel as a nested Linux guest with the pl031
// (vfio-amba) and QEMU's NVMe (vfio-pci) passed through, the guest's rtc-pl031 and nvme drivers
// using them (its /init prints what they did as `l2:` lines), each step printed as it happens.
// From an installed package, which has no L2 payload (examples/ is not shipped), the main job is
// the walkthrough (`vfiokit walkthrough`: a passthrough session on the real kernel, step by step),
// which a checkout runs with `npm run lab -- vfiokit walkthrough`.
// `npm run lab -- <command>`: runs a shell command inside the guest instead (cwd /opt/vfiokit,
// with `vfiokit` and `node` on PATH). `npm run lab -- --suite`: the lab test suite (as
// `npm run test:lab`). `--qemu` first (`npm run lab -- --qemu 'command'`): the image also carries
// qemu-system-aarch64 for L1, as VFIOKIT_LAB_QEMU=1 does (lab/qemu-payload.mjs). Exits with the
// guest command's status. Progress goes to stderr; the guest's console (after /init starts) goes
// to stdout.
import { existsSync } from 'node:fs';
import { prepareLab } from './prepare.mjs';
import { bootGuest } from './boot.mjs';
import { runLabSuite } from './suite.mjs';

const log = (s) => process.stderr.write(s + '\n');
const args = process.argv.slice(2);
if (args[0] === '--qemu') { args.shift(); process.env.VFIOKIT_LAB_QEMU = '1'; }
/** The L2 guest's payload comes from the checkout's examples/ (lab/initramfs.mjs): without it,
 *  the main job is the walkthrough. */
const HAS_L2 = existsSync(new URL('../examples/mini-vmm/linux/build.mjs', import.meta.url));
/** The main job when no command is given: the lab's kernel as L2 with the pl031 and the NVMe, whose
 *  /init checks the disk's pattern against the hash the lab made it with (lab/disk.mjs). */
const mainJob = (diskSha256) => HAS_L2
  ? `vfiokit run --kernel l2/Image --initrd l2/initrd.gz --device 9010000.pl031 --device 0000:00:03.0 --append 'loglevel=6 l2.disk_sha256=${diskSha256}'`
  : 'vfiokit walkthrough';

if (args.length === 1 && args[0] === '--suite') {
  const r = await runLabSuite({ log, echo: process.env.LAB_ECHO === '1' });
  if (r.cannotRun) { log(`!!! LAB CANNOT RUN: ${r.cannotRun} !!!`); process.exit(2); }
  for (const p of r.problems) log(`problem: ${p}`);
  process.exit(r.failed > 0 || r.problems.length > 0 ? 1 : 0);
}
const lab = await prepareLab({ log });
if (lab.cannotRun) { log(`!!! LAB CANNOT RUN: ${lab.cannotRun} !!!`); process.exit(2); }
const cmd = args.join(' ') || mainJob(lab.disk.sha256);
log(`lab: [boot] running: ${cmd}`);
let started = false;
const r = await bootGuest({
  kernel: lab.kernel, initrd: lab.initrd, disk: lab.disk, cmd,
  onLine: (l) => { if (started || /Kernel panic|Oops/.test(l)) process.stdout.write(l + '\n'); },
  onEvent: (ev) => {
    if (ev.ev === 'init') log(`lab: [boot] /init running (kernel ${ev.kernel})`);
    else if (ev.ev === 'bound') log(`lab: [boot] ${ev.dev} -> ${ev.driver || '(no driver)'}`);
    else if (ev.ev === 'cmd') started = true;
    else if (ev.ev === 'exit') started = false;
  },
});
log(`lab: ${r.message}`);
process.exit(r.status);
