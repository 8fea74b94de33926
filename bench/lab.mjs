// The benchmarks that need the real VFIO kernel: each runs inside the lab (Linux 6.12 under
// qemu-system-aarch64, docs/LAB.md) against a C reference doing the same work in the same boot.
//   1. compiles the C references (bench/native/lab/*.c) for arm64, static, into build/bench-lab/;
//   2. bundles the guest-side JS benchmarks (bench/guest/*.ts, the public API) into the same place,
//      with the guest script bench/guest/run.sh; lab/initramfs.mjs puts build/bench-lab/ at
//      /opt/vfiokit/bench/ in the image;
//   3. boots the lab once running that script, collects the measurement lines from the console
//      (bench/lab/parse.mjs) and writes one results file per case (the C reference first).
// Sizes: LAB_BENCH_PASSES (3), LAB_BENCH_DMA_4K (bytes mapped in 4 KiB pieces, 256 MiB: see docs/BENCH.md),
// LAB_BENCH_DMA_2M (in 2 MiB pieces, 256 MiB), LAB_BENCH_OPEN_ROUNDS (100), LAB_BENCH_DMA_ROUNDS (3),
// LAB_BENCH_RAM (the guest RAM lab-ram-map maps, 256 MiB, the L2's), LAB_BENCH_RAM_ROUNDS (5).
// LAB_BENCH_ONLY="dma dmadiag" runs only those parts of bench/guest/run.sh. LAB_ECHO=1 shows the whole guest console. Does not build the lab kernel: run `npm run lab` once
// first (a cold build takes 6-10 minutes); without it the lab benchmarks are skipped, loudly.
// Writes bench/results/lab-*.json. Absolute times under TCG mean little; the ratios are the figures.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { root, writeResults } from './lib.mjs';
import { parseLine, summarize } from './lab/parse.mjs';

const log = (s) => process.stderr.write(s + '\n');
const out = join(root, 'build/bench-lab');
const GUEST_CMD = 'sh /opt/vfiokit/bench/run.sh';
/** The guest prints nothing while one program measures: allow a long silence, a long whole. */
const IDLE_LIMIT_S = 600, TOTAL_LIMIT_S = 3600;
// The lab modules find the repository from their own location: import them from there, not bundled.
const labModule = (f) => import(pathToFileURL(join(root, 'lab', f)).href);

// `node bench/lab.mjs --from-log FILE`: the results again from a kept console (no build, no boot).
const fromLog = process.argv.includes('--from-log') ? process.argv[process.argv.indexOf('--from-log') + 1] : undefined;
const measurements = [];
/** The guest's console, kept in build/bench-lab.console.log. */
const consoleLog = [];
const problems = [];
if (fromLog) {
  for (const l of readFileSync(fromLog, 'utf8').split('\n')) { const m = parseLine(l); if (m) measurements.push(m); }
} else {
  problems.push(...await measureInLab());
  writeFileSync(join(root, 'build/bench-lab.console.log'), consoleLog.join('\n') + '\n');
  // A profile (LAB_BENCH_PROFILE) comes back as base64 lines of a gzip'd .cpuprofile.
  const P = '@@VFIOKIT-PROFILE@@ ';
  const b64 = consoleLog.filter((l) => l.includes(P)).map((l) => l.slice(l.indexOf(P) + P.length).trim()).filter((l) => l !== 'begin' && l !== 'end').join('');
  if (b64) {
    writeFileSync(join(root, 'build/bench-lab.cpuprofile'), gunzipSync(Buffer.from(b64, 'base64')));
    log('bench: lab: profile written to build/bench-lab.cpuprofile');
  }
}
const summary = summarize(measurements);
for (const { file, doc } of summary.docs) writeResults(file, doc);
if (summary.diagnostics.length) {
  console.log('\nlab diagnostics (vfiokit only, no twin; where the JS time goes):');
  for (const d of summary.diagnostics) console.log(`  ${d.case.padEnd(60)} ${d.median_ns.toFixed(0).padStart(8)} ns`);
}
problems.push(...summary.problems);
for (const p of problems) log(`bench: lab: problem: ${p}`);
process.exit(problems.length || summary.docs.length === 0 ? 1 : 0);

/** Builds, boots, collects: fills measurements and consoleLog; returns the problems of the run. */
async function measureInLab() {
  // 0. No kernel build from here: the kernel the lab would boot is the one for this kernel.config.
  const { cacheDir } = await labModule('initramfs.mjs');
  const cfgHash = createHash('sha256').update(readFileSync(join(root, 'lab/kernel.config'))).digest('hex').slice(0, 16);
  const haveKernel = existsSync(cacheDir()) && readdirSync(cacheDir()).some((d) => d.startsWith('kernel-') && d.endsWith(`_${cfgHash}`) && existsSync(join(cacheDir(), d, 'Image')));
  if (!haveKernel && process.env.LAB_BENCH_BUILD_KERNEL !== '1') {
    log(`!!! lab benchmarks SKIPPED: no lab kernel for lab/kernel.config (${cfgHash}) in ${cacheDir()}; run \`npm run lab\` once (or LAB_BENCH_BUILD_KERNEL=1) !!!`);
    process.exit(0);
  }

  // 1. The C references, for arm64, static (the guest has no compiler and only the lab's libc).
  try { execFileSync('aarch64-linux-gnu-gcc', ['--version'], { stdio: 'ignore' }); } catch {
    log('bench: lab: aarch64-linux-gnu-gcc is missing: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross'); process.exit(2);
  }
  if (!existsSync('/usr/aarch64-linux-gnu/lib/libc.a')) { log('bench: lab: no static arm64 libc: apt-get install libc6-dev-arm64-cross'); process.exit(2); }
  rmSync(out, { recursive: true, force: true }); mkdirSync(out, { recursive: true });
  const native = join(root, 'bench/native/lab');
  const cSources = readdirSync(native).filter((f) => f.endsWith('.c')).sort();
  for (const f of cSources) {
    execFileSync('aarch64-linux-gnu-gcc', ['-O2', '-static', '-Wall', '-Werror', '-o', join(out, `${f.slice(0, -2)}-c`), join(native, f)], { stdio: 'inherit' });
  }
  log(`bench: lab: compiled ${cSources.join(', ')} (aarch64-linux-gnu-gcc -O2 -static)`);

  // 2. The guest-side JS benchmarks, bundled with the public API they import.
  if (!existsSync(join(root, 'build/vfiokit-core.wasm'))) execFileSync('npm', ['run', '--silent', 'build:core'], { cwd: root, stdio: 'inherit' });
  const guest = join(root, 'bench/guest');
  const entries = readdirSync(guest).filter((f) => f.endsWith('.ts') && f !== 'common.ts').sort();
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: entries.map((f) => join(guest, f)), outdir: out, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    outExtension: { '.js': '.mjs' }, external: ['koffi'], loader: { '.wasm': 'binary' }, logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  });
  cpSync(join(guest, 'run.sh'), join(out, 'run.sh'));
  log(`bench: lab: bundled ${entries.join(', ')}`);

  // 3. One boot: the guest script runs every pair; the measurements come back on the console.
  process.env.VFIOKIT_LAB_BENCH = '1'; // lab/initramfs.mjs adds build/bench-lab/ to this image only
  const { prepareLab } = await labModule('prepare.mjs');
  const { bootGuest } = await labModule('boot.mjs');
  const lab = await prepareLab({ log });
  if (lab.cannotRun) { log(`!!! lab benchmarks SKIPPED: LAB CANNOT RUN: ${lab.cannotRun} !!!`); process.exit(0); }
  const env = {
    PASSES: process.env.LAB_BENCH_PASSES ?? '3',
    DMA_TOTAL_4K: process.env.LAB_BENCH_DMA_4K ?? String(256 << 20),
    DMA_TOTAL_2M: process.env.LAB_BENCH_DMA_2M ?? String(256 << 20),
    DMA_ROUNDS: process.env.LAB_BENCH_DMA_ROUNDS ?? '3',
    OPEN_ROUNDS: process.env.LAB_BENCH_OPEN_ROUNDS ?? '100',
    RAM_TOTAL: process.env.LAB_BENCH_RAM ?? String(256 << 20),
    RAM_ROUNDS: process.env.LAB_BENCH_RAM_ROUNDS ?? '5',
  };
  for (const [k, v] of Object.entries(env)) if (!/^\d+$/.test(v)) { log(`bench: lab: ${k} must be a number, not ${v}`); process.exit(2); }
  // LAB_BENCH_ONLY: the parts of run.sh to run (names, e.g. "dma dmadiag"); all but dmadiag when unset.
  const only = process.env.LAB_BENCH_ONLY;
  if (only !== undefined && !/^[a-z]+( [a-z]+)*$/.test(only)) { log(`bench: lab: LAB_BENCH_ONLY must be names separated by spaces, not ${only}`); process.exit(2); }
  // LAB_BENCH_PROFILE: "NAME ARGS..." profiles the vfiokit side of one bench once more (run.sh; node --cpu-prof),
  // written to build/bench-lab.cpuprofile; e.g. "dma 268435456 4096 2 DMA_MEM".
  const profile = process.env.LAB_BENCH_PROFILE;
  if (profile !== undefined && !/^[a-z]+( [A-Za-z0-9_./-]+)*$/.test(profile)) { log(`bench: lab: LAB_BENCH_PROFILE must be a bench name and plain arguments, not ${profile}`); process.exit(2); }
  const cmd = `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}${only ? ` ONLY='${only}'` : ''}${profile ? ` PROFILE='${profile}'` : ''} ${GUEST_CMD}`;
  log(`bench: lab: booting: ${cmd}`);
  let started = false;
  const t0 = Date.now();
  const r = await bootGuest({
    kernel: lab.kernel, initrd: lab.initrd, disk: lab.disk, cmd, idleLimitS: IDLE_LIMIT_S, totalLimitS: TOTAL_LIMIT_S,
    onLine: (l) => {
      consoleLog.push(l);
      const m = parseLine(l);
      if (m) { measurements.push(m); if (process.env.LAB_ECHO !== '1') log(`lab:   ${m.error ? `ERROR ${m.error}` : `${m.bench} ${m.case} ${m.impl}`}`); }
      if (process.env.LAB_ECHO === '1' || (started && !m) || /Kernel panic|Oops/.test(l)) log(`lab: | ${l}`);
    },
    onEvent: (ev) => { if (ev.ev === 'cmd') started = true; else if (ev.ev === 'exit') started = false; },
  });
  log(`bench: lab: ${r.message} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r.status !== 0 ? [r.message] : [];
}
