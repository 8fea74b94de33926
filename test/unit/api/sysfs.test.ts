// Discovery and binding through sysfs, against a fake tree (the lab shows the real kernel).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listDevices, findDevice, findDeviceForOpen, validateDeviceName, bind, groupMembers } from '../../../src/sysfs';
import { VfioError } from '../../../src/errors';
import { makeFakeSysfs } from '../../support/fake-sysfs';

const lab = () => makeFakeSysfs([
  { bus: 'amba', name: '9010000.pl031', compatible: ['arm,pl031', 'arm,primecell'], ofName: '/pl031@9010000' },
  { bus: 'amba', name: '9000000.pl011', driver: 'uart-pl011', compatible: ['arm,pl011', 'arm,primecell'] },
  { bus: 'platform', name: 'a000000.virtio_mmio', driver: 'vfio-platform', group: 0, compatible: ['virtio,mmio'] },
  { bus: 'pci', name: '0000:00:02.0', driver: 'vfio-pci', group: 1, vendor: '1234', device: '11e8' },
  { bus: 'pci', name: '0000:00:03.0', driver: 'e1000e', group: 1, vendor: '8086', device: '10d3' },
], { 0: 'vfio-noiommu' });

test('listDevices reports bus, driver, group, noiommu and compatible strings', () => {
  const s = lab();
  try {
    const all = listDevices({ sysfs: s.root });
    assert.equal(all.map((d) => `${d.bus}/${d.name}`), ['amba/9000000.pl011', 'amba/9010000.pl031', 'pci/0000:00:02.0', 'pci/0000:00:03.0', 'platform/a000000.virtio_mmio']);
    const rtc = all.find((d) => d.name === '9010000.pl031')!;
    assert.is(rtc.driver, null);
    assert.is(rtc.driverOverride, null);
    assert.equal(rtc.compatible, ['arm,pl031', 'arm,primecell']);
    assert.is(rtc.ofNode, '/pl031@9010000');
    const virtio = all.find((d) => d.name === 'a000000.virtio_mmio')!;
    assert.is(virtio.iommuGroup, 0);
    assert.ok(virtio.noiommu);
    const edu = all.find((d) => d.name === '0000:00:02.0')!;
    assert.equal([edu.vendor, edu.device, edu.iommuGroup, edu.noiommu], ['0x1234', '0x11e8', 1, false]);
  } finally { s.dispose(); }
});

test('findDeviceForOpen answers what findDevice answers for every field openDevice uses, and refuses the same names', () => {
  const s = lab();
  try {
    for (const d of listDevices({ sysfs: s.root })) {
      const full = findDevice(d.name, { sysfs: s.root });
      assert.equal(findDeviceForOpen(d.name, { sysfs: s.root }), { name: full.name, bus: full.bus, driver: full.driver, iommuGroup: full.iommuGroup, noiommu: full.noiommu }, d.name);
    }
    for (const name of ['9999999.nothing', '../etc']) {
      let a: unknown, b: unknown;
      try { findDevice(name, { sysfs: s.root }); } catch (e) { a = e; }
      try { findDeviceForOpen(name, { sysfs: s.root }); } catch (e) { b = e; }
      assert.ok(a instanceof VfioError && b instanceof VfioError && a.kind === b.kind && a.message === b.message, `${name}: ${String(a)} / ${String(b)}`);
    }
  } finally { s.dispose(); }
});

test('names with a path or traversal are refused before any file is touched', () => {
  for (const bad of ['../etc', 'a/b', '', '.hidden', 'x'.repeat(129), 'a\nb', '9010000..pl031']) {
    assert.throws(() => validateDeviceName(bad), (e: unknown) => e instanceof VfioError && e.kind === 'bad-argument', bad);
  }
  assert.is(validateDeviceName('0000:00:02.0'), '0000:00:02.0');
});

test('findDevice names what to do when the device does not exist', () => {
  const s = lab();
  try {
    assert.throws(() => findDevice('9999.nothing', { sysfs: s.root }), (e: unknown) => e instanceof VfioError && e.kind === 'not-found' && /vfiokit list/.test(e.message));
  } finally { s.dispose(); }
});

test('groupMembers lists every device of a group with its driver', () => {
  const s = lab();
  try {
    assert.equal(groupMembers(1, { sysfs: s.root }), [{ name: '0000:00:02.0', driver: 'vfio-pci' }, { name: '0000:00:03.0', driver: 'e1000e' }]);
  } finally { s.dispose(); }
});

test('bind of a device already on its VFIO driver changes nothing', () => {
  const s = lab();
  try {
    const r = bind('a000000.virtio_mmio', { sysfs: s.root });
    assert.equal(r, { device: 'a000000.virtio_mmio', bus: 'platform', previousDriver: 'vfio-platform', driver: 'vfio-platform' });
    assert.is(readFileSync(join(s.root, 'bus/platform/drivers_probe'), 'utf8'), '');
  } finally { s.dispose(); }
});

test('bind that the driver does not take fails and leaves driver_override as it was', () => {
  const s = lab();
  try {
    // No kernel behind the fake: drivers_probe binds nothing, as when vfio-amba refuses a device.
    assert.throws(() => bind('9010000.pl031', { sysfs: s.root }), (e: unknown) => e instanceof VfioError && e.kind === 'not-supported' && /vfio-amba did not take/.test(e.message));
    assert.is(readFileSync(join(s.root, 'bus/amba/devices/9010000.pl031/driver_override'), 'utf8'), '\n');
    assert.is(readFileSync(join(s.root, 'bus/amba/drivers_probe'), 'utf8'), '9010000.pl031', 'it did try to probe');
  } finally { s.dispose(); }
});

test.run();
