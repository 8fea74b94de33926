// The lab suite: boots the lab guest ONCE and runs every test/lab/*.test.ts in it, each file in
// its own node process under a time limit (lab/lab-suite.sh). Called by test/run.mjs.
import { prepareLab } from './prepare.mjs';
import { bootGuest } from './boot.mjs';
import { QEMU_ENV } from './qemu-payload.mjs';

/** Resolves { passed, failed, skipped, cannotRun?, problems, times }. */
export async function runLabSuite({ log = (s) => process.stderr.write(s + '\n'), echo = false } = {}) {
  const t0 = Date.now();
  // The suite's image carries QEMU for L1 (lab/qemu-payload.mjs), so that the tests of QEMU as the
  // peer run rather than skip; the main job's image (lab/run.mjs) stays without it.
  process.env[QEMU_ENV] ??= '1';
  const lab = await prepareLab({ log });
  if (lab.cannotRun) return { passed: 0, failed: 0, skipped: 1, cannotRun: lab.cannotRun, problems: [] };
  if (lab.tests.length === 0) return { passed: 0, failed: 0, skipped: 0, problems: ['no test/lab/*.test.ts to run'] };
  log(`lab: [boot] qemu-system-aarch64, ${lab.tests.length} test file(s)`);
  const tBoot = Date.now(); let firstTestS; let tFile = tBoot;
  const fileS = {};
  const r = await bootGuest({
    kernel: lab.kernel, initrd: lab.initrd, disk: lab.disk, cmd: 'lab-suite',
    onLine: (l) => { if (echo) log(l); },
    onEvent: (ev) => {
      if (ev.ev === 'init') log(`lab: [boot] /init running (kernel ${ev.kernel})`);
      else if (ev.ev === 'bound') log(`lab: [boot] ${ev.dev} -> ${ev.driver || '(no driver)'}`);
      else if (ev.ev === 'file-start') { tFile = Date.now(); firstTestS ??= (tFile - tBoot) / 1000; log(`lab: [test] ${ev.file} ...`); }
      else if (ev.ev === 'file-end') {
        const f = ev.result;
        // Host wall clock from the file's start to its end: where the suite's boot time goes.
        fileS[f.file] = (Date.now() - tFile) / 1000;
        log(`lab: [test] ${f.file}: exit ${f.code}, ${f.passed ?? '?'}/${f.total ?? '?'} passed in ${fileS[f.file].toFixed(1)} s`);
        if (f.code !== 0 || f.total !== f.passed) for (const l of f.output.trimEnd().split('\n')) log(`lab:   | ${l}`);
      }
    },
  });
  const problems = [];
  let passed = 0, failed = 0, skipped = 0;
  for (const f of r.files) {
    if (f.total === undefined || f.passed === undefined) { problems.push(`${f.file}: ended (code ${f.code}) without a uvu summary`); failed += 1; continue; }
    passed += f.passed; failed += f.total - f.passed; skipped += f.skipped ?? 0;
    if (f.code !== 0 && f.total === f.passed) { problems.push(`${f.file}: exit code ${f.code} although its tests passed`); failed += 1; }
  }
  const ran = new Set(r.files.map((f) => f.file));
  for (const t of lab.tests) { const n = t.split('/').pop().replace(/\.ts$/, '.mjs'); if (!ran.has(n)) problems.push(`${n}: did not run in the guest`); }
  if (r.status !== 0 && problems.length === 0 && failed === 0) problems.push(r.message);
  else if (r.status > 123) problems.push(r.message);
  const times = { ...lab.times, fileS, bootToFirstTestS: firstTestS, bootS: (Date.now() - tBoot) / 1000, totalS: (Date.now() - t0) / 1000 };
  log(`lab: ${passed} passed, ${failed} failed, ${skipped} skipped in the guest (kernel ${times.kernelS.toFixed(1)} s, initramfs ${times.initramfsS.toFixed(1)} s, boot to first test ${firstTestS?.toFixed(1) ?? '-'} s, boot ${times.bootS.toFixed(1)} s, all ${times.totalS.toFixed(1)} s)`);
  const slowest = Object.entries(fileS).sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (slowest.length > 0) log(`lab: slowest files: ${slowest.map(([f, t]) => `${f.replace(/\.test\.mjs$/, '')} ${t.toFixed(0)} s`).join(', ')}`);
  return { passed, failed, skipped, problems, times };
}
