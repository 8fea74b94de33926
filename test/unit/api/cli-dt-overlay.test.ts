// vfiokit dt --format dtbo (guestOverlayFor): the guest node as a device-tree overlay for crosvm's
// --device-tree-overlay. Debian's fdtoverlay (libfdt's overlay code, an independent reader) applies
// the produced .dtbo onto a board DTB, and the result must be, node for node and property for
// property (dtc -s sorts both), the tree our own mergeFdt makes of the same board and guestNodeFor's
// node; __symbols__ must map the label to the device node. Boards: the lab host's QEMU virt DTB
// (test/fixtures/lab/host.dtb) without the nodes the guest tree brings (its apb-pclk, its
// platform bus, the pl031 itself), and a small board dtc compiles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestNodeFor, guestOverlayFor, mergeFdt, fdtMaxPhandle, parseFdt, VfioError } from '../../../src/index';
import { cli } from './cli-capture';

const FIX = 'test/fixtures/lab';
const dir = mkdtempSync(join(tmpdir(), 'vfiokit-dtbo-'));
const PLACE = ['--mmio-base', '0xc000000', '--spi', '112'];

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
const file = (name: string, bytes?: Uint8Array) => { const p = join(dir, name); if (bytes) writeFileSync(p, bytes); return p; };
const read = (p: string) => new Uint8Array(readFileSync(p));
/** The tree as dtc prints it with nodes and properties sorted (so the order nodes were added in
 *  does not count). */
const sortedDts = (p: string) => tool('dtc', ['-q', '-s', '-I', 'dtb', '-O', 'dts', p]);

/** The lab host's DTB without what the guest tree brings, as a VMM's board would be. */
function virtBoard(): string {
  const p = file('virt-board.dtb');
  copyFileSync(join(FIX, 'host.dtb'), p);
  tool('fdtput', ['-r', p, '/apb-pclk', '/platform-bus@c000000', '/pl031@9010000']);
  return p;
}

/** Applies `dtbo` to `board` with fdtoverlay; checks the label; returns the result without its
 *  __symbols__ (which our merged tree does not have). */
function applied(board: string, dtbo: string, label: string, target: string): string {
  const out = file(`applied-${label}.dtb`);
  tool('fdtoverlay', ['-i', board, '-o', out, dtbo]);
  assert.is(tool('fdtget', [out, '/__symbols__', label]), target, 'the label names the applied device node');
  tool('fdtput', ['-r', out, '/__symbols__']);
  return out;
}

test('pl031 (AMBA): fdtoverlay applies the dtbo onto the virt board and gives exactly our merged tree; the clock reference is fixed up', async () => {
  const dtbo = file('pl031.dtbo');
  const r = await cli('dt', '9010000.pl031', '--info', join(FIX, 'inspect-9010000.pl031.json'), '--host-dtb', join(FIX, 'host.dtb'), ...PLACE, '--format', 'dtbo', '--label', 'rtc', '-o', dtbo);
  assert.is(r.code, 0, r.err);
  // The overlay structure fdtoverlay and crosvm read.
  assert.is(tool('fdtget', [dtbo, '/fragment@0', 'target-path']), '/');
  assert.is(tool('fdtget', [dtbo, '/__symbols__', 'rtc']), '/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000');
  assert.is(tool('fdtget', [dtbo, '/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000', 'compatible']), 'arm,pl031 arm,primecell');
  assert.is(tool('fdtget', [dtbo, '/__local_fixups__/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000', 'clocks']), '0', 'the phandle at byte 0 of clocks');

  const board = virtBoard();
  const result = applied(board, dtbo, 'rtc', '/platform-bus@c000000/pl031@c000000');
  const base = read(board);
  const node = guestNodeFor({
    hostDtb: read(join(FIX, 'host.dtb')), deviceName: '9010000.pl031', placement: { regions: [0xc000000n], spis: [112] }, irqFlags: [7],
    bus: { base: 0xc000000n, size: 0x2000000n }, firstPhandle: fdtMaxPhandle(base) + 1,
  });
  const merged = file('pl031-merged.dtb', mergeFdt(base, node.dtb, '/'));
  assert.fixture(sortedDts(result), sortedDts(merged));
  // And the reference resolves: clocks names the copied fixed-clock.
  assert.is(tool('fdtget', [result, '/platform-bus@c000000/pl031@c000000', 'clocks']), tool('fdtget', [result, '/apb-pclk', 'phandle']));
});

test('virtio_mmio (platform, no clocks): the same equality, and no __local_fixups__ at all', async () => {
  const dtbo = file('virtio.dtbo');
  const r = await cli('dt', 'a000000.virtio_mmio', '--info', join(FIX, 'inspect-a000000.virtio_mmio.json'), '--host-dtb', join(FIX, 'host.dtb'), ...PLACE, '--format', 'dtbo', '--label', 'virtio_blk0', '-o', dtbo);
  assert.is(r.code, 0, r.err);
  assert.not.ok(parseFdt(read(dtbo)).findNode('/__local_fixups__'));
  const board = virtBoard();
  const result = applied(board, dtbo, 'virtio_blk0', '/platform-bus@c000000/virtio_mmio@c000000');
  const irq = JSON.parse(readFileSync(join(FIX, 'inspect-a000000.virtio_mmio.json'), 'utf8')).irqs[0].flags as number;
  const node = guestNodeFor({ hostDtb: read(join(FIX, 'host.dtb')), deviceName: 'a000000.virtio_mmio', placement: { regions: [0xc000000n], spis: [112] }, irqFlags: [irq], bus: { base: 0xc000000n, size: 0x2000000n } });
  assert.fixture(sortedDts(result), sortedDts(file('virtio-merged.dtb', mergeFdt(read(board), node.dtb, '/'))));
});

test('guestOverlayFor with two clocks onto a board that has phandles of its own: both references fixed up, the tree equals the merge', () => {
  const host = file('twoclk-host.dtb');
  tool('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', host, writeDts('twoclk-host.dts', `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  dmaclk: clk-dma { compatible = "fixed-clock"; #clock-cells = <0>; clock-frequency = <250000000>; };
  ptpclk: clk-ptp { compatible = "fixed-clock"; #clock-cells = <0>; clock-frequency = <125000000>; };
  dma@e0700000 {
    compatible = "acme,two-clock-dma";
    reg = <0 0xe0700000 0 0x10000>;
    interrupts = <0 325 4>, <0 346 1>;
    clocks = <&dmaclk>, <&ptpclk>;
    clock-names = "dma_clk", "ptp_clk";
  };
};`)]);
  const board = file('small-board.dtb');
  tool('dtc', ['-q', '-I', 'dts', '-O', 'dtb', '-o', board, writeDts('small-board.dts', `/dts-v1/;
/ {
  #address-cells = <2>; #size-cells = <2>;
  interrupt-parent = <&gic>;
  gic: intc@8000000 { compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <3>; reg = <0 0x8000000 0 0x10000>; };
  memory@40000000 { device_type = "memory"; reg = <0 0x40000000 0 0x8000000>; };
};`)]);
  const req = {
    hostDtb: read(host), hostNodePath: '/dma@e0700000', placement: { regions: [0x0c00_0000n], spis: [10, 11] },
    irqFlags: [7, 1], bus: { base: 0x0c00_0000n, size: 0x0200_0000n },
  };
  const o = guestOverlayFor({ ...req, label: 'eth0' });
  assert.is(o.targetPath, '/platform-bus@c000000/dma@c000000');
  assert.is(o.symbolPath, '/fragment@0/__overlay__/platform-bus@c000000/dma@c000000');
  assert.is(o.hostNodePath, '/dma@e0700000');
  const dtbo = file('twoclk.dtbo', o.dtbo);
  assert.is(tool('fdtget', [dtbo, `/__local_fixups__/fragment@0/__overlay__${o.targetPath}`, 'clocks']), '0 4', 'two phandles, at bytes 0 and 4');
  const result = applied(board, dtbo, 'eth0', o.targetPath);
  const merged = file('twoclk-merged.dtb', mergeFdt(read(board), guestNodeFor({ ...req, firstPhandle: fdtMaxPhandle(read(board)) + 1 }).dtb, '/'));
  assert.fixture(sortedDts(result), sortedDts(merged));
  assert.is(tool('fdtget', [result, o.targetPath, 'clocks']), `${tool('fdtget', [result, '/clk-dma', 'phandle'])} ${tool('fdtget', [result, '/clk-ptp', 'phandle'])}`);
});

function writeDts(name: string, text: string): string { return file(name, new TextEncoder().encode(text)); }

test('dt --format dtbo usage errors: no --label, --label without dtbo, a label that is not one, a PCI device (exit 2)', async () => {
  const pl031 = ['dt', '9010000.pl031', '--info', join(FIX, 'inspect-9010000.pl031.json'), '--host-dtb', join(FIX, 'host.dtb'), ...PLACE];
  const cases: [string[], RegExp][] = [
    [[...pl031, '--format', 'dtbo'], /--format dtbo needs --label NAME/],
    [[...pl031, '--label', 'rtc'], /--label names the node of an overlay: give it with --format dtbo/],
    [[...pl031, '--format', 'dtbo', '--label', '9rtc'], /--label: '9rtc' is not a device-tree label/],
    [[...pl031, '--format', 'dtbo', '--label', 'x'.repeat(32)], /is not a device-tree label/],
    [['dt', '0000:00:02.0', '--info', join(FIX, 'inspect-0000-00-02.0.json'), '--format', 'dtbo', '--label', 'edu'], /0000:00:02\.0 is a PCI device: --format dtbo is for platform and AMBA devices/],
  ];
  for (const [argv, msg] of cases) {
    const r = await cli(...argv);
    assert.is(r.code, 2, argv.join(' '));
    assert.match(r.err, msg);
  }
  assert.ok(await cli(...pl031, '--format', 'dtbo', '--label', 'x'.repeat(31), '-o', file('long.dtbo')).then((r) => r.code === 0), '31 characters is the limit, and fits');
});

test('guestOverlayFor refuses a label with a path in it before generating anything', () => {
  assert.throws(() => guestOverlayFor({ hostDtb: new Uint8Array(8), deviceName: 'x', placement: { regions: [], spis: [] }, irqFlags: [], label: 'a/b' }), (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
