// Runs INSIDE the lab guest: `vfiokit run` with QEMU's NVMe (vfio-pci) alone on the userspace IRQ
// path (KVM_SIGNAL_MSI), and with all three
// kinds together (the pl031 on vfio-amba, the virtio-mmio transport on vfio-platform, the NVMe and
// the edu on vfio-pci: two functions behind the SMMUv3, whose IOMMU space holds guest RAM once and
// is shared): the L2 guest's rtc-pl031 takes its alarms and its nvme driver reads the lab disk's
// pattern and writes and reads back; every device is left bound as it was and, for the run made in
// this process, the same fds are open before and after. Shared parts: test/support/vmm-run.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { openDevice } from '../../src/index';
import { openFds } from '../support/fds';
import { append, BASE, EDU, EDU_ID, checkNvme, checkPowerOff, checkRtc, checkSteps, diskSha256, driverOf, NVME, NVME_SYSFS, PL031, runCommand, runHere, skipReason, VIRTIO } from '../support/vmm-run';

test('vfiokit run with the NVMe alone on the userspace IRQ path (irqfd=off): each MSI-X message from the event loop by KVM_SIGNAL_MSI; the guest\'s nvme driver reads the pattern and writes and reads back', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const before = driverOf(NVME);
  // irqfd=off: the NVMe alone is covered on irqfds by the all-kinds run below, vmm-nvme and the
  // README's main job; here the PCI userspace path (the event loop forwards each vector's eventfd).
  const r = runCommand([...BASE(), '--device', `${NVME},irqfd=off`, ...append('l2.rtc=none', `l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}; random reads ${r.l.randread?.reads} with ${r.l.randread?.irqs} interrupts, ${r.l.randread?.iops} IOPS`);
  checkPowerOff(r);
  checkSteps(r, NVME);
  assert.match(r.err, new RegExp(`${NVME.replace(/[.:]/g, '\\$&')}: MSI/MSI-X by KVM_SIGNAL_MSI from the event loop, INTx by KVM_IRQ_LINE`), 'the userspace path was wired');
  checkNvme(r.l, diskSha256()!);
  assert.is(r.l.irqMode, 'msix', 'the guest\'s nvme driver used MSI-X');
  assert.ok(r.l.randread && r.l.randread.irqs >= r.l.randread.reads, `each of the ${r.l.randread?.reads} reads completed by an interrupt the VMM forwarded (${r.l.randread?.irqs})`);
  assert.is(driverOf(NVME), before, `${NVME} left on ${before}`);
});

test('vfiokit run with all three kinds together (and two PCI functions behind the IOMMU): the pl031\'s alarms and the NVMe\'s disk in one guest, every device bound as it was, no fd left', async () => {
  const why = skipReason() ?? (existsSync(NVME_SYSFS) && diskSha256() ? undefined : 'no NVMe or no vfiokit.disk_sha256= in L1');
  if (why) { console.log(`  !!! SKIPPED: ${why} !!!`); return; }
  const all = [PL031, VIRTIO, NVME, EDU];
  const before = all.map(driverOf);
  const fds = openFds();
  const r = await runHere([...BASE(), ...all.flatMap((d) => ['--device', d]), ...append(`l2.disk_sha256=${diskSha256()}`)]);
  console.log(`  run: ${(r.ms / 1000).toFixed(1)} s, exit ${r.code}`);
  checkPowerOff(r);
  for (const d of all) checkSteps(r, d);
  checkRtc(r.l);
  checkNvme(r.l, diskSha256()!);
  // The second IOMMU-backed function: guest RAM mapped for it, or found already mapped in the
  // IOMMU space it shares with the NVMe (never a second mapping refused with EEXIST).
  assert.match(r.err, new RegExp(`${EDU.replace(/[.:]/g, '\\$&')}: guest RAM (mapped for DMA|already mapped for DMA in the IOMMU space it shares with ${NVME.replace(/[.:]/g, '\\$&')})`), 'the edu\'s DMA step');
  assert.ok(r.l.pci.some((p) => p.id === EDU_ID), `the guest enumerates the edu (${EDU_ID}) beside the NVMe: ${r.l.pci.map((p) => `${p.bdf} ${p.id}`).join(', ')}`);
  assert.equal(all.map(driverOf), before, 'each device on the driver it had');
  assert.equal(openFds(), fds, 'the same fds open in the VMM\'s process before and after');
  for (const d of [PL031, NVME, EDU]) openDevice(d).close();   // and each opens again
});

test.run();
