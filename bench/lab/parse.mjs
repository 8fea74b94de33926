// Host side of the lab benchmarks (bench/lab.mjs): reads the measurement lines the guest prints
// on its console and turns them into bench/lib.mjs results, one results file per benchmark case
// (ratios are against the first result, so a case's C reference leads its own file). Pure (no
// processes, no files), so test/unit/bench/ can feed it lines.
//
// A line is MARK + ' ' + JSON: { bench, case, impl: 'c' | 'js' | 'node', unit: 'ns' | 'bytes',
// rounds: number[] (ns per operation per round, or bytes), p99?: ns of single operations, ...extra }
// or { error: 'what failed' }. The guest runs every pair more than once (passes, alternating which
// side goes first); the rounds of all passes are pooled.

import { median, percentile } from '../lib.mjs';

/** The prefix of a measurement line (bench/guest/common.ts, bench/native/lab/common.h). */
export const MARK = '@@VFIOKIT-BENCH@@';

/** What each benchmark measures (short: the chart's heading; docs/BENCH.md says more), and the
 *  issue's goal for the ratio to C (null: none). Issue 13 retired the goals of trap (1.3), mmio
 *  (2.0), open (2.0) and DMA (1.1) against C: JS paths are held to 1.1x the floor measured without
 *  vfiokit code instead, with the ratio to C beside it (docs/BENCH.md, "The goals"). */
export const BENCHES = Object.freeze({
  'lab-trap': { goal: null, what: 'pl031 trapped access (pread/pwrite), ns each, lab' },
  'lab-mmio': { goal: null, what: 'pl031 mapped access (TCG traps it), ns each, lab' },
  // Open: 1.1x its floor (bench/guest/open.ts: the C twin's syscalls through bare koffi, same run).
  // `ratios`: more figures of the file, each the median of one row over another's, rows named by
  // the start of a diagnostic's name, or '@vfiokit' for the library's row: here what reading
  // sysfs through the shim (shim/paths.ts) gives against node's fs, in the same run.
  'lab-open': { goal: null, floorGoal: 1.1, goalBefore13: 2, what: 'open to ready and close, ns per cycle, lab',
    ratios: {
      sysfs_shim_to_fs_ratio: ['sysfs lookups as openDevice makes them', 'the same sysfs lookups through node\'s fs'],
      sysfs_shim_to_bare_koffi_ratio: ['sysfs lookups as openDevice makes them', 'the same sysfs lookups through bare koffi'],
      sysfs_fs_share_of_cycle_ratio: ['the same sysfs lookups through node\'s fs', '@vfiokit'],
      sysfs_shim_share_of_cycle_ratio: ['sysfs lookups as openDevice makes them', '@vfiokit'],
    } },
  'lab-dma': { goal: null, what: 'type1 DMA via the SMMUv3, ns per ioctl, lab' },
  'lab-memory': { goal: null, what: 'VmRSS holding it open+mapped, bytes, lower is better' },
  // Guest RAM DMA setup (bench/guest/ramdma.ts): ns to map all of it, so each row also gets GiB/s.
  'lab-ram-map': { goal: 1.05, what: 'all of a guest\'s RAM (256 MiB) mapped for DMA in one mapping, ns, lab', wholeRound: true },
  'lab-ram-map-pieces': { goal: null, what: 'the same RAM mapped in 2 MiB pieces (virtio-mem blocks), ns for all, lab', wholeRound: true },
});

/** Reads one console line; the measurement object, or undefined for any other line. */
export function parseLine(text) {
  const at = text.indexOf(MARK);
  if (at < 0) return undefined;
  let v;
  try { v = JSON.parse(text.slice(at + MARK.length)); } catch { return { error: `unreadable measurement line: ${text.slice(at, at + 200)}` }; }
  if (!v || typeof v !== 'object') return { error: `not an object: ${text.slice(at, at + 200)}` };
  if (typeof v.error === 'string') return v;
  if (typeof v.bench !== 'string' || typeof v.case !== 'string' || typeof v.impl !== 'string' || !Array.isArray(v.rounds) || !v.rounds.every(Number.isFinite)) {
    return { error: `a measurement without bench/case/impl/rounds: ${text.slice(at, at + 200)}` };
  }
  return v;
}

/** The results file name of a case: the bench alone when it has one case, else bench-<short case>. */
export function fileName(bench, cas, casesOfBench) {
  if (casesOfBench <= 1) return bench;
  const short = cas.replace(/\(.*\)/, '').replace(/(\d+) KiB pieces/, (_m, k) => (Number(k) >= 1024 && Number(k) % 1024 === 0 ? `${Number(k) / 1024}m` : `${k}k`));
  return `${bench}-${short.trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
}

/**
 * Groups measurements by bench and case, pools the passes, and builds one writeResults document
 * per case: results [C reference, vfiokit] with median over every round of every pass and the
 * largest p99 seen. Returns { docs: [{ file, doc }], problems: string[], diagnostics: [{ case, median_ns }] }.
 */
export function summarize(measurements) {
  const problems = measurements.filter((m) => m.error).map((m) => m.error);
  // impl 'diag': single JS figures with no twin (bench/guest/diag.ts), listed apart.
  const diag = new Map();
  for (const m of measurements) if (!m.error && m.impl === 'diag') diag.set(m.case, [...(diag.get(m.case) ?? []), ...m.rounds]);
  const diagnostics = [...diag].map(([cas, rounds]) => ({ case: cas, median_ns: median(rounds) }));
  const groups = new Map();
  for (const m of measurements) {
    if (m.error || m.impl === 'diag') continue;
    const key = `${m.bench}\0${m.case}`;
    if (!groups.has(key)) groups.set(key, { bench: m.bench, case: m.case, unit: m.unit, by: {} });
    const g = groups.get(key);
    const side = (g.by[m.impl] ??= { rounds: [], p99: [], passes: 0, extra: [] });
    side.rounds.push(...m.rounds); side.passes++;
    if (Number.isFinite(m.p99)) side.p99.push(m.p99);
    const { bench: _b, case: _c, impl: _i, unit: _u, rounds: _r, p99: _p, ...extra } = m;
    side.extra.push(extra);
  }
  const casesOf = new Map();
  for (const g of groups.values()) casesOf.set(g.bench, (casesOf.get(g.bench) ?? 0) + 1);
  const docs = [];
  for (const g of groups.values()) {
    const { c, js } = g.by;
    if (!c || !js) { problems.push(`${g.bench} ${g.case}: ${c ? 'no vfiokit' : 'no C'} measurement`); continue; }
    const spec = BENCHES[g.bench] ?? { goal: null, what: g.bench };
    const row = (name, side) => ({ name, median_ns: median(side.rounds), ...(side.p99.length ? { p99_ns: Math.max(...side.p99) } : {}), rounds: side.rounds.length, passes: side.passes, values: side.rounds });
    const results = [row('C reference (static, -O2)', c), row('vfiokit (node, koffi)', js)];
    const ex0 = js.extra[0] ?? {};
    // A round that maps all of `total` bytes: its rate, in GiB/s.
    if (spec.wholeRound && ex0.total > 0) for (const r of results) r.gib_per_s = +(ex0.total / 2 ** 30 / (r.median_ns / 1e9)).toFixed(3);
    const notes = [`${c.passes} pass(es) each, ${c.rounds.length} C and ${js.rounds.length} vfiokit rounds pooled`];
    if (results[0].p99_ns !== undefined && results[1].p99_ns !== undefined) notes.push(`p99 of single operations: C ${fmt(results[0].p99_ns)}, vfiokit ${fmt(results[1].p99_ns)} (ratio ${(results[1].p99_ns / results[0].p99_ns).toFixed(2)})`);
    const ex = js.extra[0] ?? {};
    if (ex.per) notes.push(`${ex.per} accesses per round`);
    if (ex.ops) notes.push(`${ex.ops} ioctls of ${ex.piece} bytes per round (${ex.total / 2 ** 20} MiB)`);
    if (ex.iommu) notes.push(`${ex.iommu}, ${ex.memory} memory; physically contiguous runs: C ${(c.extra.map((e) => e.runs)).join('/')}, vfiokit ${js.extra.map((e) => e.runs).join('/')}`);
    if (g.unit === 'bytes') {
      const node = g.by.node;
      if (node) notes.push(`node alone (node -e, nothing loaded): ${mib(median(node.rounds))}; vfiokit over bare node: ${mib(results[1].median_ns - median(node.rounds))}`);
      if (ex.core_memory_bytes) notes.push(`the core's Wasm linear memory: ${mib(ex.core_memory_bytes)} (fixed size; only its touched pages count in VmRSS)`);
      const cx = c.extra[0] ?? {};
      if (cx.before_bytes) notes.push(`C before opening: ${mib(cx.before_bytes)}`);
    }
    // A diagnostic named for this case ("<bench> <case>: <what>", e.g. lab-ram-map's bare-koffi floor)
    // goes into its results file, as the floor of the vfiokit row.
    const own = diagnostics.filter((d) => d.case.startsWith(`${g.bench} ${g.case}: `)).map((d) => ({ name: d.case.slice(g.bench.length + g.case.length + 3), median_ns: d.median_ns }));
    if (own.length) results[1].floor = own[0].name;
    const extra = spec.goalBefore13 ? { goal_before_issue_13: spec.goalBefore13 } : {};
    const rowOf = (start) => (start === '@vfiokit' ? results[1] : own.find((d) => d.name.startsWith(start)));
    for (const [field, [num, den]] of Object.entries(spec.ratios ?? {})) {
      const a = rowOf(num), b = rowOf(den);
      if (a && b) extra[field] = +(a.median_ns / b.median_ns).toFixed(3);
    }
    docs.push({ file: fileName(g.bench, g.case, casesOf.get(g.bench)), doc: { what: `${g.case}: ${spec.what}`, reference: results[0].name, goal: spec.goal, ...(spec.floorGoal ? { floorGoal: spec.floorGoal } : {}), unit: g.unit, results, ...(own.length ? { diagnostics: own } : {}), note: notes.join('; '), ...(Object.keys(extra).length ? { extra } : {}) } });
  }
  return { docs, problems, diagnostics };
}

/** Median and p-th percentile helpers re-exported for the tests. */
export { median, percentile };

function fmt(ns) { return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} us` : `${ns.toFixed(0)} ns`; }
function mib(b) { return `${(b / 2 ** 20).toFixed(1)} MiB`; }
