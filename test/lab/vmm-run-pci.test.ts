// Runs INSIDE the lab guest: `vfiokit run` with QEMU's NVMe (vfio-pci) alone, and with all three
// lab devices together (the pl031 on vfio-amba, the virtio-mmio transport on vfio-platform, the
// NVMe): the L2 guest's rtc-pl031 takes its alarms and its nvme driver reads the lab disk's
// pattern and writes and reads back; every device is left bound as it was and, for the run made in
// this process, the same fds are open before and after. Shared parts: test/support/vmm-run.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { openDevice } from '../../src/index';
import { openFds } from '../support/fds';
import { append, BASE, checkNvme, checkPowerOff, checkRtc, checkSteps, diskSha256, driverOf, NVME, NVME_SYSFS, PL031, runCommand, runHere, skipReason, VIRTIO } from '../support/vmm-run';

test('vfiokit run with the NVMe alone (vfio-pci): the guest\'s nvme driver reads the pattern and writes and reads back', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = driverOf(NVME);
  const r = runCommand([...BASE(), '--device', NVME, ...append('l2.rtc=none', `l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
  checkPowerOff(r);
  checkSteps(r, NVME, 'irqfd');
  checkNvme(r.l, diskSha256()!);
  assert.is(driverOf(NVME), before, `${NVME} left on ${before}`);
});

test('vfiokit run with all three together: the pl031\'s alarms and the NVMe\'s disk in one guest, every device bound as it was, no fd left', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = [PL031, VIRTIO, NVME].map(driverOf);
  const fds = openFds();
  const r = await runHere([...BASE(), '--device', PL031, '--device', VIRTIO, '--device', NVME, ...append(`l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
  checkPowerOff(r);
  for (const d of [PL031, VIRTIO, NVME]) checkSteps(r, d);
  checkRtc(r.l);
  checkNvme(r.l, diskSha256()!);
  assert.equal([PL031, VIRTIO, NVME].map(driverOf), before, 'each device on the driver it had');
  assert.equal(openFds(), fds, 'the same fds open in the VMM\'s process before and after');
  for (const d of [PL031, NVME]) openDevice(d).close();   // and each opens again
});

test.run();
