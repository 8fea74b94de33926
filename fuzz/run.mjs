#!/usr/bin/env node
// `npm run fuzz`: coverage-guided fuzzing of the Wasm core. The fuzz build of the core
// (assembly/fuzz/, every export plus one fuzz_<target>) is translated by wasm2c and linked with
// clang's libFuzzer and AddressSanitizer (fuzz/harness.c), one binary per target. Each target
// starts from its committed corpus (test/fuzz/corpus/<target>/) and runs for a fixed budget.
//
//   npm run fuzz                      every target, SHORT_S seconds each (a smoke run)
//   npm run fuzz -- --campaign        a campaign of its own in CI's budget: CAMPAIGN_S seconds in
//                                     all, shared by the targets (what .ci/run runs); --budget S
//                                     sets the total
//   npm run fuzz -- --long            every target, LONG_S seconds each (a campaign by hand)
//   npm run fuzz -- --seconds N [T..] the given targets (default all), N seconds each
//   npm run fuzz -- --merge           after the run, fold new coverage into the committed corpus
//
// Prints one line per target (executions, coverage, features, corpus size, findings) and writes
// fuzz/results/short.json, campaign.json or long.json (other budgets: build/fuzz/). A finding
// (a crash: the core trapped; a hang: one input ran past HANG_S; an input that took more than
// RSS_LIMIT_MB) fails the run and is kept at once as a named regression file in the target's
// committed corpus, test/fuzz/corpus/<target>/found-<kind>-<date>-<hash> (a crash minimized
// first), where the corpus replay test (test/unit/fuzz/corpus.test.ts) runs it on every npm test
// until it passes: fix the core, then rename the file for what it found (as
// vfio/driver-div-by-zero-region-size-near-2^64) and commit it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(root, 'build/fuzz');
const CORPUS = join(root, 'test/fuzz/corpus');
/** wabt's wasm2c runtime (Debian's wabt package). */
const RT = '/usr/share/wabt/wasm2c';
/** Seconds per target: CI's short fixed budget, and a campaign's. */
const SHORT_S = 15;
const LONG_S = 600;
/** CI's fuzzing budget, in seconds for all targets together (30 s each for the 8 targets). */
const CAMPAIGN_S = 240;
/** Seconds one input may run before it counts as a hang (libFuzzer -timeout). */
const HANG_S = 10;
/** Memory one input may take (libFuzzer -rss_limit_mb): the core's memory is fixed at 16 MiB. */
const RSS_LIMIT_MB = 4096;
/** Seconds spent minimizing a crashing input before it is kept. */
const MINIMIZE_S = 60;
/** The targets: export fuzz_<name> in assembly/fuzz/index.ts. */
export const TARGETS = readTargets();

function readTargets() {
  const src = readFileSync(join(root, 'assembly/fuzz/index.ts'), 'utf8');
  return [...src.matchAll(/^export \{ fuzz_(\w+) \}/gm)].map((m) => m[1]).sort();
}

function sh(cmd, args, what, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...opts });
  if (r.error || r.status !== 0) {
    const hint = r.error ? ` (${r.error.message}; lab/deps.sh installs clang, libclang-rt-14-dev and wabt)` : '';
    throw new Error(`fuzz: ${what} failed${hint}\n${r.stderr ?? ''}`);
  }
  return r;
}

/** Builds the fuzz core, translates it, compiles the runtime once and links one binary per target. */
export function buildFuzzers(targets) {
  mkdirSync(OUT, { recursive: true });
  // asconfig.json's fuzz target: the core's options (stub runtime, fixed memory), no abort import
  // (wasm2c's host has none), build/vfiokit-fuzz.wasm.
  sh(join(root, 'node_modules/.bin/asc'), ['assembly/fuzz/index.ts', '--target', 'fuzz'], 'building the fuzz core');
  sh('wasm2c', ['build/vfiokit-fuzz.wasm', '-n', 'fuzzcore', '-o', join(OUT, 'fuzzcore.c')], 'wasm2c');
  const cflags = ['-O1', '-g', '-fsanitize=fuzzer-no-link,address', '-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0',
    '-DWASM_RT_TRAP_HANDLER=fuzz_trap', `-I${RT}`, `-I${OUT}`];
  sh('clang', [...cflags, '-c', join(OUT, 'fuzzcore.c'), '-o', join(OUT, 'fuzzcore.o')], 'compiling the translated core');
  sh('clang', [...cflags, '-c', join(RT, 'wasm-rt-impl.c'), '-o', join(OUT, 'wasm-rt-impl.o')], 'compiling the wasm2c runtime');
  for (const t of targets) {
    sh('clang', [...cflags, '-fsanitize=fuzzer,address', `-DTARGET=Z_fuzzcoreZ_fuzz_${t}`, 'fuzz/harness.c',
      join(OUT, 'fuzzcore.o'), join(OUT, 'wasm-rt-impl.o'), '-lm', '-o', join(OUT, `fuzz-${t}`)], `linking fuzz-${t}`);
  }
}

/** Runs one target for `seconds`; returns its figures. */
function runTarget(t, seconds, merge) {
  const work = join(OUT, `corpus-${t}`);
  const seeds = join(CORPUS, t);
  rmSync(work, { recursive: true, force: true }); mkdirSync(work, { recursive: true }); mkdirSync(seeds, { recursive: true });
  const r = spawnSync(join(OUT, `fuzz-${t}`), [work, seeds, `-max_total_time=${seconds}`, '-print_final_stats=1',
    `-artifact_prefix=${join(OUT, `${t}-`)}`, '-max_len=16384', `-timeout=${HANG_S}`, `-rss_limit_mb=${RSS_LIMIT_MB}`], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const log = r.stderr ?? '';
  const stat = (name) => Number((log.match(new RegExp(`stat::${name}:\\s+(\\d+)`)) ?? [])[1] ?? NaN);
  const last = [...log.matchAll(/#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
  const crash = (log.match(/Test unit written to (\S+)/) ?? [])[1];
  const result = {
    target: t, seconds, exitCode: r.status, executions: stat('number_of_executed_units'),
    execPerSec: stat('average_exec_per_sec'), coverage: last ? Number(last[2]) : NaN, features: last ? Number(last[3]) : NaN,
    corpus: last ? Number(last[4]) : NaN, crash: crash ?? null,
  };
  if (crash) Object.assign(result, keepFinding(t, crash));
  if (r.status !== 0 && !crash) result.error = log.split('\n').filter(Boolean).slice(-5).join('\n');
  if (merge && !crash) {
    // Fold what this run found into the committed corpus, keeping only inputs that add coverage.
    const merged = join(OUT, `merged-${t}`);
    rmSync(merged, { recursive: true, force: true }); mkdirSync(merged);
    spawnSync(join(OUT, `fuzz-${t}`), ['-merge=1', merged, seeds, work], { encoding: 'utf8' });
    // Named inputs (seeds, regressions named for what they found) stay; hash-named ones are replaced
    // by the minimal set the merge chose.
    const keep = new Set(readdirSync(merged));
    for (const f of readdirSync(seeds)) if (/^[0-9a-f]{40}$/.test(f) && !keep.has(f)) rmSync(join(seeds, f));
    cpSync(merged, seeds, { recursive: true });
    result.committedCorpus = readdirSync(seeds).length;
  }
  return result;
}

/** libFuzzer's artifact kinds (the file name's prefix after ours) and what they mean here. */
const KINDS = { crash: 'crash', timeout: 'hang', oom: 'oom', 'slow-unit': 'hang', leak: 'leak' };

/** Keeps a finding as a named regression file in the target's committed corpus, a crash
 *  minimized first; returns { kind, regression } (the path, relative to the repository). */
export function keepFinding(t, artifact) {
  const name = artifact.slice(artifact.lastIndexOf('/') + 1).slice(t.length + 1);
  const raw = Object.keys(KINDS).find((k) => name.startsWith(`${k}-`)) ?? 'crash';
  const kind = KINDS[raw];
  let input = artifact;
  if (kind === 'crash') {
    const small = join(OUT, `minimized-${t}`);
    rmSync(small, { force: true });
    spawnSync(join(OUT, `fuzz-${t}`), ['-minimize_crash=1', `-max_total_time=${MINIMIZE_S}`, `-exact_artifact_path=${small}`, artifact], { encoding: 'utf8' });
    try { if (readFileSync(small).length > 0) input = small; } catch { /* the original input, unminimized */ }
  }
  const bytes = readFileSync(input);
  const hash = createHash('sha1').update(bytes).digest('hex').slice(0, 12);
  const rel = join('test/fuzz/corpus', t, `found-${kind}-${new Date().toISOString().slice(0, 10)}-${hash}`);
  mkdirSync(join(CORPUS, t), { recursive: true });
  writeFileSync(join(root, rel), bytes);
  return { kind, regression: rel };
}

function main() {
  const args = process.argv.slice(2);
  const long = args.includes('--long');
  const campaign = args.includes('--campaign');
  const bi = args.indexOf('--budget');
  const merge = args.includes('--merge');
  const si = args.indexOf('--seconds');
  const named = args.filter((a, i) => !a.startsWith('--') && !(si >= 0 && i === si + 1) && !(bi >= 0 && i === bi + 1));
  const unknown = named.filter((n) => !TARGETS.includes(n));
  if (unknown.length) { console.error(`fuzz: unknown target(s) ${unknown.join(', ')}; targets: ${TARGETS.join(', ')}`); process.exit(2); }
  const targets = named.length ? named : TARGETS;
  const budget = bi >= 0 ? Number(args[bi + 1]) : CAMPAIGN_S;
  const seconds = si >= 0 ? Number(args[si + 1]) : long ? LONG_S : campaign ? Math.max(5, Math.floor(budget / targets.length)) : SHORT_S;
  if (!(seconds > 0)) { console.error('fuzz: --seconds and --budget take a number of seconds'); process.exit(2); }
  console.log(`fuzz: building ${targets.length} target(s): ${targets.join(', ')}`);
  buildFuzzers(targets);
  const results = [];
  for (const t of targets) {
    const r = runTarget(t, seconds, merge);
    results.push(r);
    console.log(`fuzz: ${t.padEnd(14)} ${String(r.executions).padStart(10)} execs (${r.execPerSec}/s) cov ${r.coverage} ft ${r.features} corpus ${r.corpus}` +
      (r.crash ? `  ${r.kind.toUpperCase()} ${r.crash} (reproduce: build/fuzz/fuzz-${t} ${r.crash}); kept as ${r.regression}: the corpus replay test fails on it until the core is fixed, then rename it for what it found` : r.error ? `  ERROR ${r.error}` : ''));
  }
  const mode = long ? 'long' : si >= 0 ? `custom-${seconds}s` : campaign ? 'campaign' : 'short';
  // Only the short, CI's campaign and the long campaign's figures are kept in the repository.
  const dir = ['long', 'short', 'campaign'].includes(mode) ? join(root, 'fuzz/results') : OUT;
  mkdirSync(dir, { recursive: true });
  // A run of some targets keeps the other targets' last figures (each result carries its date).
  const file = join(dir, `${mode}.json`);
  const stamped = results.map((r) => ({ ...r, date: new Date().toISOString() }));
  let kept = [];
  try { kept = JSON.parse(readFileSync(file, 'utf8')).results.filter((r) => !targets.includes(r.target)); } catch { /* first run */ }
  const all = [...kept, ...stamped].sort((a, b) => a.target.localeCompare(b.target));
  writeFileSync(file, JSON.stringify({ secondsPerTarget: seconds, results: all }, null, 2) + '\n');
  const bad = results.filter((r) => r.crash || r.error || !(r.executions > 0));
  console.log(`fuzz: ${results.length - bad.length} passed, ${bad.length} failed`);
  process.exit(bad.length ? 1 : 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try { main(); } catch (e) { console.error(e.message); process.exit(1); }
}
