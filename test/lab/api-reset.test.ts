// Runs INSIDE the lab guest: reset between guest runs. The lab's edu offers no VFIO_DEVICE_RESET
// (conventional PCI on the root bus: no FLR, no PM reset, no bus to reset), so reset() says
// 'not-supported'; the guest-visible half, PciConfig.reset() with the MSI-X emulation in its
// slot, is driven here from the edu's real config space (VFIO region 7): a guest run places and
// maps BAR0 and enables MSI, then the shadow is reset from the config read again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countFds } from '../support/fds';
import { openDevice, PciConfig, VfioError, VFIO_PCI_CONFIG_REGION_INDEX, type VfioDevice } from '../../src/index';
import { EDU } from '../support/edu';

function readConfig(dev: VfioDevice): Uint8Array {
  const r = dev.region(VFIO_PCI_CONFIG_REGION_INDEX);
  const b = new Uint8Array(256);
  const dv = new DataView(b.buffer);
  for (let off = 0; off < 256; off += 4) dv.setUint32(off, r.read32(off), true);
  return b;
}

test("the edu offers no device reset: reset() is 'not-supported' and says so", () => {
  const before = countFds();
  const dev = openDevice(EDU);
  try {
    assert.is(dev.info.reset, false);
    let err: unknown;
    try { dev.reset(); } catch (e) { err = e; }
    assert.ok(err instanceof VfioError && err.kind === 'not-supported', String(err));
  } finally { dev.close(); }
  assert.is(countFds(), before);
});

test("the shadow of the edu's real config: a guest run, then reset() unmaps BAR0, disables MSI and shows the function out of reset", () => {
  const before = countFds();
  const dev = openDevice(EDU);
  try {
    const sizes = dev.regions.slice(0, 7).map((r) => (r.ok ? r.size : 0n));
    const config = readConfig(dev);
    using shadow = new PciConfig(config, sizes, { device: EDU });
    const fresh = [0x04, 0x10, 0x40, 0x44].map((o) => shadow.read(o, 4));
    shadow.write(0x10, 4, 0x1000_0000);
    const run = shadow.write(0x04, 2, 0x0006);
    assert.equal(run.filter((a) => a.kind === 'map'), [{ kind: 'map', bar: 0, address: 0x1000_0000n, size: 0x100000n }]);
    const msi = shadow.read(0x40, 4) >>> 16; // the edu's MSI capability at 0x40
    shadow.write(0x44, 4, 0x0800_0040);
    shadow.write(0x42, 2, msi | 1);
    const acts = shadow.reset(readConfig(dev), sizes);
    assert.equal(acts, [
      { kind: 'unmap', bar: 0, address: 0x1000_0000n, size: 0x100000n },
      { kind: 'msi-update', offset: 0x40, control: msi & ~1 },
    ]);
    assert.equal([0x04, 0x10, 0x40, 0x44].map((o) => shadow.read(o, 4)), fresh, 'COMMAND, BAR0, MSI control and address as at the start');
    assert.not.ok(shadow.bar(0).mapped);
  } finally { dev.close(); }
  assert.is(countFds(), before);
});

test.run();
