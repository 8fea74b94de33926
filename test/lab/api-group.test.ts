// Runs INSIDE the lab guest: a real multi-device IOMMU group. Two edu devices behind QEMU's
// conventional pci-bridge (lab/boot.mjs, docs/LAB.md) share one group with the bridge; both start
// on no driver. bindGroup gives both to vfio-pci and leaves the bridge, a member opens and does a
// DMA through the SMMUv3 (the bridge's requester ID, as both QEMU and Linux alias it), and
// unbindGroup puts the group back on no driver. vfio-pci's refusal of the bridge, which is why
// bindGroup leaves bridges alone, is shown on the real kernel too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { execFileSync } from 'node:child_process';
import { allocDma, bind, bindGroup, findDevice, openDevice, unbindGroup, VfioError } from '../../src/index';
import { DMA_TO_RAM, EDU_BUF, ID, eduDma, enableBusMaster } from '../support/edu';
import { countFds } from '../support/fds';

const BRIDGE = '0000:00:03.0', EDU_A = '0000:01:01.0', EDU_B = '0000:01:02.0';
const dev = (name: string) => `/sys/bus/pci/devices/${name}`;
const driverOf = (name: string) => existsSync(`${dev(name)}/driver`) ? basename(readlinkSync(`${dev(name)}/driver`)) : null;
const groupOf = (name: string) => Number(basename(readlinkSync(`${dev(name)}/iommu_group`)));

test('the bridge and the two edu devices behind it are one IOMMU group, all on no driver at boot', () => {
  const g = groupOf(EDU_A);
  assert.equal(readdirSync(`/sys/kernel/iommu_groups/${g}/devices`).sort(), [BRIDGE, EDU_A, EDU_B]);
  assert.is(readFileSync(`${dev(BRIDGE)}/class`, 'utf8').trim().slice(0, 6), '0x0604', 'a PCI-to-PCI bridge');
  assert.is(readFileSync(`${dev(EDU_B)}/device`, 'utf8').trim(), '0x11e8', 'edu');
  assert.equal([driverOf(BRIDGE), driverOf(EDU_A), driverOf(EDU_B)], [null, null, null]);
  assert.is.not(groupOf('0000:00:02.0'), g, 'edu at 00:02.0 keeps a group of its own');
});

test('vfio-pci refuses the bridge itself: bind fails and leaves it on no driver, override cleared', () => {
  assert.throws(() => bind(BRIDGE), (e: unknown) => e instanceof VfioError && e.kind === 'not-supported' && /vfio-pci did not take the device/.test(e.message));
  assert.is(driverOf(BRIDGE), null);
  assert.is(findDevice(BRIDGE).driverOverride, null);
});

test('bindGroup: both edu devices to vfio-pci, the bridge left; a member opens (type1) and DMAs through the SMMU; unbindGroup puts the group back', async () => {
  const before = countFds();
  const g = groupOf(EDU_B);
  const r = bindGroup(EDU_B);
  try {
    assert.is(r.group, g);
    assert.equal(r.devices.map((d) => [d.device, d.previousDriver, d.driver]), [[EDU_A, null, 'vfio-pci'], [EDU_B, null, 'vfio-pci']]);
    assert.equal(r.left.map((l) => [l.device, l.driver]), [[BRIDGE, null]]);
    assert.equal([driverOf(EDU_A), driverOf(EDU_B), driverOf(BRIDGE)], ['vfio-pci', 'vfio-pci', null]);
    assert.ok(existsSync(`/dev/vfio/${g}`), `/dev/vfio/${g}`);
    // Bound again: nothing changes.
    assert.equal(bindGroup(EDU_A).devices.map((d) => d.previousDriver), ['vfio-pci', 'vfio-pci']);

    const d = openDevice(EDU_A);
    const buf = allocDma(4096);
    try {
      assert.is(d.iommu, 'type1');
      assert.is(d.group, g);
      const bar = d.regions[0]!.map();
      assert.is(bar.read32(ID), 0x010000ed, 'edu behind the bridge answers through the mapping');
      enableBusMaster(d);
      d.mapDma({ iova: 0x100000n, buffer: buf.bytes, size: 4096n });
      // A pattern to the device through the IOVA and back into the zeroed buffer.
      const pattern = Array.from({ length: 16 }, (_, i) => 0xa0 + i);
      buf.bytes.set(pattern, 0);
      await eduDma(bar, 0x100000n, EDU_BUF, 16, 0);
      buf.bytes.fill(0, 0, 16);
      await eduDma(bar, EDU_BUF, 0x100000n, 16, DMA_TO_RAM);
      assert.equal([...buf.bytes.subarray(0, 16)], pattern, 'a round trip through the IOVA, behind the bridge');
    } finally { d.close(); buf.close(); }
  } finally {
    const u = unbindGroup(EDU_A);
    assert.equal(u.devices.map((x) => [x.device, x.previousDriver, x.driver]), [[EDU_A, 'vfio-pci', null], [EDU_B, 'vfio-pci', null]]);
  }
  assert.equal([driverOf(BRIDGE), driverOf(EDU_A), driverOf(EDU_B)], [null, null, null], 'back on no driver');
  assert.equal([findDevice(EDU_A).driverOverride, findDevice(EDU_B).driverOverride], [null, null]);
  assert.is(countFds(), before);
});

test('vfiokit bind --group / list / unbind --group: the CLI on the real group', () => {
  const out = execFileSync('vfiokit', ['bind', '--group', EDU_A], { encoding: 'utf8' });
  try {
    assert.match(out, new RegExp(`^IOMMU group ${groupOf(EDU_A)}:\\n  ${EDU_A}: no driver -> vfio-pci\\n  ${EDU_B}: no driver -> vfio-pci\\n  ${BRIDGE}: left on no driver`));
    const rows = execFileSync('vfiokit', ['list'], { encoding: 'utf8' }).split('\n');
    const at = rows.findIndex((l) => l.includes(BRIDGE));
    assert.equal(rows.slice(at, at + 3).map((l) => l.split(/\s+/)[1]), [BRIDGE, EDU_A, EDU_B], 'the group on adjacent rows');
    assert.ok(rows.slice(at, at + 3).every((l) => l.startsWith(`${groupOf(EDU_A)} `)), rows.join('\n'));
  } finally {
    execFileSync('vfiokit', ['unbind', '--group', EDU_B], { encoding: 'utf8' });
  }
  assert.equal([driverOf(EDU_A), driverOf(EDU_B)], [null, null]);
});

test.run();
