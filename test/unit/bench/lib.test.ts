// bench/lib.mjs's writeResults: the ratio to the reference, and issue 13's goal for JS paths (at
// most floorGoal times the floor measured in the same run). Writes into a temporary root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-bench-lib-'));
process.env.VFIOKIT_ROOT = dir;
// @ts-ignore: a plain ESM module of the bench scripts
const { writeResults } = await import('../../../bench/lib.mjs');

test('a result with a floor gets its ratio to that floor, met when at most floorGoal times it', () => {
  const log = console.log; console.log = () => {};
  try {
    writeResults('x', { what: 'w', reference: 'C', goal: null, floorGoal: 1.1,
      results: [{ name: 'C', median_ns: 100 }, { name: 'api', median_ns: 210, floor: 'bare' }, { name: 'other', median_ns: 300, floor: 'bare2' }],
      diagnostics: [{ name: 'bare', median_ns: 200 }, { name: 'bare2', median_ns: 250 }] });
  } finally { console.log = log; }
  const d = JSON.parse(readFileSync(join(dir, 'bench/results/x.json'), 'utf8'));
  assert.is(d.goal, null);
  assert.is(d.goal_vs_floor, 1.1);
  assert.equal(d.results.map((r: { ratio: number; floor_ratio?: number; floor_goal_met?: boolean }) => [r.ratio, r.floor_ratio, r.floor_goal_met]), [[1, undefined, undefined], [2.1, 1.05, true], [3, 1.2, false]]);
  assert.is(d.diagnostics[0].ratio, 2);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
