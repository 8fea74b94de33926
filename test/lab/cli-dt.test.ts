// Runs INSIDE the lab guest: `vfiokit dt` on the three lab devices, live (the device opened through
// VFIO, the host node from /sys/firmware/fdt) and offline (from the `inspect --json` it just saved):
// both give the same bytes, and the node reads back with the expected reg and interrupts.
// (dtc is not in the guest; test/unit/api/cli-dt.test.ts feeds the same real reports to dtc.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseFdt } from '../../src/fdt/index';

const PLACE = ['--mmio-base', '0xc000000', '--spi', '112'];
const vfiokit = (...args: string[]) => execFileSync('vfiokit', args, { encoding: 'buffer' });

function bothWays(dev: string): Uint8Array {
  const live = vfiokit('dt', dev, ...PLACE, '--format', 'dtb');
  const json = `/tmp/${dev}.json`;
  writeFileSync(json, vfiokit('inspect', dev, '--json'));
  const offline = vfiokit('dt', dev, ...PLACE, '--format', 'dtb', '--info', json, '--host-dtb', '/sys/firmware/fdt');
  assert.equal([...offline], [...live], 'offline from the saved report == live');
  return new Uint8Array(live);
}

test('pl031: live and offline agree; reg at the bus base, SPI 112 level-high', () => {
  const fdt = parseFdt(bothWays('9010000.pl031'));
  const node = fdt.node('/platform-bus@c000000/pl031@c000000');
  assert.ok(node, 'the pl031 node is under the platform bus');
  assert.equal(node.prop('interrupts').u32s(), [0, 112, 4]);
  assert.equal(node.reg().map((r) => [r.address, r.size]), [[0xc000000n, 0x1000n]]);
});

test('virtio_mmio: live and offline agree; one node with one interrupt', () => {
  const fdt = parseFdt(bothWays('a000000.virtio_mmio'));
  const node = fdt.node('/platform-bus@c000000/virtio_mmio@c000000');
  assert.ok(node);
  assert.is(node.prop('interrupts').u32s()[1], 112);
});

test('edu: live and offline agree; the PCI-binding node with the IDs sysfs gives', () => {
  const fdt = parseFdt(bothWays('0000:00:02.0'));
  const node = fdt.node('/pci/pci1234,11e8@2');
  assert.ok(node);
  assert.equal(node.prop('compatible').strings(), ['pci1234,11e8', 'pciclass,00ff00']);
  assert.is(readFileSync('/sys/bus/pci/devices/0000:00:02.0/vendor', 'utf8').trim(), '0x1234');
});

test.run();
