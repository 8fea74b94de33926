// Property: for random placements (guest addresses, SPIs, VFIO flags, cells), the generated pl031
// node read back by fdtget (an independent reader) has reg = the placement, interrupts = one GIC
// SPI triple per line with 4 for AUTOMASKED and 1 otherwise, and the clock phandle it was given.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { virtDtb } from './virt-dtb';
import { guestNodeFor } from '../../../src/core/dtnode';

const RUNS = Number(process.env.DTNODE_PROPERTY_RUNS ?? 60);

function fdtget(file: string, node: string, prop: string): string {
  const r = spawnSync('fdtget', ['-t', 'x', file, node, prop], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fdtget ${node} ${prop}: ${r.stderr}`);
  return r.stdout.trim();
}
const hex = (v: bigint | number) => v.toString(16);

test('reg, interrupts and clocks read back by fdtget match the placement', () => {
  const host = virtDtb();
  const dir = mkdtempSync(join(tmpdir(), 'vfiokit-dtprop-'));
  try {
    fc.assert(fc.property(
      fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((p) => p << 12n),
      fc.array(fc.record({ spi: fc.nat(987), flags: fc.nat(15) }), { maxLength: 6 }),
      fc.integer({ min: 1, max: 0xfff0 }),
      (addr, lines, ph) => {
        const g = guestNodeFor({
          hostDtb: host, hostNodePath: '/pl031@9010000', placement: { regions: [addr], spis: lines.map((l) => l.spi) },
          irqFlags: lines.map((l) => l.flags), bus: { base: 0n, size: 1n << 62n }, firstPhandle: ph,
        });
        const f = join(dir, 'g.dtb');
        writeFileSync(f, g.dtb);
        const node = `/platform-bus@0/pl031@${hex(addr)}`;
        assert.is(fdtget(f, node, 'reg'), `${hex(addr >> 32n)} ${hex(addr & 0xffff_ffffn)} 0 1000`);
        if (lines.length > 0) {
          assert.is(fdtget(f, node, 'interrupts'), lines.map((l) => `0 ${hex(l.spi)} ${l.flags & 4 ? 4 : 1}`).join(' '));
        }
        assert.is(fdtget(f, node, 'clocks'), hex(ph));
        assert.is(fdtget(f, '/apb-pclk', 'phandle'), hex(ph));
      },
    ), { numRuns: RUNS });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
