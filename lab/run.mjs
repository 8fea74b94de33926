#!/usr/bin/env node
// `npm run lab -- <command>`: runs a shell command inside the lab guest (cwd /opt/vfiokit, with
// `vfiokit` and `node` on PATH) and exits with its status. Without a command: the lab suite.
// Progress goes to stderr; the guest's console (after /init starts) goes to stdout.
import { prepareLab } from './prepare.mjs';
import { bootGuest } from './boot.mjs';
import { runLabSuite } from './suite.mjs';

const log = (s) => process.stderr.write(s + '\n');
const cmd = process.argv.slice(2).join(' ');

if (!cmd) {
  const r = await runLabSuite({ log, echo: process.env.LAB_ECHO === '1' });
  if (r.cannotRun) { log(`!!! LAB CANNOT RUN: ${r.cannotRun} !!!`); process.exit(2); }
  for (const p of r.problems) log(`problem: ${p}`);
  process.exit(r.failed > 0 || r.problems.length > 0 ? 1 : 0);
}
const lab = await prepareLab({ log });
if (lab.cannotRun) { log(`!!! LAB CANNOT RUN: ${lab.cannotRun} !!!`); process.exit(2); }
log(`lab: [boot] running: ${cmd}`);
let started = false;
const r = await bootGuest({
  kernel: lab.kernel, initrd: lab.initrd, cmd,
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
