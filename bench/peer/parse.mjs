// The side-by-side benchmark's results (bench/peer.mjs): reads the lines bench/peer/run.ts prints
// on the L1 console and turns the runs into figures, each the median of the passes per way, with
// the ratio mini-VMM / QEMU beside it. Pure (no processes, no files), so test/unit/bench/ can
// feed it lines.
import { median } from '../lib.mjs';

/** The prefix of a result line: PEER_MARK + ' ' + JSON ({ way, pass, ... } or { error }). */
export const PEER_MARK = '@@VFIOKIT-PEER@@';

/** The ways, in the order the first pass runs them (later passes turn it around), and their names
 *  in the results. The reference pair is the same device under both VMMs: the lab's NVMe, by
 *  QEMU's vfio-pci and by the mini-VMM's --pci (vfiokit's PciPassthrough). The other three came
 *  first, before the mini-VMM could pass a PCI function to a Linux guest: the edu under QEMU, the
 *  pl031 under the mini-VMM, and QEMU with nothing passed through (what QEMU's passthrough costs). */
export const WAYS = Object.freeze({
  'qemu-nvme': 'QEMU, NVMe via its vfio-pci',
  'mini-vmm-nvme': 'mini-VMM, NVMe via --pci (PciPassthrough)',
  'qemu-edu': 'QEMU, edu via its vfio-pci',
  'mini-vmm': 'mini-VMM, pl031 via vfio-amba',
  'qemu-none': 'QEMU, nothing passed through',
});
/** The ways with the NVMe: their runs carry the NVMe figures too. */
export const NVME_WAYS = Object.freeze(['qemu-nvme', 'mini-vmm-nvme']);

/** The figures of every run: results field, the run's field, unit. */
export const FIGURES = Object.freeze([
  ['first_line', 'firstLineMs', 'ms'],
  ['verdict', 'verdictMs', 'ms'],
  ['peak_rss', 'peakRssBytes', 'bytes'],
  ['l2_console_lines', 'l2ConsoleLines', 'lines'],
]);
/** The figures of the NVMe ways' runs: start to the L2 nvme driver's probe line as it reaches the
 *  pipe, and as the L2's clock has it (first line + the printk time of the probe: without the
 *  console's backlog), the L2 init's MB/s (nvme-figures), and its nvme interrupts divided by its
 *  I/Os over the same transfers. */
export const NVME_FIGURES = Object.freeze([
  ['nvme_probe', 'probeMs', 'ms'],
  ['nvme_probe_guest_clock', 'guestProbeMs', 'ms'],
  ['nvme_read', 'readMbs', 'MB/s'],
  ['nvme_write', 'writeMbs', 'MB/s'],
  ['interrupts_per_io', 'irqsPerIo', 'interrupts'],
  // The random-read workload: 4 KiB reads at queue depth 1, O_DIRECT (nvme-randread): reads per
  // second; interrupts per I/O over it (one command in flight: a count, not a timing); the VMM's
  // context switches over all its threads per read, and those of its busiest thread (the vCPU's).
  ['nvme_randread_iops', 'randIops', 'IOPS'],
  ['interrupts_per_io_qd1', 'randIrqsPerIo', 'interrupts'],
  ['wakeups_per_io', 'wakeupsPerIo', 'wake-ups'],
  ['top_thread_wakeups_per_io', 'topWakeupsPerIo', 'wake-ups'],
]);

/** The issue's guest-visible goals on the NVMe pair, each a bound on the ratio mini-VMM / QEMU:
 *  figure, how the ratio is judged, the goal as written. "Equal" interrupts per I/O: within the
 *  rounding of two decimals of the ratio (1.00), judged at queue depth 1 (the sequential transfers'
 *  interrupts_per_io depends on when the guest's handler runs, so it stays a figure only). */
export const GOALS = Object.freeze([
  { figure: 'nvme_read', goal: 'NVMe read throughput >= 0.95x QEMU\'s', met: (r) => r >= 0.95 },
  { figure: 'nvme_write', goal: 'NVMe write throughput >= 0.95x QEMU\'s', met: (r) => r >= 0.95 },
  { figure: 'nvme_probe', goal: 'setup to the nvme probe <= 1.0x QEMU\'s (the probe line as it reaches the pipe)', met: (r) => r <= 1.0 },
  { figure: 'nvme_probe_guest_clock', goal: 'setup to the nvme probe <= 1.0x QEMU\'s (by the L2\'s clock, without the console\'s backlog)', met: (r) => r <= 1.0 },
  { figure: 'nvme_randread_iops', goal: '4 KiB random-read IOPS (QD1, O_DIRECT) >= 0.95x QEMU\'s', met: (r) => r >= 0.95 },
  { figure: 'interrupts_per_io_qd1', goal: 'interrupts per I/O equal to QEMU\'s (at QD1, where each read is one command)', met: (r) => r === 1 },
]);

/** One console line: the run object, { error }, or undefined for any other line. */
export function parsePeerLine(text) {
  const at = text.indexOf(PEER_MARK);
  if (at < 0) return undefined;
  let v;
  try { v = JSON.parse(text.slice(at + PEER_MARK.length)); } catch { return { error: `unreadable result line: ${text.slice(at, at + 200)}` }; }
  if (typeof v?.error === 'string') return v;
  const needed = NVME_WAYS.includes(v?.way) ? [...FIGURES, ...NVME_FIGURES] : FIGURES;
  if (!(v?.way in WAYS) || !needed.every(([, k]) => Number.isFinite(v[k]))) return { error: `a result line without a known way and every figure: ${text.slice(at, at + 200)}` };
  return v;
}

const ratio = (a, b) => (a !== undefined && b ? +(a / b).toFixed(2) : null);
const key = (way) => way.replaceAll('-', '_');

/**
 * The figures over all runs: { figures: { name: { unit, <way>: median (qemu_nvme, mini_vmm_nvme,
 * qemu_edu, mini_vmm, qemu_none), values: { way: [...] }, nvme_ratio (mini-VMM / QEMU, the NVMe
 * pair), mini_vmm_over_qemu_ratio (pl031 / edu), mini_vmm_over_qemu_none_ratio } }, goals: [{ goal,
 * figure, mini_vmm, qemu, unit, ratio, met }], problems }. A figure of a way with no run is
 * undefined, and its ratios null; a goal whose ratio is null is not met.
 */
export function summarizePeer(runs) {
  const problems = [];
  const values = (way, k) => runs.filter((r) => r.way === way && Number.isFinite(r[k])).map((r) => r[k]);
  const med = (way, k) => (values(way, k).length ? median(values(way, k)) : undefined);
  for (const way of Object.keys(WAYS)) if (values(way, 'firstLineMs').length === 0) problems.push(`no complete run of ${way}`);
  const figures = {};
  for (const [name, k, unit] of FIGURES) {
    const m = Object.fromEntries(Object.keys(WAYS).map((w) => [key(w), med(w, k)]));
    figures[name] = { unit, ...m, values: Object.fromEntries(Object.keys(WAYS).map((w) => [w, values(w, k)])),
      nvme_ratio: ratio(m.mini_vmm_nvme, m.qemu_nvme), mini_vmm_over_qemu_ratio: ratio(m.mini_vmm, m.qemu_edu), mini_vmm_over_qemu_none_ratio: ratio(m.mini_vmm, m.qemu_none) };
  }
  for (const [name, k, unit] of NVME_FIGURES) {
    const m = Object.fromEntries(NVME_WAYS.map((w) => [key(w), med(w, k)]));
    figures[name] = { unit, ...m, values: Object.fromEntries(NVME_WAYS.map((w) => [w, values(w, k)])), nvme_ratio: ratio(m.mini_vmm_nvme, m.qemu_nvme) };
  }
  const goals = GOALS.map((g) => {
    const f = figures[g.figure];
    return { goal: g.goal, figure: g.figure, mini_vmm: f.mini_vmm_nvme, qemu: f.qemu_nvme, unit: f.unit, ratio: f.nvme_ratio, met: f.nvme_ratio !== null && g.met(f.nvme_ratio) };
  });
  return { figures, goals, problems };
}
