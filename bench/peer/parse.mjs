// The side-by-side benchmark's results (bench/peer.mjs): reads the lines bench/peer/run.ts prints
// on the L1 console and turns the runs into figures, each the median of the passes per way, with
// the ratio mini-VMM / QEMU beside it. Pure (no processes, no files), so test/unit/bench/ can
// feed it lines.
import { median } from '../lib.mjs';

/** The prefix of a result line: PEER_MARK + ' ' + JSON ({ way, pass, ... } or { error }). */
export const PEER_MARK = '@@VFIOKIT-PEER@@';

/** The ways, in the order the first pass runs them (later passes turn it around), and their names
 *  in the results. The reference is QEMU as the issue sets it up: the device passed through. */
export const WAYS = Object.freeze({
  'qemu-edu': 'QEMU, edu via its vfio-pci',
  'mini-vmm': 'mini-VMM, pl031 via vfio-amba',
  'qemu-none': 'QEMU, nothing passed through',
});

/** The figures of a run: results field, the run's field, unit. */
export const FIGURES = Object.freeze([
  ['first_line', 'firstLineMs', 'ms'],
  ['verdict', 'verdictMs', 'ms'],
  ['peak_rss', 'peakRssBytes', 'bytes'],
  ['l2_console_lines', 'l2ConsoleLines', 'lines'],
]);

/** One console line: the run object, { error }, or undefined for any other line. */
export function parsePeerLine(text) {
  const at = text.indexOf(PEER_MARK);
  if (at < 0) return undefined;
  let v;
  try { v = JSON.parse(text.slice(at + PEER_MARK.length)); } catch { return { error: `unreadable result line: ${text.slice(at, at + 200)}` }; }
  if (typeof v?.error === 'string') return v;
  if (!(v?.way in WAYS) || !FIGURES.every(([, k]) => Number.isFinite(v[k]))) return { error: `a result line without a known way and every figure: ${text.slice(at, at + 200)}` };
  return v;
}

const ratio = (a, b) => (a !== undefined && b ? +(a / b).toFixed(2) : null);

/**
 * The figures over all runs: { figures: { name: { unit, qemu_edu, mini_vmm, qemu_none, values,
 * mini_vmm_over_qemu_ratio, mini_vmm_over_qemu_none_ratio } }, problems }. A figure of a way with
 * no run is undefined, and its ratios null.
 */
export function summarizePeer(runs) {
  const problems = [];
  const values = (way, k) => runs.filter((r) => r.way === way).map((r) => r[k]);
  const med = (way, k) => (values(way, k).length ? median(values(way, k)) : undefined);
  for (const way of Object.keys(WAYS)) if (values(way, 'firstLineMs').length === 0) problems.push(`no complete run of ${way}`);
  const figures = {};
  for (const [name, k, unit] of FIGURES) {
    const q = med('qemu-edu', k), m = med('mini-vmm', k), n = med('qemu-none', k);
    figures[name] = { unit, qemu_edu: q, mini_vmm: m, qemu_none: n, values: Object.fromEntries(Object.keys(WAYS).map((w) => [w, values(w, k)])),
      mini_vmm_over_qemu_ratio: ratio(m, q), mini_vmm_over_qemu_none_ratio: ratio(m, n) };
  }
  return { figures, problems };
}
