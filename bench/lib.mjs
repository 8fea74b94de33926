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
 * Writes bench/results/<name>.json: { date, node, what, reference, goal, unit, results[] } where the
 * first result is the native reference and every result gets ratio = its median / the reference's.
 * goal: the ratio the issue asks for (null when there is none). unit: 'ns' (default) or 'bytes'
 * (then median_ns holds bytes). Prints a table.
 */
export function writeResults(name, { what, reference, goal, results, note, unit = 'ns' }) {
  const ref = results[0].median_ns;
  for (const r of results) r.ratio = +(r.median_ns / ref).toFixed(2);
  const doc = { date: new Date().toISOString(), node: process.version, what, reference, goal, unit, results, note };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
  console.log(`\n${name}: ${what}${goal ? ` (goal: ratio <= ${goal})` : ''}`);
  for (const r of results) console.log(`  ${r.name.padEnd(34)} ${(unit === 'bytes' ? `${(r.median_ns / 2 ** 20).toFixed(1)} MiB` : fmt(r.median_ns)).padStart(10)}  ratio ${r.ratio}`);
  if (note) console.log(`  ${note}`);
  return doc;
}

function fmt(ns) { return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} us` : `${ns.toFixed(0)} ns`; }
