// Shared by the benchmarks: the repository root, medians and percentiles, and one results format
// (bench/results/<name>.json) that bench/run.mjs turns into the summary table and chart.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Benchmarks run bundled from build/bench/ with the repository root as cwd (bench/run.mjs). */
export const root = process.env.VFIOKIT_ROOT ?? process.cwd();

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
}
export const median = (xs) => percentile(xs, 0.5);

/**
 * One results row from several passes of rounds (ns per operation each), pooled as the lab does
 * (bench/lab/parse.mjs): the median of every round of every pass, each pass's own median beside
 * it (how far passes moved), and the largest p99 of single operations when the passes have one.
 * passes: [{ rounds: number[], p99?: number }].
 */
export function pooled(name, passes) {
  const values = passes.flatMap((p) => p.rounds);
  const p99s = passes.map((p) => p.p99).filter((x) => x !== undefined);
  return {
    name, median_ns: +median(values).toFixed(3), ...(p99s.length ? { p99_ns: Math.max(...p99s) } : {}),
    rounds: values.length, passes: passes.length, pass_medians: passes.map((p) => +median(p.rounds).toFixed(3)),
    values: values.map((x) => +x.toFixed(3)),
  };
}

/**
 * Writes bench/results/<name>.json: { date, node, what, reference, goal, unit, results[] } where the
 * first result is the native reference and every result gets ratio = its median / the reference's.
 * goal: the ratio the issue asks for (null when there is none). unit: 'ns' (default) or 'bytes'
 * (then median_ns holds bytes). diagnostics: optional rows measured without vfiokit's API (a
 * floor such as the bare koffi call); they get a ratio too but are kept out of `results`, so the
 * summary never counts a floor as the library's figure. extra: more fields for the document, after
 * those (a benchmark with figures beyond the one charted, such as bench/peer.mjs). Prints a table.
 */
export function writeResults(name, { what, reference, goal, floorGoal, results, diagnostics, note, unit = 'ns', extra = {} }) {
  const ref = results[0].median_ns;
  for (const r of [...results, ...(diagnostics ?? [])]) r.ratio = +(r.median_ns / ref).toFixed(2);
  // Issue 13's goal for a path where JavaScript runs per operation: at most floorGoal times the
  // floor measured in the same run with no vfiokit code (a diagnostic row, named by the result's
  // `floor`); each such result gets its ratio to that floor (`floor_ratio`) and whether it is met.
  for (const r of results) {
    const f = r.floor && (diagnostics ?? []).find((d) => d.name === r.floor);
    if (f) { r.floor_ratio = +(r.median_ns / f.median_ns).toFixed(2); if (floorGoal) r.floor_goal_met = r.floor_ratio <= floorGoal; }
  }
  const doc = { date: new Date().toISOString(), node: process.version, what, reference, goal, ...(floorGoal ? { goal_vs_floor: floorGoal } : {}), unit, results, ...(diagnostics ? { diagnostics } : {}), note, ...extra };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
  console.log(`\n${name}: ${what}${goal ? ` (goal: ratio <= ${goal})` : ''}`);
  const line = (r) => `  ${r.name.padEnd(34)} ${(unit === 'bytes' ? `${(r.median_ns / 2 ** 20).toFixed(1)} MiB` : fmt(r.median_ns)).padStart(10)}  ratio ${r.ratio}${r.floor_ratio !== undefined ? `, ${r.floor_ratio}x the floor` : ''}`;
  for (const r of results) console.log(line(r));
  for (const r of diagnostics ?? []) console.log(`${line(r)}  (diagnostic)`);
  if (note) console.log(`  ${note}`);
  return doc;
}

// Mapped accesses take a few ns on the host: below 100 ns the figure keeps its decimals.
function fmt(ns) { return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} us` : ns >= 100 ? `${ns.toFixed(0)} ns` : `${ns.toFixed(2)} ns`; }
