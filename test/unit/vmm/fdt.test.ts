// The mini-vmm's guest DTB (examples/mini-vmm/fdt.ts): board nodes written by the example, the
// pl031's platform bus, node and clock from vfiokit's guestNodeFor, read back by dtc and fdtget
// (independent readers) and by the example's own reader.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { guestDtb, node, readFdt, str, u32s, writeFdt, GIC_PHANDLE, FIRST_DEVICE_PHANDLE } from '../../../examples/mini-vmm/fdt';
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

test('writeFdt then readFdt is the identity on a tree; dtc agrees on the names', () => {
  const t = node('', [['#address-cells', u32s(2)], ['model', str('a', 'b')]], [node('x@1', [['reg', u32s(1)]], [node('y')]), node('z')]);
  const b = writeFdt(t);
  assert.equal(readFdt(b), t);
  assert.is(tool('fdtget', ['-l', save('t.dtb', b), '/']), 'x@1\nz');
  assert.is(tool('fdtget', ['-t', 's', save('t2.dtb', b), '/', 'model']), 'a b');
});

test('readFdt of the guest DTB and write again gives the same bytes', () => {
  assert.equal(writeFdt(readFdt(dtb)), dtb);
});

test('readFdt refuses what is not a DTB, a truncated one, and a depth over MAX_DEPTH', () => {
  assert.throws(() => readFdt(new Uint8Array(64)), /no FDT magic/);
  const cut = dtb.slice(); new DataView(cut.buffer).setUint32(36, dtb.byteLength);   // size_dt_struct past the end
  assert.throws(() => readFdt(cut), /bad DTB/);
  let deep = node('n'); for (let i = 0; i < 70; i++) deep = node('n', [], [deep]);
  assert.throws(() => readFdt(writeFdt(node('', [], [deep]))), /deeper than 64/);
});

test.run();
