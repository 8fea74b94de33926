// The guest node of QEMU virt's pl031 (an AMBA device with clocks = <&apb-pclk>), generated from
// the DTB QEMU itself dumps, and read back with dtc and fdtget as independent readers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { guestNodeFor, hostNodeOfDevice } from '../../../src/core/dtnode';
import { VfioError } from '../../../src/errors';
import { core } from '../../../src/core/loader';
import { virtDtb } from './virt-dtb';

const host = virtDtb();
const dir = mkdtempSync(join(tmpdir(), 'vfiokit-dtnode-'));
const LEVEL = 7, EDGE = 1;  // VFIO flags: EVENTFD|MASKABLE|AUTOMASKED, EVENTFD
const memoryBefore = core().exports.memory.buffer.byteLength;

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
function save(name: string, dtb: Uint8Array): string { const p = join(dir, name); writeFileSync(p, dtb); return p; }
const statusOf = (fn: () => unknown) => { try { fn(); return 'OK'; } catch (e) { return (e as VfioError).statusName ?? (e as Error).message; } };

test('pl031 node: compatible, reg at the guest placement, level SPI, clocks copied with a new phandle', () => {
  const g = guestNodeFor({
    hostDtb: host, hostNodePath: '/pl031@9010000',
    placement: { regions: [0x0c00_0000n], spis: [112] }, irqFlags: [LEVEL],
    bus: { base: 0x0c00_0000n, size: 0x0200_0000n }, firstPhandle: 0x9000,
  });
  const f = save('pl031.dtb', g.dtb);
  const dts = tool('dtc', ['-I', 'dtb', '-O', 'dts', f]);
  const dev = '/platform-bus@c000000/pl031@c000000';
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'compatible']), 'arm,pl031 arm,primecell');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'reg']), '0 c000000 0 1000');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'interrupts']), '0 70 4');
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'clocks']), '9000');
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'clock-names']), 'apb_pclk');
  assert.is(tool('fdtget', ['-t', 's', f, '/apb-pclk', 'compatible']), 'fixed-clock');
  assert.is(tool('fdtget', ['-t', 'x', f, '/apb-pclk', 'phandle']), '9000');
  assert.is(tool('fdtget', ['-t', 'u', f, '/apb-pclk', 'clock-frequency']), '24000000');
  assert.is(tool('fdtget', ['-t', 's', f, '/apb-pclk', 'clock-output-names']), 'clk24mhz');
  assert.is(tool('fdtget', ['-t', 'u', f, '/apb-pclk', '#clock-cells']), '0');
  assert.is(tool('fdtget', ['-t', 's', f, '/platform-bus@c000000', 'compatible']), 'qemu,platform simple-bus');
  assert.is(tool('fdtget', ['-t', 'u', f, '/platform-bus@c000000', '#address-cells']), '2');
  assert.is(tool('fdtget', ['-t', 'u', f, '/platform-bus@c000000', '#size-cells']), '2');
  assert.is(tool('fdtget', ['-l', f, '/']).split('\n').sort().join(','), 'apb-pclk,platform-bus@c000000');
  assert.ok(dts.includes('ranges;'), dts);
  assert.not.ok(dts.includes('dma-coherent'));
  assert.is(g.phandlesUsed, 1);
});

test('copied clocks never take the reserved phandles 0 and 0xffffffff', () => {
  const req = (firstPhandle: number) => () => guestNodeFor({
    hostDtb: host, hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_0000n], spis: [112] }, irqFlags: [LEVEL],
    bus: { base: 0x0c00_0000n, size: 0x0200_0000n }, firstPhandle,
  });
  assert.is(statusOf(req(0)), 'BAD_ARG');
  assert.is(statusOf(req(0xffff_ffff)), 'BAD_ARG');
  assert.is(statusOf(req(0xffff_fffe)), 'OK', 'one clock fits at the last usable phandle');
});

test('edge IRQ flags give edge-rising; no bus node when the VMM supplies one', () => {
  const g = guestNodeFor({
    hostDtb: host, hostNodePath: '/pl031@9010000',
    placement: { regions: [0x1_0000_0000n], spis: [5] }, irqFlags: [EDGE], bus: false,
  });
  const f = save('edge.dtb', g.dtb);
  assert.is(tool('fdtget', ['-t', 'x', f, '/pl031@100000000', 'interrupts']), '0 5 1');
  assert.is(tool('fdtget', ['-t', 'x', f, '/pl031@100000000', 'reg']), '1 0 0 1000');
});

test('a generated bus with 1/1 cells maps 0 to its base with ranges, and reg is bus-relative', () => {
  const g = guestNodeFor({
    hostDtb: host, hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_1000n], spis: [112] }, irqFlags: [LEVEL],
    bus: { base: 0x0c00_0000n, size: 0x0200_0000n }, cells: { address: 1, size: 1 }, interruptParent: 0x8002,
  });
  const f = save('cells1.dtb', g.dtb);
  assert.is(tool('fdtget', ['-t', 'x', f, '/platform-bus@c000000', 'ranges']), '0 0 c000000 2000000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/platform-bus@c000000/pl031@1000', 'reg']), '1000 1000');
  assert.is(tool('fdtget', ['-t', 'x', f, '/platform-bus@c000000', 'interrupt-parent']), '8002');
});

test('a VMM-supplied bus: reg relative to regBase; values that do not fit the cells are refused', () => {
  const req = { hostDtb: host, hostNodePath: '/pl031@9010000', placement: { regions: [0x1_0000_2000n], spis: [3] }, irqFlags: [LEVEL], bus: false as const };
  const g = guestNodeFor({ ...req, cells: { address: 1, size: 1 }, regBase: 0x1_0000_0000n });
  assert.is(tool('fdtget', ['-t', 'x', save('vmmbus.dtb', g.dtb), '/pl031@2000', 'reg']), '2000 1000');
  assert.is(statusOf(() => guestNodeFor({ ...req, cells: { address: 1, size: 1 } })), 'DTNODE_CELLS');
  assert.is(statusOf(() => guestNodeFor({ ...req, regBase: 0x2_0000_0000n })), 'DTNODE_CELLS');
});

test('device name 9010000.pl031 finds /pl031@9010000', () => {
  assert.is(hostNodeOfDevice(host, '9010000.pl031'), '/pl031@9010000');
  assert.is(hostNodeOfDevice(host, '9000000.pl011'), '/pl011@9000000');
  assert.is(statusOf(() => hostNodeOfDevice(host, '9020000.pl031')), 'DTNODE_NO_NODE');
  assert.is(statusOf(() => hostNodeOfDevice(host, 'pl031')), 'BAD_ARG');
  const g = guestNodeFor({ hostDtb: host, deviceName: '9010000.pl031', placement: { regions: [0x0c00_1000n], spis: [113] }, irqFlags: [LEVEL] });
  assert.is(g.hostNodePath, '/pl031@9010000');
});

test('refusals: unknown path, too few regions, bad DTB', () => {
  const base = { hostDtb: host, placement: { regions: [0x0c00_0000n], spis: [1] }, irqFlags: [LEVEL] };
  assert.is(statusOf(() => guestNodeFor({ ...base, hostNodePath: '/nope@0' })), 'DTNODE_NO_NODE');
  assert.is(statusOf(() => guestNodeFor({ ...base, hostNodePath: '/pl031@9010000', placement: { regions: [], spis: [1] } })), 'DTNODE_REG_COUNT');
  const bad = host.slice(); bad[0] = 0;
  assert.is(statusOf(() => guestNodeFor({ ...base, hostDtb: bad, hostNodePath: '/pl031@9010000' })), 'DTNODE_BAD_DTB');
  const cut = host.slice(0, 200);
  assert.is(statusOf(() => guestNodeFor({ ...base, hostDtb: cut, hostNodePath: '/pl031@9010000' })), 'DTNODE_BAD_DTB');
});

test('pl011 with dma-coherent: copied, and one clock referenced twice is copied once', () => {
  const f0 = save('pl011-host.dtb', host);
  tool('fdtput', [f0, '/pl011@9000000', 'dma-coherent']);
  const g = guestNodeFor({ hostDtb: new Uint8Array(readFileSync(f0)), deviceName: '9000000.pl011', placement: { regions: [0x0c00_2000n], spis: [114] }, irqFlags: [LEVEL], bus: { base: 0x0c00_0000n, size: 0x0200_0000n }, firstPhandle: 0x20 });
  const f = save('pl011.dtb', g.dtb);
  const dev = '/platform-bus@c000000/pl011@c002000';
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'dma-coherent']), '');
  assert.ok(tool('dtc', ['-I', 'dtb', '-O', 'dts', f]).includes('dma-coherent;'));
  assert.is(tool('fdtget', ['-t', 'x', f, dev, 'clocks']), '20 20');
  assert.is(tool('fdtget', ['-t', 's', f, dev, 'clock-names']), 'uartclk apb_pclk');
  assert.is(g.phandlesUsed, 1);
});

test('a clock that is not a fixed-clock is refused with DTNODE_CLOCK', () => {
  const f0 = save('factor-host.dtb', host);
  tool('fdtput', ['-t', 's', f0, '/apb-pclk', 'compatible', 'fixed-factor-clock']);
  assert.is(statusOf(() => guestNodeFor({ hostDtb: new Uint8Array(readFileSync(f0)), hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_0000n], spis: [1] }, irqFlags: [LEVEL] })), 'DTNODE_CLOCK');
});

test('inputs that would spill out of the transient scratch half are refused before the call', () => {
  const big = new Uint8Array(4 * 1024 * 1024 + 8);
  big.set(host);
  const e = (() => { try { guestNodeFor({ hostDtb: big, hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_0000n], spis: [1] }, irqFlags: [LEVEL] }); } catch (x) { return x as VfioError; } })();
  assert.is(e?.kind, 'bad-argument');
  assert.is(statusOf(() => hostNodeOfDevice(big, '9010000.pl031')), 'the host DTB and placement need more than the core\'s 4194304-byte transient scratch - pass the host DTB without padding (fdtput/dtc -p 0), or a smaller tree');
});

test('linear memory does not grow', () => {
  for (let i = 0; i < 200; i++) guestNodeFor({ hostDtb: host, hostNodePath: '/pl031@9010000', placement: { regions: [0x0c00_0000n], spis: [112] }, irqFlags: [LEVEL], bus: { base: 0x0c00_0000n, size: 0x0200_0000n } });
  assert.is(core().exports.memory.buffer.byteLength, memoryBefore);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
