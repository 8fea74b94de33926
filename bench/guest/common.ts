// Shared by the guest-side JS benchmarks (run inside the lab by bench/lab.mjs): the clock, the
// statistics and the console line the host collects, the same as bench/native/lab/common.h prints.
// Not responsible for: judging the figures (the host takes medians over every pass, and ratios).

import { closeSync, openSync, readSync } from 'node:fs';

/** The console marker: the host keeps the lines that start with it (bench/lab-parse.mjs). */
export const MARK = '@@VFIOKIT-BENCH@@';
export const PL031 = '9010000.pl031';
export const EDU = '0000:00:02.0';

export const now = (): bigint => process.hrtime.bigint();

/** The p-th percentile, the same rule as bench/lib.mjs and common.h. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))]!;
}

/** One measurement line: per-round values (ns per operation, or bytes), p99 of single operations. */
export function emit(bench: string, cas: string, unit: 'ns' | 'bytes', rounds: number[], p99?: number, extra: Record<string, unknown> = {}): void {
  const line = { bench, case: cas, impl: 'js', unit, rounds: rounds.map((x) => +x.toFixed(1)), ...(p99 === undefined ? {} : { p99: +p99.toFixed(1) }), ...extra };
  process.stdout.write(`${MARK} ${JSON.stringify(line)}\n`);
}

/** The physical layout of `len` bytes at `host` (touched, so present), from /proc/self/pagemap
 *  (root sees the PFNs): the physically contiguous runs when cut into `piece`-byte pieces, as
 *  common.h's layout_runs (type1 pins and iommu_map()s one run at a time). -1 when unreadable. */
export function layoutRuns(host: bigint, len: number, piece: number): number {
  const pages = len / 4096, per = piece / 4096;
  const e = new BigUint64Array(pages);
  try {
    const fd = openSync('/proc/self/pagemap', 'r');
    try { if (readSync(fd, new Uint8Array(e.buffer), 0, pages * 8, Number(host / 4096n) * 8) !== pages * 8) return -1; } finally { closeSync(fd); }
  } catch { return -1; }
  const PFN = (1n << 55n) - 1n;
  let runs = 0;
  for (let i = 0; i < pages; i++) if (i % per === 0 || (e[i]! & PFN) !== (e[i - 1]! & PFN) + 1n) runs++;
  return runs;
}

/** A positive integer from argv (after the script), or the default. */
export function arg(i: number, def: number): number {
  const v = process.argv[2 + i];
  return v === undefined ? def : Number(v);
}
