// The mini-vmm's guest DTB (examples/mini-vmm/dtb.ts): board nodes written with vfiokit's
// FdtBuilder, the pl031's platform bus, node and clock from guestNodeFor, merged with mergeFdt;
// read back by dtc and fdtget (independent readers) and by vfiokit's parseFdt.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseFdt } from '../../../src/index';
import { boardDtb, guestDtb, FIRST_DEVICE_PHANDLE } from '../../../examples/mini-vmm/dtb';
import { LAYOUT } from '../../../examples/mini-vmm/vmm';
import { virtDtb } from '../dtnode/virt-dtb';

const dir = mkdtempSync(join(tmpdir(), 'vfiokit-vmm-fdt-'));
function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
const save = (name: string, b: Uint8Array): string => { const p = join(dir, name); writeFileSync(p, b); return p; };

const dtb = guestDtb({
  hostDtb: virtDtb(), deviceName: '9010000.pl031', regionGpa: 0x0c00_0000n, spi: 112, irqFlags: 7,
  ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr }, bus: LAYOUT.bus, bootargs: 'mini-vmm',
});
const f = save('guest.dtb', dtb);
/** The board's GIC phandle: the first the board's builder hands out. */
const GIC_PHANDLE = 1;

test('dtc reads the guest DTB; its one warning is about the bus guestNodeFor writes', () => {
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', f], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  // dtc 1.6 does not count an empty `ranges;` as the address a unit name needs. The board nodes
  // written by the example itself draw no warning.
  const warnings = r.stderr.trim().split('\n').filter(Boolean);
  assert.equal(warnings, ['/dev/null: Warning (unit_address_vs_reg): /platform-bus@c000000: node has a unit name, but no reg or ranges property']);
});

test('board nodes: memory, GICv3 with its phandle, PSCI over hvc, the cpu, chosen', () => {
  assert.is(tool('fdtget', ['-t', 'x', f, '/memory@40000000', 'reg']), '0 40000000 0 10000');
  assert.is(tool('fdtget', ['-t', 's', f, '/intc@8000000', 'compatible']), 'arm,gic-v3');
  assert.is(tool('fdtget', ['-t', 'x', f, '/intc@8000000', 'reg']), '0 8000000 0 10000 0 80a0000 0 20000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/intc@8000000', 'phandle']), GIC_PHANDLE.toString(16));
  assert.is(tool('fdtget', ['-t', 'x', f, '/', 'interrupt-parent']), GIC_PHANDLE.toString(16));
  assert.is(tool('fdtget', ['-t', 's', f, '/psci', 'method']), 'hvc');
  assert.is(tool('fdtget', ['-t', 's', f, '/cpus/cpu@0', 'enable-method']), 'psci');
  assert.is(tool('fdtget', ['-t', 's', f, '/chosen', 'bootargs']), 'mini-vmm');
});

test('the passed-through pl031 (from guestNodeFor): at the placed address, level SPI 112, its clock copied', () => {
  const dev = '/platform-bus@c000000/pl031@c000000';
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'compatible']), 'arm,pl031 arm,primecell');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'reg']), '0 c000000 0 1000');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'interrupts']), '0 70 4');
  assert.is(tool('fdtget', ['-t', 'x', f, '/platform-bus@c000000', 'interrupt-parent']), GIC_PHANDLE.toString(16));
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'clocks']), FIRST_DEVICE_PHANDLE.toString(16));
  const clocks = tool('fdtget', ['-l', f, '/']).split('\n').filter((n) => n.includes('clk') || n.includes('clock'));
  assert.ok(clocks.length >= 1, `a copied clock node at the root: ${tool('fdtget', ['-l', f, '/'])}`);
});

test('parseFdt reads the merged tree: the device under its bus, phandles of board and device apart, no node lost', () => {
  const t = parseFdt(dtb);
  const dev = t.node('/platform-bus@c000000/pl031@c000000');
  assert.equal(dev.reg(), [{ address: 0x0c00_0000n, size: 0x1000n }]);
  assert.equal(dev.prop('interrupts').u32s(), [0, 112, 4]);
  assert.is(t.nodeByPhandle(GIC_PHANDLE)?.name, 'intc@8000000');
  const clk = t.nodeByPhandle(dev.prop('clocks').u32s()[0]!);
  assert.ok(clk && clk.parent?.name === '', `the copied clock sits at the root: ${clk?.path}`);
  assert.is(t.maxPhandle, FIRST_DEVICE_PHANDLE, 'one clock copied, at the first device phandle');
  // The board's children first, in the order written, then the device's (merge appends).
  const names = t.node('/').children().map((n) => n.name);
  assert.equal(names.slice(0, 5), ['psci', 'cpus', 'memory@40000000', 'intc@8000000', 'chosen']);
  assert.ok(names.includes('platform-bus@c000000'));
});

test('the board alone: one phandle (the GIC), below the device range; dtc reads it without a warning', () => {
  const b = boardDtb({ ram: LAYOUT.ram, gic: { dist: LAYOUT.gicd, redist: LAYOUT.gicr } });
  assert.is(b.gicPhandle, GIC_PHANDLE);
  assert.ok(parseFdt(b.dtb).maxPhandle < FIRST_DEVICE_PHANDLE);
  const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-o', '/dev/null', save('board.dtb', b.dtb)], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), '');
  assert.not.ok(parseFdt(b.dtb).node('/chosen').has('bootargs'), 'no bootargs unless asked');
});

test.run();
