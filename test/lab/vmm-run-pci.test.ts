// Runs INSIDE the lab guest: `vfiokit run` with QEMU's NVMe (vfio-pci) alone on the userspace IRQ
// path (KVM_SIGNAL_MSI), and with all three
// kinds together (the pl031 on vfio-amba, the virtio-mmio transport on vfio-platform, the NVMe and
// the edu on vfio-pci: two functions behind the SMMUv3, whose IOMMU space holds guest RAM once and
// is shared; and QEMU's ivshmem, whose 1 GiB 64-bit BAR only the 64-bit PCI window holds): the L2 guest's rtc-pl031 takes its alarms and its nvme driver reads the lab disk's
// pattern and writes and reads back; every device is left bound as it was and, for the run made in
// this process, the same fds are open before and after. Shared parts: test/support/vmm-run.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { openDevice, type VfioDevice } from '../../src/index';
import { BOARD } from '../../src/vmm-api';
import { openFds } from '../support/fds';
import { append, BASE, EDU, EDU_ID, IVSHMEM, IVSHMEM_ID, checkNvme, checkPowerOff, checkRtc, checkSteps, diskSha256, driverOf, NVME, NVME_SYSFS, PL031, runCommand, runHere, skipReason, VIRTIO } from '../support/vmm-run';

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
  const all = [PL031, VIRTIO, NVME, EDU, ...(existsSync(`/sys/bus/pci/devices/${IVSHMEM}`) ? [IVSHMEM] : [])];
  if (!all.includes(IVSHMEM)) console.log(`  !!! the 64-bit window part SKIPPED: no ${IVSHMEM} (ivshmem) in L1 !!!`);
  const before = all.map(driverOf);
  // The markers the guest writes at BAR 2's first and last 8 bytes (bar.c), cleared first.
  const bar2 = (f: (d: VfioDevice, size: bigint) => void): void => { const d = openDevice(IVSHMEM); try { f(d, d.regions[2]!.size); } finally { d.close(); } };
  if (all.includes(IVSHMEM)) bar2((d, size) => { d.regions[2]!.write(0n, 8, 0n); d.regions[2]!.write(size - 8n, 8, 0n); });
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
  if (all.includes(IVSHMEM)) {
    // A 1 GiB 64-bit BAR: more than the 32-bit window (0x2eff0000 bytes) holds, so the guest's
    // kernel placed it in the 64-bit window, the VMM backed it with a memslot there, and the
    // guest's writes reached the device's memory (read back here through VFIO after the run).
    const b = r.l.bars.find((x) => x.bdf === r.l.pci.find((p) => p.id === IVSHMEM_ID)?.bdf);
    console.log(`  ivshmem: ${b?.text ?? 'no bar line'}`);
    assert.ok(b, `the guest enumerates the ivshmem (${IVSHMEM_ID}) and reports its BAR 2: ${r.l.pci.map((p) => `${p.bdf} ${p.id}`).join(', ')}`);
    assert.is(b.size, 1n << 30n);
    assert.ok(b.addr >= BOARD.pciMmio64.base && b.addr + b.size <= BOARD.pciMmio64.base + BOARD.pciMmio64.size, `BAR 2 at 0x${b.addr.toString(16)}: inside the 64-bit window`);
    assert.ok(b.ok, b.text);
    bar2((d, size) => {
      assert.is(d.regions[2]!.read(0n, 8), b.first, 'the guest\'s first marker reached the device');
      assert.is(d.regions[2]!.read(size - 8n, 8), b.last, 'and its last, 1 GiB further');
    });
    // A load pair at its BAR 0 (trapped: smaller than a page) from an L2 process: no syndrome for
    // KVM (KVM_EXIT_ARM_NISV), so runVm answers with an external abort and says so in one
    // guest-access event; the L2 kernel kills the process with SIGBUS, and the run goes on.
    const ldp = r.l.ldps.find((x) => x.bdf === b.bdf);
    console.log(`  ivshmem BAR 0: ${ldp?.text ?? 'no ldp line'}`);
    assert.ok(ldp?.ok, `the child's load pair ended by SIGBUS (7): ${ldp?.text}`);
    const bar0 = r.l.views.get(b.bdf)?.bars.get(0);
    const events = r.err.split('\n').filter((x) => /that KVM could not decode \(KVM_EXIT_ARM_NISV/.test(x));
    console.log(`  undecodable: ${events.join(' | ')}`);
    assert.is(events.length, 1, 'one guest-access event');
    assert.ok(bar0 && events[0]!.includes(`at 0x${bar0.addr.toString(16)} `), `at BAR 0 (0x${bar0?.addr.toString(16)})`);
  }
  assert.equal(all.map(driverOf), before, 'each device on the driver it had');
  assert.equal(openFds(), fds, 'the same fds open in the VMM\'s process before and after');
  for (const d of [PL031, NVME, EDU]) openDevice(d).close();   // and each opens again (the ivshmem above)
});

test.run();
