#!/usr/bin/env node
// The one test command (`npm test`). It installs missing Debian tools when it can (lab/deps.sh),
// builds the Wasm core, bundles each test file with esbuild, runs every file in its own process
// under a time limit, then runs the lab suite against the real kernel (lab/suite.mjs), and ends
// with one line `N passed, N failed, N skipped`. It fails when any test fails, any file crashes
// or hangs, or no test ran at all; under CI=true a lab that cannot run is a failure too.
//
//   node test/run.mjs            unit tests, then the lab suite
//   node test/run.mjs --unit     unit tests only      node test/run.mjs --lab   lab suite only
//   node test/run.mjs FILE...    just these unit test files (paths under test/)
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const unitOnly = args.includes('--unit') || only.length > 0;
const labOnly = args.includes('--lab');
/** Seconds one unit test file may run before it counts as hung (a pending koffi call hangs uvu). */
const FILE_TIMEOUT_S = Number(process.env.VFIOKIT_TEST_TIMEOUT_S ?? 300);

const totals = { passed: 0, failed: 0, skipped: 0 };
/** Seconds each unit test file took (wall clock), for the slowest-files line. */
const unitFileS = {};
const problems = [];
const say = (s) => process.stdout.write(s + '\n');

function step(cmd, argv, what) {
  say(`test: ${what}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { say(`test: ${what} failed (exit ${r.status})`); process.exit(1); }
}

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

async function bundle(files, outdir) {
  const esbuild = await import('esbuild');
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: files, outdir, outbase: join(root, 'test'), bundle: true, platform: 'node', format: 'esm',
    target: 'node20', outExtension: { '.js': '.mjs' }, external: ['koffi', 'esbuild', 'fast-check'],
    loader: { '.wasm': 'binary' }, sourcemap: 'inline', logLevel: 'warning',
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  });
}

function runFile(file, label) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    let out = '';
    const onData = (d) => { out += d; process.stdout.write(d); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => { child.kill('SIGKILL'); problems.push(`${label}: hung for ${FILE_TIMEOUT_S} s and was killed`); }, FILE_TIMEOUT_S * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      unitFileS[label] = (Date.now() - t0) / 1000;
      const num = (k) => { const m = out.match(new RegExp(`^\\s*${k}:\\s+(\\d+)`, 'm')); return m ? Number(m[1]) : undefined; };
      const total = num('Total'), passed = num('Passed'), skipped = num('Skipped');
      if (total === undefined || passed === undefined) {
        problems.push(`${label}: ended (code ${code}, signal ${signal}) without a uvu summary`);
        totals.failed += 1;
      } else {
        totals.passed += passed; totals.failed += total - passed; totals.skipped += skipped ?? 0;
        if (code !== 0 && total === passed) { problems.push(`${label}: exit code ${code} although its tests passed`); totals.failed += 1; }
      }
      resolve();
    });
  });
}

async function main() {
  const deps = spawnSync('bash', [join(root, 'lab/deps.sh')], { stdio: 'inherit' });
  if (deps.status !== 0) say('test: WARNING: lab/deps.sh could not install the Debian tools; tests that need them will say SKIPPED');

  if (!labOnly) {
    // The lab kernel's uapi headers: the C oracle of the layout and ioctl-number tests (lab/uapi.sh).
    const uapi = spawnSync('bash', [join(root, 'lab/uapi.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (uapi.status === 0 && uapi.stdout.trim()) process.env.VFIOKIT_UAPI_SRC = uapi.stdout.trim();
    else say('test: WARNING: lab/uapi.sh could not provide the 6.12 uapi headers; the tests that pin against them will say SKIPPED');
    step(join(root, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'release'], 'building the Wasm core (release)');
    step(join(root, 'node_modules/.bin/asc'), ['assembly/index.ts', '--target', 'portable'], 'building the Wasm core (portable, no imports)');
    step(join(root, 'node_modules/.bin/asc'), ['assembly/fuzz/index.ts', '--target', 'fuzz'], 'building the fuzz core (the corpus replay runs it)');
    const files = only.length ? only.map((f) => join(root, f)) : findTests(join(root, 'test/unit'));
    const outdir = join(root, 'build/test');
    await bundle(files, outdir);
    for (const f of files) {
      const rel = relative(join(root, 'test'), f).replace(/\.ts$/, '.mjs');
      say(`\n=== ${relative(root, f)}`);
      await runFile(join(outdir, rel), relative(root, f));
    }
    const slowest = Object.entries(unitFileS).sort((a, b) => b[1] - a[1]).slice(0, 8);
    const unitS = Object.values(unitFileS).reduce((a, b) => a + b, 0);
    say(`\ntest: ${files.length} unit file(s) in ${unitS.toFixed(1)} s; slowest: ${slowest.map(([f, t]) => `${f.replace(/^test\/unit\//, '').replace(/\.test\.ts$/, '')} ${t.toFixed(1)} s`).join(', ')}`);
  }

  if (!unitOnly) {
    const suitePath = join(root, 'lab/suite.mjs');
    const ci = process.env.CI === 'true';
    if (!existsSync(suitePath)) {
      say('\nLAB SUITE SKIPPED: lab/suite.mjs does not exist yet, so nothing ran against a real kernel');
      totals.skipped += 1;
      if (ci) problems.push('lab suite could not run under CI');
    } else {
      const { runLabSuite } = await import(suitePath);
      const r = await runLabSuite({ log: say, echo: process.env.LAB_ECHO === '1' });
      totals.passed += r.passed; totals.failed += r.failed; totals.skipped += r.skipped;
      if (r.cannotRun) {
        say(`\n!!! LAB SUITE SKIPPED: ${r.cannotRun} !!!`);
        if (ci) problems.push(`lab suite could not run under CI=true: ${r.cannotRun}`);
      }
      for (const p of r.problems ?? []) problems.push(`lab: ${p}`);
    }
  }

  say('');
  for (const p of problems) say(`problem: ${p}`);
  if (totals.passed + totals.failed === 0) problems.push('no test ran');
  say(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  process.exit(totals.failed > 0 || problems.length > 0 ? 1 : 0);
}

main().catch((e) => { console.error(e); say('0 passed, 1 failed'); process.exit(1); });
