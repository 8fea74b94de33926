// The sysfs-backed CLI commands against a fake tree: table and --json output, argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFakeSysfs } from '../../support/fake-sysfs';
import { cli } from './cli-capture';

const tree = () => makeFakeSysfs([
  { bus: 'amba', name: '9010000.pl031', driver: 'vfio-amba', group: 0, compatible: ['arm,pl031', 'arm,primecell'] },
  { bus: 'pci', name: '0000:00:02.0', driver: 'vfio-pci', group: 1, vendor: '1234', device: '11e8' },
], { 0: 'vfio-noiommu' });

test('list prints one row per device with its driver, group and IDs', async () => {
  const s = tree();
  try {
    const r = await cli('list', '--sysfs', s.root);
    assert.is(r.code, 0, r.err);
    const rows = r.out.trimEnd().split('\n');
    assert.match(rows[0]!, /^GROUP\s+DEVICE\s+BUS\s+DRIVER\s+VFIO\s+ID$/);
    assert.match(rows[1]!, /^noiommu-0\s+9010000\.pl031\s+amba\s+vfio-amba\s+yes\s+arm,pl031,arm,primecell$/);
    assert.match(rows[2]!, /^1\s+0000:00:02\.0\s+pci\s+vfio-pci\s+yes\s+1234:11e8$/);
  } finally { s.dispose(); }
});

test('list --json is the DeviceEntry array, PCI IDs as 0x hex strings (as inspect --json gives them)', async () => {
  const s = tree();
  try {
    const r = await cli('list', '--json', `--sysfs=${s.root}`);
    assert.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.map((d: { name: string; iommuGroup: number; noiommu: boolean }) => [d.name, d.iommuGroup, d.noiommu]), [['9010000.pl031', 0, true], ['0000:00:02.0', 1, false]]);
    assert.equal([j[1].vendor, j[1].device], ['0x1234', '0x11e8']);
  } finally { s.dispose(); }
});

test('an unknown option is a usage error: exit 2, the option named and the usage on stderr, nothing on stdout', async () => {
  const r = await cli('list', '--jsn');
  assert.is(r.code, 2);
  assert.is(r.out, '');
  assert.match(r.err, /^vfiokit list: Unknown option '--jsn'/);
  assert.match(r.err, /usage: vfiokit list \[--json\] \[--sysfs DIR\]/);
});

test('bind without a device name: exit 2 with the usage', async () => {
  const r = await cli('bind');
  assert.is(r.code, 2);
  assert.match(r.err, /^vfiokit bind: takes 1 argument, got 0/);
  assert.match(r.err, /usage: vfiokit bind \[--group\] <device>/);
});

test('bind and unbind a device of the fake tree: the result line, --json the result object', async () => {
  const s = makeFakeSysfs([{ bus: 'platform', name: 'a000000.virtio_mmio', driver: 'virtio-mmio' }]);
  try {
    // The fake kernel does not probe: vfio-platform never takes the device, so bind fails (exit 1)
    // with the VfioError's message and the device is left with its driver.
    const b = await cli('bind', 'a000000.virtio_mmio', '--sysfs', s.root);
    assert.is(b.code, 1);
    assert.match(b.err, /^vfiokit bind: a000000\.virtio_mmio: vfio-platform did not take the device/);
    const u = await cli('unbind', 'a000000.virtio_mmio', '--json', '--sysfs', s.root);
    assert.is(u.code, 0, u.err);
    assert.equal(JSON.parse(u.out), { device: 'a000000.virtio_mmio', bus: 'platform', previousDriver: 'virtio-mmio', driver: 'virtio-mmio' });
  } finally { s.dispose(); }
});

test.run();
