// PciConfig.reset(): after the device's reset the shadow (and the MSI-X emulation in its slot)
// go back to what a guest sees of a function out of reset, and the caller is told what to tear
// down: live vectors masked, mapped BARs unmapped, an enabled MSI / MSI-X disabled. Fixtures:
// multi() (every BAR kind, MSI at 0x50, MSI-X at 0x70 with 16 vectors) and edu() (MSI only).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PciConfig, type PciAction } from '../../../src/core/pci';
import { PciMsix } from '../../../src/core/msix';
import { VfioError } from '../../../src/errors';
import { edu, multi } from './fixtures';

const entry = (v: number, reg = 0) => v * 16 + reg;
const caught = (fn: () => unknown): VfioError => {
  try { fn(); } catch (e) { if (e instanceof VfioError) return e; throw e; }
  throw new Error('expected a VfioError');
};

/** A guest run on multi(): BAR1 placed and mapped, vectors 2 and 5 programmed, MSI-X enabled. */
function run(p: PciConfig, x: PciMsix): void {
  p.write(0x14, 4, 0x8000_0000);            // BAR1 at 0x80000000
  p.write(0x20, 4, 0x9000_0000); p.write(0x24, 4, 0); // BAR4/5 at 0x90000000
  const acts = p.write(0x04, 2, 0x0006);    // memory + bus master
  assert.ok(acts.some((a) => a.kind === 'map' && a.bar === 1) && acts.some((a) => a.kind === 'map' && a.bar === 4), JSON.stringify(acts, (_k, v) => typeof v === 'bigint' ? v.toString(16) : v));
  for (const [v, addr, data] of [[2, 0x0800_0040n, 0x21], [5, 0x0800_0040n, 0x25]] as const) {
    x.write('table', entry(v, 0), 8, addr);
    x.write('table', entry(v, 8), 4, data);
    x.write('table', entry(v, 12), 4, 0);
  }
  p.write(0x72, 2, 0x8000);                 // MSI-X Enable
  assert.is(x.stats().liveVectors, 2);
  x.write('table', entry(5, 12), 4, 1);     // the guest masks 5 ...
  x.fire(5);                                 // ... and it fires: pending
  assert.ok(x.vector(5).pending);
}

test('reset after a guest run: masks for live vectors, unmaps for mapped BARs, then msix-update; the guest view is out of reset', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  const x = new PciMsix(p);
  run(p, x);
  const acts = p.reset(config, sizes);
  const expected: PciAction[] = [
    { kind: 'msix-mask', vector: 2 },
    { kind: 'unmap', bar: 1, address: 0x8000_0000n, size: 16384n },
    { kind: 'unmap', bar: 4, address: 0x9000_0000n, size: 65536n },
    { kind: 'msix-update', offset: 0x70, control: 0x000f },
  ];
  assert.equal(acts, expected);
  // The guest's view: BARs unassigned and unmapped, decoding off, MSI-X disabled.
  assert.is(p.read(0x04, 2), 0);
  assert.is(p.read(0x14, 4), 0);
  assert.is(p.read(0x72, 2), 0x000f);
  for (const b of p.bars()) assert.ok(!b.mapped && b.address === 0n, `BAR${b.index}`);
  // Every vector masked, address and data 0, nothing pending; counters restart.
  for (let v = 0; v < 16; v++) {
    assert.equal(x.vector(v), { vector: v, address: 0n, data: 0, masked: true, pending: false, live: false, stale: true }, `vector ${v}`);
    assert.is(x.read('table', entry(v, 12), 4), 1n);
  }
  assert.is(x.read('pba', 0, 8), 0n);
  assert.equal(x.stats(), { entries: 16, enabled: false, functionMasked: false, badAccesses: 0n, pbaWrites: 0n, firesDropped: 0n, liveVectors: 0, pendingVectors: 0 });
  // And a second guest run works from there as the first did.
  run(p, x);
  assert.is(x.stats().liveVectors, 1);
});

test('reset of a fresh shadow or right after another reset: nothing to undo', () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  assert.equal(p.reset(config, sizes), []);
  assert.equal(p.reset(config, sizes), []);
});

test('MSI enabled (edu): msi-update with the control disabled; address and data back to 0', () => {
  const { config, sizes } = edu();
  using p = new PciConfig(config, sizes);
  p.write(0x44, 4, 0x0800_0040); p.write(0x4c, 2, 0x41);
  p.write(0x42, 2, 0x0081);                 // MSI Enable
  assert.is(p.read(0x42, 2) & 1, 1);
  const acts = p.reset(config, sizes);
  assert.equal(acts, [{ kind: 'msi-update', offset: 0x40, control: 0x0080 }]);
  assert.is(p.read(0x42, 2), 0x0080);
  assert.is(p.read(0x44, 4), 0);
  assert.is(p.read(0x4c, 2), 0);
});

test("another function's config (other BAR sizes, no MSI-X): 'bad-state', the shadow left as it was", () => {
  const { config, sizes } = multi();
  using p = new PciConfig(config, sizes);
  const x = new PciMsix(p);
  run(p, x);
  const e = caught(() => p.reset(edu().config, edu().sizes));
  assert.is(e.kind, 'bad-state');
  assert.match(e.message, /layout/);
  const bigger = [...sizes]; bigger[1] = 32768n;
  assert.is(caught(() => p.reset(config, bigger)).kind, 'bad-state', 'a BAR of another size');
  assert.ok(p.bar(1).mapped, 'BAR1 still mapped');
  assert.is(x.stats().liveVectors, 1, 'vector 2 still live');
  assert.is(caught(() => p.reset(new Uint8Array(100), sizes)).kind, 'bad-argument');
  p.close();
  assert.is(caught(() => p.reset(config, sizes)).kind, 'closed');
});

test.run();
