// Runs INSIDE the lab guest: `vfiokit walkthrough` (`npm run lab -- vfiokit walkthrough`, and the
// main job of an installed package, which has no nested guest for `vfiokit run`) runs to the end on
// the real kernel and prints each step's evidence.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

test('vfiokit walkthrough: every step works and prints its evidence', () => {
  const r = spawnSync('vfiokit', ['walkthrough'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stdout + r.stderr);
  for (const evidence of [
    'PrimeCell ID through the mapping:  0x0d 0xf0 0x05 0xb1',
    'PrimeCell ID through the trap path: 0x0d 0xf0 0x05 0xb1',
    'interrupt received after',
    'BAR0 identification register: 0x010000ed',
    'device copied "passed through by vfiokit"',
    'blocked by the IOMMU, no memory touched',
    'pl031@c000000 {',
    'walkthrough: every step worked',
  ]) assert.ok(r.stdout.includes(evidence), `missing: ${evidence}`);
});

test.run();
