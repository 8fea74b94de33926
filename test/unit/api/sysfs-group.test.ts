// bindGroup over the fake sysfs with a fake kernel behind it (test/support/fake-sysfs.ts): a whole
// IOMMU group to VFIO, all or nothing. The lab test (test/lab/api-group.test.ts) does the same
// against the real kernel's group of two edu devices behind a conventional PCI bridge.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindGroup, findDevice, listDevices } from '../../../src/sysfs';
import { VfioError } from '../../../src/errors';
import { fakeKernel, makeFakeSysfs } from '../../support/fake-sysfs';
import { cli } from './cli-capture';

// Group 7: a conventional PCI bridge and three devices behind it, as the kernel groups them (the
// bridge cannot isolate them). Group 8: a device alone.
const tree = () => makeFakeSysfs([
  { bus: 'pci', name: '0000:00:03.0', group: 7, class: '0x060400', vendor: '1b36', device: '0001' },
  { bus: 'pci', name: '0000:01:01.0', group: 7, class: '0x00ff00', vendor: '1234', device: '11e8' },
  { bus: 'pci', name: '0000:01:02.0', group: 7, class: '0x020000', driver: 'e1000', driverOverride: 'e1000', vendor: '8086', device: '100e' },
  { bus: 'pci', name: '0000:01:03.0', group: 7, class: '0x00ff00', driver: 'edu-guest', vendor: '1234', device: '11e8' },
  { bus: 'pci', name: '0000:00:02.0', group: 8, class: '0x00ff00', driver: 'vfio-pci', vendor: '1234', device: '11e8' },
  { bus: 'amba', name: '9000000.pl011', driver: 'uart-pl011' },
]);
const state = (root: string, name: string) => {
  const d = findDevice(name, { sysfs: root });
  return [d.driver, d.driverOverride];
};

test('bindGroup binds every member of the group to vfio-pci and leaves the bridge as it is', () => {
  const s = tree();
  try {
    using k = fakeKernel(s.root);
    const r = bindGroup('0000:01:02.0', { sysfs: s.root });
    assert.is(r.group, 7);
    assert.equal(r.devices.map((d) => [d.device, d.previousDriver, d.driver]), [
      ['0000:01:01.0', null, 'vfio-pci'], ['0000:01:02.0', 'e1000', 'vfio-pci'], ['0000:01:03.0', 'edu-guest', 'vfio-pci']]);
    assert.equal(r.left.map((l) => [l.device, l.driver]), [['0000:00:03.0', null]]);
    assert.match(r.left[0]!.reason, /PCI bridge/);
    for (const n of ['0000:01:01.0', '0000:01:02.0', '0000:01:03.0']) assert.equal(state(s.root, n), ['vfio-pci', 'vfio-pci'], n);
    assert.not.ok(k.writes.some((w) => w.includes('0000:00:03.0')), 'nothing written for the bridge');
    assert.equal(state(s.root, '0000:00:02.0'), ['vfio-pci', null], 'the other group is untouched');
  } finally { s.dispose(); }
});

test('bindGroup when the third of three refuses: the first two are put back (driver and driver_override), the error says who and what', () => {
  const s = tree();
  try {
    using k = fakeKernel(s.root, { refuse: ['0000:01:03.0'] });
    let err: unknown;
    try { bindGroup('0000:01:01.0', { sysfs: s.root }); } catch (e) { err = e; }
    assert.ok(err instanceof VfioError, String(err));
    const e = err as VfioError;
    assert.is(e.kind, 'not-supported');
    assert.match(e.message, /^IOMMU group 7 \(4 devices\) not bound, 0000:01:03\.0 refused: 0000:01:03\.0: vfio-pci did not take the device/);
    assert.match(e.message, /put back: 0000:01:01\.0 \(no driver\), 0000:01:02\.0 \(e1000\)$/);
    assert.equal(state(s.root, '0000:01:01.0'), [null, null], 'no driver and no override, as before');
    assert.equal(state(s.root, '0000:01:02.0'), ['e1000', 'e1000'], 'its driver and its own override back');
    assert.equal(state(s.root, '0000:01:03.0'), ['edu-guest', null], 'the refusing one is back on its driver too');
    // The first device was bound before the third refused, then unbound again: the rollback is real.
    assert.ok(k.writes.includes('bus/pci/devices/0000:01:01.0/driver/unbind <- "0000:01:01.0"'), k.writes.join('\n'));
  } finally { s.dispose(); }
});

test('bindGroup of a group already on VFIO changes nothing', () => {
  const s = tree();
  try {
    using k = fakeKernel(s.root);
    const r = bindGroup('0000:00:02.0', { sysfs: s.root });
    assert.equal(r.devices, [{ device: '0000:00:02.0', bus: 'pci', previousDriver: 'vfio-pci', driver: 'vfio-pci' }]);
    assert.equal(k.writes, []);
  } finally { s.dispose(); }
});

test('a device the kernel never probed is in no group yet: bindGroup binds it first, then the rest of the group it joins', () => {
  // As in the lab: on a device-tree machine the SMMU takes a device into its group when a driver
  // probes it. 0000:02:01.0 was probed once (it is listed in group 9, on no driver); 0000:02:00.0 never was.
  const s = makeFakeSysfs([
    { bus: 'pci', name: '0000:02:00.0', class: '0x00ff00' },
    { bus: 'pci', name: '0000:02:01.0', class: '0x00ff00', group: 9 },
  ]);
  try {
    using _k = fakeKernel(s.root, { groupOnProbe: { '0000:02:00.0': 9 } });
    assert.is(findDevice('0000:02:00.0', { sysfs: s.root }).iommuGroup, null);
    const r = bindGroup('0000:02:00.0', { sysfs: s.root });
    assert.is(r.group, 9);
    assert.equal(r.devices.map((d) => [d.device, d.previousDriver, d.driver]), [['0000:02:00.0', null, 'vfio-pci'], ['0000:02:01.0', null, 'vfio-pci']]);
  } finally { s.dispose(); }
});

test('a device still in no group once on its VFIO driver: put back on its own driver, an error naming the way out', () => {
  const s = tree();
  try {
    using k = fakeKernel(s.root);
    assert.throws(() => bindGroup('9000000.pl011', { sysfs: s.root }), (e: unknown) => e instanceof VfioError && e.kind === 'not-supported'
      && /9000000\.pl011: is in no IOMMU group, even on vfio-amba \(put back on uart-pl011\) - .*enable_unsafe_noiommu_mode=1/.test(e.message));
    assert.equal(state(s.root, '9000000.pl011'), ['uart-pl011', null]);
    assert.ok(k.writes.includes('bus/amba/drivers_probe <- "9000000.pl011"'), 'it was tried');
  } finally { s.dispose(); }
});

test('vfiokit bind --group: one line per member and the bridge left; --json the GroupBindResult; a refusal exits 1', async () => {
  const s = tree();
  try {
    {
      using _k = fakeKernel(s.root, { refuse: ['0000:01:03.0'] });
      const no = await cli('bind', '--group', '0000:01:01.0', '--sysfs', s.root);
      assert.is(no.code, 1);
      assert.match(no.err, /^vfiokit bind: IOMMU group 7 \(4 devices\) not bound/);
    }
    using _k = fakeKernel(s.root);
    const r = await cli('bind', '--group', '0000:01:01.0', '--sysfs', s.root);
    assert.is(r.code, 0, r.err);
    assert.equal(r.out.trimEnd().split('\n'), [
      'IOMMU group 7:',
      '  0000:01:01.0: no driver -> vfio-pci',
      '  0000:01:02.0: e1000 -> vfio-pci',
      '  0000:01:03.0: edu-guest -> vfio-pci',
      '  0000:00:03.0: left on no driver (a PCI bridge: vfio-pci does not take bridges, and VFIO accepts one in the group as it is)',
    ]);
    const j = await cli('bind', '--group', '--json', '0000:01:01.0', '--sysfs', s.root);
    assert.equal(JSON.parse(j.out).devices.map((d: { previousDriver: string }) => d.previousDriver), ['vfio-pci', 'vfio-pci', 'vfio-pci']);
  } finally { s.dispose(); }
});

test('vfiokit unbind --group puts every VFIO-bound member back to its own driver (or none)', async () => {
  const s = tree();
  try {
    using _k = fakeKernel(s.root, { native: { '0000:01:02.0': 'e1000' } });
    bindGroup('0000:01:01.0', { sysfs: s.root });
    const r = await cli('unbind', '--group', '0000:01:03.0', '--sysfs', s.root);
    assert.is(r.code, 0, r.err);
    assert.equal(state(s.root, '0000:01:01.0'), [null, null]);
    assert.equal(state(s.root, '0000:01:02.0'), ['e1000', null], 'unbind clears the override: the kernel picks its own driver');
    assert.equal(state(s.root, '0000:01:03.0'), ['edu-guest', null]);
  } finally { s.dispose(); }
});

test('vfiokit list groups the table by IOMMU group: the members of a group on adjacent rows, no group last', async () => {
  const s = tree();
  try {
    const r = await cli('list', '--sysfs', s.root);
    assert.is(r.code, 0, r.err);
    const rows = r.out.trimEnd().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' '));
    assert.equal(rows, ['GROUP DEVICE', '7 0000:00:03.0', '7 0000:01:01.0', '7 0000:01:02.0', '7 0000:01:03.0', '8 0000:00:02.0', '- 9000000.pl011']);
    // --json keeps its documented order (bus, then name).
    const j = JSON.parse((await cli('list', '--json', '--sysfs', s.root)).out) as { name: string }[];
    assert.equal(j.map((d) => d.name), listDevices({ sysfs: s.root }).map((d) => d.name));
    assert.is(readFileSync(join(s.root, 'bus/pci/devices/0000:01:02.0/driver_override'), 'utf8'), 'e1000\n', 'listing wrote nothing');
  } finally { s.dispose(); }
});

test.run();
