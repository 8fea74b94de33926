// vfiokit dt, offline: the inspect reports and the host DTB that the lab's real kernel gave
// (test/fixtures/lab/, captured with `npm run lab -- 'vfiokit inspect DEV --json; base64
// /sys/firmware/fdt'` and the DTB repacked by dtc without padding) turned into guest nodes, each
// decompiled by dtc and read back with fdtget.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDt } from '../../../src/cli/dt';
import { VfioError } from '../../../src/errors';
import { UsageError } from '../../../src/cli/args';

const FIX = 'test/fixtures/lab';
const info = (dev: string) => join(FIX, `inspect-${dev.replace(/:/g, '-')}.json`);
const dir = mkdtempSync(join(tmpdir(), 'vfiokit-dt-'));

async function dtb(dev: string, extra: string[] = []): Promise<string> {
  const out = join(dir, `${dev}.dtb`);
  const code = await runDt([dev, '--info', info(dev), '--host-dtb', join(FIX, 'host.dtb'), '--mmio-base', '0xc000000', '--spi', '112', '--format', 'dtb', '-o', out, ...extra]);
  assert.is(code, 0);
  const dtc = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', out], { encoding: 'utf8' });
  assert.is(dtc.status, 0, `dtc refused the output: ${dtc.stderr}`);
  return out;
}
const get = (file: string, node: string, prop: string, type = '') =>
  spawnSync('fdtget', [...(type ? ['-t', type] : []), file, node, prop], { encoding: 'utf8' }).stdout.trim();

test('pl031 (AMBA): reg at the bus base, a level SPI from --spi, its apb_pclk copied', async () => {
  const f = await dtb('9010000.pl031');
  const node = '/platform-bus@c000000/pl031@c000000';
  assert.is(get(f, node, 'compatible'), 'arm,pl031 arm,primecell');
  assert.is(get(f, node, 'reg', 'x'), '0 c000000 0 1000');
  assert.is(get(f, node, 'interrupts'), '0 112 4', 'GIC SPI 112, level-high (the IRQ is AUTOMASKED)');
  const clock = get(f, node, 'clocks');
  assert.is(get(f, '/apb-pclk', 'phandle'), clock, 'the clock points at the copied fixed-clock');
  assert.is(get(f, '/apb-pclk', 'compatible'), 'fixed-clock');
});

test('virtio_mmio (platform): the 0x200-byte region takes a whole page on the bus, one edge SPI', async () => {
  const f = await dtb('a000000.virtio_mmio', ['--spi', '120']);
  const node = '/platform-bus@c000000/virtio_mmio@c000000';
  assert.is(get(f, node, 'compatible'), 'virtio,mmio');
  assert.is(get(f, node, 'reg', 'x'), '0 c000000 0 200', 'reg keeps the host size');
  const [, spi, type] = get(f, node, 'interrupts').split(' ');
  assert.is(spi, '120');
  assert.ok(type === '1' || type === '4', `trigger ${type}`);
});

test('edu (PCI): the PCI-binding node with its IDs and config address 00:02.0', async () => {
  const f = await dtb('0000:00:02.0');
  assert.is(get(f, '/pci/pci1234,11e8@2', 'compatible'), 'pci1234,11e8 pciclass,00ff00');
  assert.is(get(f, '/pci/pci1234,11e8@2', 'reg', 'x'), '1000 0 0 0 0');
});

test('a platform device without --mmio-base, a report of another device, a bad format: clear errors', async () => {
  const kind = async (args: string[]) => { try { await runDt(args); return 'ok'; } catch (e) { return e instanceof UsageError ? 'usage' : e instanceof VfioError ? e.kind : String(e); } };
  assert.is(await kind(['9010000.pl031', '--info', info('9010000.pl031'), '--host-dtb', join(FIX, 'host.dtb')]), 'usage');
  assert.is(await kind(['9010000.pl031', '--info', info('a000000.virtio_mmio'), '--mmio-base', '0', '--spi', '1']), 'bad-argument');
  assert.is(await kind(['9010000.pl031', '--format', 'yaml']), 'usage');
  assert.is(await kind(['../etc', '--info', 'x']), 'usage');
  assert.is(await kind(['9010000.pl031', '--info', info('9010000.pl031'), '--host-dtb', '/nonexistent', '--mmio-base', '0', '--spi', '1']), 'not-found');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
