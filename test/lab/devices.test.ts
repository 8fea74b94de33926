// Runs INSIDE the lab guest (before the shim exists): the three lab devices are bound to their
// VFIO drivers and /dev/vfio, /dev/kvm look as docs/LAB.md says.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

const driverOf = (bus: string, dev: string): string => basename(readlinkSync(`/sys/bus/${bus}/devices/${dev}/driver`));
const EDU = '/sys/bus/pci/devices/0000:00:02.0';

test('pl031 at 9010000 is bound to vfio-amba', () => {
  assert.is(driverOf('amba', '9010000.pl031'), 'vfio-amba');
});

test('virtio_mmio at a000000 is bound to vfio-platform', () => {
  assert.is(driverOf('platform', 'a000000.virtio_mmio'), 'vfio-platform');
});

test('edu at 0000:00:02.0 is bound to vfio-pci', () => {
  assert.is(driverOf('pci', '0000:00:02.0'), 'vfio-pci');
});

test('/dev/vfio has a noiommu group for the platform and AMBA devices', () => {
  const groups = readdirSync('/dev/vfio');
  assert.ok(groups.some((g) => /^noiommu-\d+$/.test(g)), `groups: ${groups.join(' ')}`);
});

test('edu has a numeric IOMMU group behind the SMMUv3 and /dev/vfio has it', () => {
  const group = basename(readlinkSync(`${EDU}/iommu_group`));
  assert.match(group, /^\d+$/);
  assert.ok(existsSync(`/dev/vfio/${group}`), `/dev/vfio/${group} missing`);
});

test('edu is alone in its IOMMU group', () => {
  const members = readdirSync(`${EDU}/iommu_group/devices`);
  assert.equal(members, ['0000:00:02.0']);
});

test('/dev/vfio/vfio and /dev/kvm exist', () => {
  assert.ok(existsSync('/dev/vfio/vfio'));
  assert.ok(existsSync('/dev/kvm'));
});

test.run();
