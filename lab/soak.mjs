#!/usr/bin/env node
// `npm run soak -- --minutes N`: the lab's load and fault tests (test/lab/load-*.test.ts,
// test/lab/fault-*.test.ts) and the hostile guest (test/lab/hostile-guest.test.ts) in soak mode,
// in one boot: each piece runs the counts the reliability
// figures are made of (100,000 MSI, 20,000 INTx per path, thousands of DMAs per IOMMU path,
// 10,000 open/close cycles per device kind, hundreds of killed processes), then repeats until its
// share of the N minutes is spent. Each piece prints one result line on the guest's console
// (RESULT_MARK in test/support/load.ts); they are gathered into a summary table here and into
// build/soak.json. The counts alone take about 28 minutes on the 2-core machine (estimated from
// the pieces' rates in a 30-minute soak, and the hostile guest's 5 to 7 minutes with its 100,000
// MSIs through the ITS and 20,000 INTx counted by the guest: docs/RELIABILITY.md);
// a smaller N runs them anyway and says so. Exits non-zero when a test failed or a piece lost or
// leaked something.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootGuest } from './boot.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (s) => process.stderr.write(s + '\n');
const MARK = '@@VFIOKIT-SOAK@@';
/** Minutes the soak counts take on their own (estimated from a 30-minute soak's rates, plus the
 *  hostile guest's run at its soak counts). */
const FLOOR_MINUTES = 28;

const args = process.argv.slice(2);
const at = args.indexOf('--minutes');
const minutes = at >= 0 ? Number(args[at + 1]) : NaN;
if (!(minutes > 0) || args.length !== 2) {
  log('usage: npm run soak -- --minutes N   (the lab\'s load and fault tests in soak mode for about N minutes)');
  process.exit(2);
}
if (minutes < FLOOR_MINUTES) log(`soak: the soak counts take about ${FLOOR_MINUTES} minutes; they run in full, so this takes longer than the ${minutes} asked`);

// Only the load, fault and hostile-guest tests go into the image (LAB_TESTS is read while it is built).
process.env.LAB_TESTS = 'load-,fault-,hostile-';
const { prepareLab } = await import('./prepare.mjs');
const lab = await prepareLab({ log });
if (lab.cannotRun) { log(`!!! LAB CANNOT RUN: ${lab.cannotRun} !!!`); process.exit(2); }

const soakS = Math.round(minutes * 60);
/** The guest's limits: a file may run the whole soak and its floor; the boot that and a margin. */
const fileLimitS = soakS + FLOOR_MINUTES * 60 + 1800;
const results = [];
const files = [];
const t0 = Date.now();
log(`soak: [boot] ${lab.tests.length} test file(s), ${minutes} minutes asked`);
const r = await bootGuest({
  kernel: lab.kernel, initrd: lab.initrd, disk: lab.disk,
  cmd: `VFIOKIT_SOAK_S=${soakS} LAB_FILE_LIMIT_S=${fileLimitS} lab-suite`,
  // Pieces print a progress line at least once a minute (test/support/load.ts progress()).
  idleLimitS: 600, totalLimitS: fileLimitS + 600,
  onLine: (l) => {
    const i = l.indexOf(MARK);
    if (i >= 0) {
      try { const x = JSON.parse(l.slice(i + MARK.length)); results.push(x); log(`soak: ${x.piece}: ${x.ok ? 'ok' : 'NOT OK'}`); } catch { log(`soak: unreadable result: ${l}`); }
    } else if (/^\s+\S/.test(l) || /FAIL|✘/.test(l)) log(`soak:   ${l.trim()}`);
  },
  onEvent: (ev) => {
    if (ev.ev === 'file-start') log(`soak: [test] ${ev.file} ... (${((Date.now() - t0) / 60000).toFixed(1)} min)`);
    else if (ev.ev === 'file-end') { files.push(ev.result); log(`soak: [test] ${ev.result.file}: exit ${ev.result.code}, ${ev.result.passed ?? '?'}/${ev.result.total ?? '?'} passed`); }
  },
});
const tookMin = (Date.now() - t0) / 60000;

/** A piece's figures as one cell: its counts, rates and slopes, without the bookkeeping fields. */
function figures(x) {
  const skip = new Set(['piece', 'soak', 'ok', 'seed']);
  return Object.entries(x).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k} ${v}`).join(', ');
}
const failedTests = files.reduce((n, f) => n + ((f.total ?? 1) - (f.passed ?? 0)), 0);
const notOk = results.filter((x) => !x.ok);
const rows = results.map((x) => `| ${x.piece} | ${figures(x)} | ${x.ok ? 'yes' : 'NO'} |`);
const table = ['| piece | figures | nothing lost or leaked |', '| --- | --- | --- |', ...rows].join('\n');
process.stdout.write(`\nsoak: ${minutes} minutes asked, ${tookMin.toFixed(1)} taken; ${files.length} test file(s), ${failedTests} failed test(s); ${results.length} pieces, ${notOk.length} not ok; guest: ${r.message}\n\n${table}\n`);
const out = join(root, 'build', 'soak.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), minutesAsked: minutes, minutesTaken: +tookMin.toFixed(1), guest: r.message, files: files.map((f) => ({ file: f.file, code: f.code, total: f.total, passed: f.passed })), results }, null, 2) + '\n');
log(`soak: results in ${out}`);
process.exit(r.status === 0 && failedTests === 0 && notOk.length === 0 && results.length > 0 ? 0 : 1);
