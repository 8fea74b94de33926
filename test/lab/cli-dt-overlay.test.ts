// Runs INSIDE the lab guest: `vfiokit dt --format dtbo` from the live pl031 (opened through VFIO,
// the host node from the kernel's /sys/firmware/fdt). The overlay must carry the real host node's
// compatible strings and its fixed-clock, hold exactly the node `--format dtb` gives (the phandle
// aside, which an overlay numbers from 1), name it in __symbols__ and list the clock reference in
// __local_fixups__; offline from the saved report it is the same bytes. (fdtoverlay is not in the
// guest: test/unit/api/cli-dt-overlay.test.ts applies the overlay made from this lab's captured
// report and host DTB with fdtoverlay and compares the result with mergeFdt's tree.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseFdt, hostNodeOfDevice, type FdtNode } from '../../src/index';

const PL031 = '9010000.pl031';
const PLACE = ['--mmio-base', '0xc000000', '--spi', '112'];
const vfiokit = (...args: string[]) => new Uint8Array(execFileSync('vfiokit', args, { encoding: 'buffer' }));
const props = (n: FdtNode, skip: string[] = []) => Object.fromEntries(n.properties().filter((p) => !skip.includes(p.name)).map((p) => [p.name, [...p.bytes]]));

test('pl031: the live overlay holds the real host node\'s compatible and clock, the --format dtb node, the label and the fixup', () => {
  const dtbo = vfiokit('dt', PL031, ...PLACE, '--format', 'dtbo', '--label', 'rtc');
  const o = parseFdt(dtbo);
  assert.is(o.node('/fragment@0').prop('target-path').string(), '/');
  const path = o.node('/__symbols__').prop('rtc').string();
  assert.is(path, '/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000');
  const dev = o.node(path);
  assert.equal(o.node('/__local_fixups__/fragment@0/__overlay__/platform-bus@c000000/pl031@c000000').prop('clocks').u32s(), [0]);

  // Against the host's own node, as the kernel booted with it.
  const hostDtb = new Uint8Array(readFileSync('/sys/firmware/fdt'));
  const host = parseFdt(hostDtb);
  const hostNode = host.node(hostNodeOfDevice(hostDtb, PL031));
  assert.equal(dev.compatible(), hostNode.compatible());
  const hostClock = host.nodeByPhandle(hostNode.prop('clocks').u32())!;
  const clock = o.nodeByPhandle(dev.prop('clocks').u32())!;
  assert.is(clock.path, `/fragment@0/__overlay__/${hostClock.name}`);
  assert.equal(props(clock, ['phandle']), props(hostClock, ['phandle']), 'the fixed-clock copied as the host has it');

  // The same node as `vfiokit dt --format dtb` (the guest tree cli-dt checks), phandle aside.
  const tree = parseFdt(vfiokit('dt', PL031, ...PLACE, '--format', 'dtb'));
  assert.equal(props(dev, ['clocks']), props(tree.node('/platform-bus@c000000/pl031@c000000'), ['clocks']));
  assert.equal(props(o.node('/fragment@0/__overlay__/platform-bus@c000000')), props(tree.node('/platform-bus@c000000')));

  // Offline from the report just saved: the same bytes.
  writeFileSync('/tmp/pl031-overlay.json', vfiokit('inspect', PL031, '--json'));
  const offline = vfiokit('dt', PL031, ...PLACE, '--format', 'dtbo', '--label', 'rtc', '--info', '/tmp/pl031-overlay.json', '--host-dtb', '/sys/firmware/fdt');
  assert.equal([...offline], [...dtbo]);
});

test.run();
