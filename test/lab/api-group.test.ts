// Runs INSIDE the lab guest: a real multi-device IOMMU group. Two edu devices are functions 0 and 1
// of slot 04 (lab/boot.mjs, docs/LAB.md): conventional PCI functions without ACS, which the kernel
// puts in one group; both start on no driver. bindGroup gives both to vfio-pci, a member opens and
// does a DMA through the SMMUv3, and unbindGroup puts the group back on no driver. Leaving PCI
// bridges alone is unit-tested over the fake sysfs (the lab has no PCI-to-PCI bridge: docs/LAB.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { execFileSync } from 'node:child_process';
import { allocDma, bindGroup, findDevice, openDevice, unbindGroup } from '../../src/index';
import { DMA_TO_RAM, EDU_BUF, ID, eduDma, enableBusMaster } from '../support/edu';
import { countFds } from '../support/fds';

const EDU_A = '0000:00:04.0', EDU_B = '0000:00:04.1';
const dev = (name: string) => `/sys/bus/pci/devices/${name}`;
const driverOf = (name: string) => existsSync(`${dev(name)}/driver`) ? basename(readlinkSync(`${dev(name)}/driver`)) : null;
const groupOf = (name: string) => Number(basename(readlinkSync(`${dev(name)}/iommu_group`)));

test('the two edu functions of slot 04 are one IOMMU group, both on no driver at boot', () => {
  const g = groupOf(EDU_A);
  assert.equal(readdirSync(`/sys/kernel/iommu_groups/${g}/devices`).sort(), [EDU_A, EDU_B]);
  assert.is(readFileSync(`${dev(EDU_B)}/device`, 'utf8').trim(), '0x11e8', 'edu');
  assert.equal([driverOf(EDU_A), driverOf(EDU_B)], [null, null]);
  assert.equal([findDevice(EDU_A).driverOverride, findDevice(EDU_B).driverOverride], [null, null]);
  assert.is.not(groupOf('0000:00:02.0'), g, 'edu at 00:02.0 keeps a group of its own');
});

test('bindGroup: both edu functions to vfio-pci; a member opens (type1) and DMAs through the SMMU; unbindGroup puts the group back', async () => {
  const before = countFds();
  const g = groupOf(EDU_B);
  const r = bindGroup(EDU_B);
  try {
    assert.is(r.group, g);
    assert.equal(r.devices.map((d) => [d.device, d.previousDriver, d.driver]), [[EDU_A, null, 'vfio-pci'], [EDU_B, null, 'vfio-pci']]);
    assert.equal(r.left, []);
    assert.equal([driverOf(EDU_A), driverOf(EDU_B)], ['vfio-pci', 'vfio-pci']);
    assert.ok(existsSync(`/dev/vfio/${g}`), `/dev/vfio/${g}`);
    // Bound again: nothing changes.
    assert.equal(bindGroup(EDU_A).devices.map((d) => d.previousDriver), ['vfio-pci', 'vfio-pci']);

    const d = openDevice(EDU_A);
    const buf = allocDma(4096);
    try {
      assert.is(d.iommu, 'type1');
      assert.is(d.group, g);
      const bar = d.regions[0]!.map();
      assert.is(bar.read32(ID), 0x010000ed, 'function 0 answers through the mapping');
      enableBusMaster(d);
      d.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 4096n });
      // A pattern to the device through the IOVA and back into the zeroed buffer.
      const pattern = Array.from({ length: 16 }, (_, i) => 0xa0 + i);
      buf.bytes.set(pattern, 0);
      await eduDma(bar, 0x100000n, EDU_BUF, 16, 0);
      buf.bytes.fill(0, 0, 16);
      await eduDma(bar, EDU_BUF, 0x100000n, 16, DMA_TO_RAM);
      assert.equal([...buf.bytes.subarray(0, 16)], pattern, 'a round trip through the IOVA');
    } finally { d.close(); buf.close(); }
  } finally {
    const u = unbindGroup(EDU_A);
    assert.equal(u.devices.map((x) => [x.device, x.previousDriver, x.driver]), [[EDU_A, 'vfio-pci', null], [EDU_B, 'vfio-pci', null]]);
  }
  assert.equal([driverOf(EDU_A), driverOf(EDU_B)], [null, null], 'back on no driver');
  assert.equal([findDevice(EDU_A).driverOverride, findDevice(EDU_B).driverOverride], [null, null]);
  assert.is(countFds(), before);
});

test('vfiokit bind --group / list / unbind --group: the CLI on the real group', () => {
  const out = execFileSync('vfiokit', ['bind', '--group', EDU_A], { encoding: 'utf8' });
  try {
    assert.is(out, `IOMMU group ${groupOf(EDU_A)}:\n  ${EDU_A}: no driver -> vfio-pci\n  ${EDU_B}: no driver -> vfio-pci\n`);
    const rows = execFileSync('vfiokit', ['list'], { encoding: 'utf8' }).split('\n');
    const at = rows.findIndex((l) => l.includes(EDU_A));
    assert.equal(rows.slice(at, at + 2).map((l) => l.split(/\s+/)[1]), [EDU_A, EDU_B], 'the group on adjacent rows');
    assert.ok(rows.slice(at, at + 2).every((l) => l.startsWith(`${groupOf(EDU_A)} `)), rows.join('\n'));
  } finally {
    execFileSync('vfiokit', ['unbind', '--group', EDU_B], { encoding: 'utf8' });
  }
  assert.equal([driverOf(EDU_A), driverOf(EDU_B)], [null, null]);
});

test.run();
