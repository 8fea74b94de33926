// What the lab's load and fault tests share (test/lab/load-*.test.ts, test/lab/fault-*.test.ts):
// the two sizes of every run (a short one for the lab suite, a soak one for `npm run soak`), the
// process-wide counters that show nothing leaked (fds, mappings, eventfds, RSS, the core's tables),
// a least-squares slope over samples, and the one line per piece the soak summary is made of.
// Not responsible for: driving a device (each test does), the summary table (lab/soak.mjs).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IrqMachine, RegionTable } from '../../src/core-api';
import { core } from '../../src/core/loader';
import { VFIO_MAPPING } from './fds';

export { VFIO_MAPPING };

/** Seconds `npm run soak -- --minutes N` gives the whole soak (0: the lab suite's short run). */
export const SOAK_S = Number(process.env.VFIOKIT_SOAK_S ?? 0) || 0;
/** True under `npm run soak`. */
export const SOAK = SOAK_S > 0;
/** The marker of a result line on the guest's console; lab/soak.mjs collects them. */
export const RESULT_MARK = '@@VFIOKIT-SOAK@@';

/** The short count in the lab suite, the soak count under `npm run soak`. */
export function size(short: number, soak: number): number { return SOAK ? soak : short; }

/** A piece's share of the soak, in ms from now: it runs at least its soak counts, then repeats
 *  until this deadline (0 outside soak mode: the counts alone decide). */
export function soakDeadline(share: number): number { return SOAK ? Date.now() + SOAK_S * 1000 * share : 0; }

/** ms between two progress lines in soak mode: the soak's watchdog ends a guest that prints
 *  nothing for 10 minutes (lab/soak.mjs). */
const PROGRESS_MS = 60_000;
let lastProgress = Date.now();
/** In soak mode, a line at most once a minute saying how far a piece is (`text` is called only then). */
export function progress(text: () => string): void {
  if (!SOAK || Date.now() - lastProgress < PROGRESS_MS) return;
  lastProgress = Date.now();
  console.log(`  ... ${text()}`);
}

/** Prints one result of a piece (counts, rates, slopes; `ok` when nothing was lost or leaked). */
export function report(piece: string, fields: Record<string, number | string | boolean>): void {
  console.log(`${RESULT_MARK} ${JSON.stringify({ piece, soak: SOAK, ...fields })}`);
}

/** A random integer in [0, n), from a seeded generator (xorshift32) so a failing run can be repeated. */
export function rng(seed = Number(process.env.VFIOKIT_LOAD_SEED ?? Date.now() & 0xffff_ffff) >>> 0 || 1): { seed: number; int(n: number): number } {
  let x = seed >>> 0 || 1;
  return {
    seed,
    int(n) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; },
  };
}

let gcFn: (() => void) | undefined;
/** A full garbage collection (the flag is set at run time: the lab runs plain `node file`). */
export function gc(): void {
  if (!gcFn) { setFlagsFromString('--expose-gc'); gcFn = runInNewContext('gc') as () => void; }
  gcFn();
}

/** Free slots of one of the core's fixed tables: taken one by one until the core says no-space,
 *  then all given back. A slot leaked by a closed device shows as one fewer. */
function freeSlots(make: () => { close(): void }): number {
  const taken: { close(): void }[] = [];
  try { for (;;) taken.push(make()); } catch { /* the table is full */ } finally { for (const t of taken) t.close(); }
  return taken.length;
}

/** What one process holds now: open fds, mappings (all and VFIO's), eventfds, resident memory
 *  (after a full GC), and the core's: its Wasm memory and the free slots of its IRQ-machine and
 *  region tables. */
export interface Holdings { fds: number; maps: number; vfioMaps: number; eventfds: number; rssKiB: number; heapKiB: number; coreBytes: number; freeMachines: number; freeRegionTables: number }
export function holdings(): Holdings {
  gc();
  const fdNames = readdirSync('/proc/self/fd');
  let eventfds = 0;
  for (const f of fdNames) { try { if (readlinkSync(`/proc/self/fd/${f}`) === 'anon_inode:[eventfd]') eventfds++; } catch { /* the listing's own fd */ } }
  const maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter(Boolean);
  const rss = /^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return {
    fds: fdNames.length, maps: maps.length, vfioMaps: maps.filter((l) => VFIO_MAPPING.test(l)).length, eventfds,
    rssKiB: rss ? Number(rss[1]) : 0, heapKiB: Math.round(process.memoryUsage().heapUsed / 1024),
    coreBytes: core().exports.memory.buffer.byteLength,
    freeMachines: freeSlots(() => new IrqMachine('platform')),
    freeRegionTables: freeSlots(() => new RegionTable()),
  };
}

/** The least-squares slope of ys over xs (units of y per unit of x). */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den === 0 ? 0 : num / den;
}

/** Per-second rate of `n` events over the ms since `t0`. */
export const rate = (n: number, t0: number): number => Math.round(n / Math.max((Date.now() - t0) / 1000, 1e-3));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
