#!/usr/bin/env node
// `npm run bench [-- NAME...]` (or `-- --summary`: only the summary and chart again): builds the package, bundles each benchmark (bench/<name>.mjs; they
// may import the TypeScript sources) into build/bench/, runs each in its own process with the
// repository root as cwd, then reads every bench/results/*.json and writes the summary: a table
// on stdout and bench/results/summary.svg, one bar per measured way with its ratio to the native
// reference measured in the same run, and the issue's goal as a line where it has one.
// Benchmarks that need the lab (the real VFIO kernel) run inside it: see bench/lab/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NOT_BENCHES = new Set(['run.mjs', 'lib.mjs']);
const all = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.mjs') && !NOT_BENCHES.has(f)).map((f) => f.slice(0, -4)).sort();
// `--summary`: no benchmark run, only the summary and the chart redrawn from bench/results/.
const summaryOnly = process.argv.includes('--summary');
const asked = process.argv.slice(2).filter((a) => a !== '--summary');
const unknown = asked.filter((a) => !all.includes(a));
if (unknown.length) { console.error(`bench: unknown benchmark(s) ${unknown.join(', ')}; there are: ${all.join(', ')}`); process.exit(2); }
const names = asked.length ? asked : all;

function step(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) { console.error(`bench: ${what} failed (exit ${r.status})`); process.exit(1); }
}

let failed = 0;
if (!summaryOnly) await runAll();
async function runAll() {
step('npm', ['run', '--silent', 'build'], 'npm run build');
const esbuild = await import('esbuild');
const out = join(root, 'build/bench');
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: names.map((n) => join(root, 'bench', `${n}.mjs`)), outdir: out, bundle: true, platform: 'node', format: 'esm',
  target: 'node20', outExtension: { '.js': '.mjs' }, external: ['koffi', 'esbuild'], loader: { '.wasm': 'binary' }, logLevel: 'warning',
  banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
});
for (const n of names) {
  console.log(`\nbench: ${n}`);
  const r = spawnSync(process.execPath, [join(out, `${n}.mjs`)], { cwd: root, stdio: 'inherit', env: { ...process.env, VFIOKIT_ROOT: root } });
  if (r.status !== 0) { console.error(`bench: ${n} failed (exit ${r.status})`); failed++; }
}
}

// The summary over every results file (those of earlier runs too, each with its date).
const dir = join(root, 'bench/results');
const docs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => ({ name: f.slice(0, -5), ...JSON.parse(readFileSync(join(dir, f), 'utf8')) })) : [];
console.log('\nbench: summary (ratio to the native reference measured in the same run)');
for (const d of docs) {
  const best = d.results.slice(1).reduce((a, r) => (a && a.ratio <= r.ratio ? a : r), undefined);
  const floorVerdict = d.goal_vs_floor ? d.results.filter((r) => r.floor_ratio !== undefined).map((r) => `${r.name} ${r.floor_ratio}x its floor: ${r.floor_ratio <= d.goal_vs_floor ? 'meets' : 'misses'} goal ${d.goal_vs_floor}x the floor`).join('; ') : '';
  const verdict = floorVerdict || (d.goal && best ? (best.ratio <= d.goal ? 'meets' : 'misses') + ` goal ${d.goal}` : 'no goal');
  console.log(`  ${d.name.padEnd(16)} best ${best ? `${best.name} ${best.ratio}` : '-'}  (${verdict}; ${d.date.slice(0, 10)})`);
  for (const g of Array.isArray(d.goals) ? d.goals : []) console.log(`  ${''.padEnd(16)} goal ${g.goal}: ${g.met ? 'met' : 'missed'} (${g.ratio})`);
}
writeFileSync(join(dir, 'summary.svg'), svg(docs));
console.log(`bench: wrote bench/results/summary.svg`);
process.exit(failed ? 1 : 0);

/** A bar chart: one block per benchmark, one bar per way, the bar's length its ratio. */
function svg(docs) {
  const W = 900, left = 330, barH = 16, gap = 6, maxRatio = Math.max(4, ...docs.flatMap((d) => d.results.map((r) => r.ratio)).filter(Number.isFinite));
  const scale = (W - left - 80) / Math.min(maxRatio, 20);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  let y = 30; const parts = [];
  for (const d of docs) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(d.name)}: ${esc(d.what ?? '')}</text>`); y += 8;
    const top = y;
    for (const r of d.results) {
      y += gap;
      const w = Math.max(1, Math.min(r.ratio, 20) * scale);
      // Issue 13's goal for a JS path: at most goal_vs_floor times its floor (a diagnostic row, same run).
      const floor = r.floor && d.goal_vs_floor ? (d.diagnostics ?? []).find((x) => x.name === r.floor) : undefined;
      const fgoal = floor ? d.goal_vs_floor * floor.ratio : undefined;
      const color = r === d.results[0] ? '#888' : (d.goal && r.ratio > d.goal) || (fgoal && r.ratio > fgoal) ? '#d9534f' : '#2e7d32';
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" text-anchor="end">${esc(r.name)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`);
      if (fgoal) { const fx = left + Math.min(fgoal, 20) * scale; parts.push(`<line x1="${fx}" y1="${y - 2}" x2="${fx}" y2="${y + barH + 2}" stroke="#000" stroke-width="2"/>`); }
      parts.push(`<text x="${left + w + 6}" y="${y + barH - 4}">${r.ratio}x${floor ? ` (${r.floor_ratio ?? +(r.ratio / floor.ratio).toFixed(2)}x its floor; goal ${d.goal_vs_floor}x the floor, the black tick)` : ''}</text>`);
      y += barH;
    }
    if (d.goal) { const gx = left + Math.min(d.goal, 20) * scale; parts.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${y + 3}" stroke="#000" stroke-dasharray="4 3"/><text x="${gx + 3}" y="${top + 2}" font-size="11">goal ${d.goal}x</text>`); }
    // A benchmark with several goals on its figures (bench/peer.mjs's `goals`: mini-VMM / QEMU,
    // each a bound of its own, some >= and some <=): one bar per goal, green when met.
    for (const g of Array.isArray(d.goals) ? d.goals : []) {
      if (g.ratio === null || !Number.isFinite(g.ratio)) continue;
      y += gap;
      const w = Math.max(1, Math.min(g.ratio, 20) * scale);
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" text-anchor="end">${esc(g.figure)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${g.met ? '#2e7d32' : '#d9534f'}"/>`);
      parts.push(`<text x="${left + w + 6}" y="${y + barH - 4}">${g.ratio}x: ${esc(g.goal.replace(/ \(.*\)$/, ''))}</text>`);
      y += barH;
    }
    y += 28;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="#fff"/><text x="10" y="16" font-size="12" fill="#555">ratio to the native reference measured in the same run (grey = the reference, 1x); red = misses the goal (dashed: a bound on the ratio; black tick: 1.1x the floor measured without vfiokit code)</text>` +
    parts.join('') + '</svg>\n';
}
